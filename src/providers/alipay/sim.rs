//! A simulator of Alipay's gateway that speaks the same bytes as the real one (it reads requests
//! and writes answers and notifications with [`protocol`], the adapter's own code): it verifies
//! each request with the app's public key, signs with its own "Alipay" key, keeps orders, and has
//! a phone: `POST /phone/pay` (form `qr_code=…`) pays an order's QR code, then the signed
//! notification is posted to the order's `notify_url` (retried until it is answered `success`).
//!
//! `kiosk sim alipay --listen ADDR --keys DIR` runs it (the keys are read from DIR, or made there
//! at the first start); tests use [`spawn`].
//!
//! | route | |
//! | --- | --- |
//! | `POST /gateway.do` | `alipay.trade.precreate`, `alipay.trade.query`, `alipay.trade.refund` |
//! | `POST /phone/pay` | form `qr_code`: pay the order (the demo's phone); answers JSON |
//! | `GET /healthz` | `ok` |

use crate::providers::sim_serve::{self, ServeError};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::protocol::{self, Notification, SignKey, VerifyKey};
use crate::domain::Fen;

/// How often a notification is posted before the simulator gives up.
pub const NOTIFY_ATTEMPTS: u32 = 8;
/// The wait before the second attempt (doubled each time).
pub const NOTIFY_FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// The simulator's keys: the app's key pair (the platform signs with the private half; the
/// simulator verifies with the public) and "Alipay's" (the simulator signs; the platform
/// verifies with the public half).
#[derive(Clone, Debug)]
pub struct SimKeys {
    pub app: SignKey,
    pub alipay: SignKey,
}

pub const APP_PRIVATE_KEY_FILE: &str = "app_private_key.pem";
pub const APP_PUBLIC_KEY_FILE: &str = "app_public_key.pem";
pub const ALIPAY_PRIVATE_KEY_FILE: &str = "alipay_private_key.pem";
pub const ALIPAY_PUBLIC_KEY_FILE: &str = "alipay_public_key.pem";

impl SimKeys {
    pub fn generate() -> SimKeys {
        SimKeys {
            app: SignKey::generate(),
            alipay: SignKey::generate(),
        }
    }

    /// Read the keys from `dir`, or make them there (private keys mode 0600) when absent.
    pub fn load_or_create(dir: &Path) -> Result<SimKeys, protocol::ProtocolError> {
        let app = dir.join(APP_PRIVATE_KEY_FILE);
        let ali = dir.join(ALIPAY_PRIVATE_KEY_FILE);
        if app.exists() && ali.exists() {
            return Ok(SimKeys {
                app: SignKey::from_file(&app)?,
                alipay: SignKey::from_file(&ali)?,
            });
        }
        let keys = SimKeys::generate();
        keys.write(dir)?;
        Ok(keys)
    }

    /// Write the four PEM files into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), protocol::ProtocolError> {
        let io =
            |e: std::io::Error| protocol::ProtocolError::Key(format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        let private = |name: &str, text: String| -> Result<(), protocol::ProtocolError> {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(io)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
            Ok(())
        };
        private(APP_PRIVATE_KEY_FILE, self.app.to_pem())?;
        private(ALIPAY_PRIVATE_KEY_FILE, self.alipay.to_pem())?;
        std::fs::write(
            dir.join(APP_PUBLIC_KEY_FILE),
            self.app.verify_key().to_pem(),
        )
        .map_err(io)?;
        std::fs::write(
            dir.join(ALIPAY_PUBLIC_KEY_FILE),
            self.alipay.verify_key().to_pem(),
        )
        .map_err(io)?;
        Ok(())
    }
}

/// What becomes of the signed notification when the phone pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// Posted to the order's `notify_url`, again until it is answered `success`.
    Post,
    /// Lost on the way (never posted): only an order query finds the money.
    Lose,
}

/// One order the simulator keeps.
#[derive(Debug, Clone)]
pub struct SimOrder {
    pub out_trade_no: String,
    pub amount: Fen,
    pub qr_code: String,
    pub notify_url: Option<String>,
    /// `WAIT_BUYER_PAY`, `TRADE_SUCCESS`, `TRADE_CLOSED` (fully refunded).
    pub status: String,
    pub trade_no: Option<String>,
    /// The signed notification's form body, once paid.
    pub notification: Option<String>,
    /// Whether the notification was answered `success`.
    pub delivered: bool,
    pub refunded: Option<String>,
}

/// How many orders the simulator keeps (the oldest go first): a demo kiosk runs for months, and a
/// simulator that kept every order would grow without end (`kiosk bench soak` found it).
pub const SIM_KEEP_ORDERS: usize = 2000;

#[derive(Default)]
struct Book {
    orders: HashMap<String, SimOrder>,
    by_qr: HashMap<String, String>,
    /// Order numbers, oldest first, for dropping the oldest beyond [`SIM_KEEP_ORDERS`].
    order_seq: std::collections::VecDeque<String>,
    trades: u64,
    notifies: u64,
}

/// A running simulator: its address and a look at its orders (what a test or the demo's phone
/// needs).
#[derive(Clone)]
pub struct SimHandle {
    pub addr: SocketAddr,
    pub app_id: String,
    pub keys: SimKeys,
    book: Arc<Mutex<Book>>,
}

struct Sim {
    app_id: String,
    keys: SimKeys,
    app_public: VerifyKey,
    book: Arc<Mutex<Book>>,
}

impl SimHandle {
    /// `http://ADDR/gateway.do`.
    pub fn gateway(&self) -> String {
        format!("http://{}/gateway.do", self.addr)
    }

    /// An order as the simulator keeps it.
    pub fn order(&self, out_trade_no: &str) -> Option<SimOrder> {
        lock(&self.book).orders.get(out_trade_no).cloned()
    }

    /// How many orders were opened.
    pub fn order_count(&self) -> usize {
        lock(&self.book).orders.len()
    }

    /// The phone pays the order behind `qr_code` (as `POST /phone/pay`, in process); `notify`
    /// says what becomes of the signed notification.
    pub fn pay(&self, qr_code: &str, notify: Notify) -> Result<SimOrder, String> {
        pay(
            &self.keys,
            &self.app_id,
            &self.book,
            qr_code,
            Timestamp::now(),
            notify,
        )
    }

    /// A notification signed with the simulator's Alipay key, with any content (tests of a wrong
    /// amount or an unknown order).
    pub fn signed_notification(&self, n: &Notification) -> String {
        protocol::encode_form(&protocol::signed_notification(
            &self.keys.alipay,
            n,
            Timestamp::now(),
        ))
    }
}

fn lock(b: &Mutex<Book>) -> std::sync::MutexGuard<'_, Book> {
    b.lock().unwrap_or_else(|p| p.into_inner())
}

fn pay(
    keys: &SimKeys,
    app_id: &str,
    book: &Arc<Mutex<Book>>,
    qr_code: &str,
    now: Timestamp,
    notify: Notify,
) -> Result<SimOrder, String> {
    let (order, url, body) = {
        let mut b = lock(book);
        let Some(out) = b.by_qr.get(qr_code).cloned() else {
            return Err("unknown QR code".into());
        };
        b.trades += 1;
        b.notifies += 1;
        let trade_no = format!("2022{:012}{:08}", b.trades, std::process::id());
        let notify_id = format!(
            "sim{}{:06}",
            hex::encode(&Sha256::digest(out.as_bytes())[..6]),
            b.notifies
        );
        let o = b.orders.get_mut(&out).expect("indexed order");
        if o.status != "WAIT_BUYER_PAY" {
            return Ok(o.clone());
        }
        o.status = "TRADE_SUCCESS".into();
        o.trade_no = Some(trade_no.clone());
        let n = Notification {
            notify_id,
            app_id: app_id.to_string(),
            out_trade_no: out.clone(),
            trade_no,
            trade_status: "TRADE_SUCCESS".into(),
            total_amount: o.amount,
        };
        let body = protocol::encode_form(&protocol::signed_notification(&keys.alipay, &n, now));
        o.notification = Some(body.clone());
        (o.clone(), o.notify_url.clone(), body)
    };
    if let Some(url) = url.filter(|_| notify == Notify::Post) {
        let book = book.clone();
        let out = order.out_trade_no.clone();
        std::thread::spawn(move || deliver(&book, &out, &url, &body));
    }
    Ok(order)
}

/// Post the notification until it is answered `success` (at most [`NOTIFY_ATTEMPTS`] times).
fn deliver(book: &Mutex<Book>, out_trade_no: &str, url: &str, body: &str) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut wait = NOTIFY_FIRST_BACKOFF;
    for attempt in 1..=NOTIFY_ATTEMPTS {
        let answered = agent
            .post(url)
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .send(body.as_bytes())
            .ok()
            .and_then(|mut r| r.body_mut().with_config().limit(1024).read_to_string().ok());
        if answered.as_deref().map(str::trim) == Some("success") {
            if let Some(o) = lock(book).orders.get_mut(out_trade_no) {
                o.delivered = true;
            }
            return;
        }
        tracing::info!(
            attempt,
            order = out_trade_no,
            "alipay sim: notification not acknowledged; retrying"
        );
        std::thread::sleep(wait);
        wait *= 2;
    }
}

fn answer(sim: &Sim, method: &str, v: serde_json::Value) -> Response {
    let mut r = (
        StatusCode::OK,
        protocol::signed_response(&sim.keys.alipay, method, &v),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    r
}

fn failure(code: &str, msg: &str, sub_code: &str, sub_msg: &str) -> serde_json::Value {
    serde_json::json!({"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg})
}

fn biz_str<'a>(r: &'a protocol::GatewayRequest, k: &str) -> Option<&'a str> {
    r.biz.get(k).and_then(|v| v.as_str())
}

async fn gateway(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let params = match protocol::decode_form(&body) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let method = params.get("method").cloned().unwrap_or_default();
    let req = match protocol::read_request(&params, &sim.app_public) {
        Ok(r) => r,
        Err(protocol::ProtocolError::BadSignature) => {
            return answer(
                &sim,
                &method,
                failure(
                    "40002",
                    "Invalid Arguments",
                    "isv.invalid-signature",
                    "验签出错",
                ),
            );
        }
        Err(e) => {
            return answer(
                &sim,
                &method,
                failure(
                    "40002",
                    "Invalid Arguments",
                    "isv.invalid-parameter",
                    &e.to_string(),
                ),
            );
        }
    };
    if req.app_id != sim.app_id {
        return answer(
            &sim,
            &method,
            failure(
                "40002",
                "Invalid Arguments",
                "isv.invalid-app-id",
                "无效的AppID参数",
            ),
        );
    }
    let Some(out) = biz_str(&req, "out_trade_no").map(str::to_string) else {
        return answer(
            &sim,
            &method,
            failure(
                "40002",
                "Invalid Arguments",
                "isv.missing-parameter",
                "out_trade_no",
            ),
        );
    };
    let mut book = lock(&sim.book);
    let v = match method.as_str() {
        protocol::METHOD_PRECREATE => {
            let amount = match biz_str(&req, "total_amount").map(protocol::parse_yuan) {
                Some(Ok(a)) if a.as_fen() > 0 => a,
                _ => {
                    drop(book);
                    return answer(
                        &sim,
                        &method,
                        failure(
                            "40004",
                            "Business Failed",
                            "ACQ.INVALID_PARAMETER",
                            "total_amount",
                        ),
                    );
                }
            };
            match book.orders.get(&out) {
                Some(o) if o.amount != amount => failure(
                    "40004",
                    "Business Failed",
                    "ACQ.CONTEXT_INCONSISTENT",
                    "交易信息被篡改",
                ),
                Some(o) => {
                    serde_json::json!({"code": "10000", "msg": "Success", "out_trade_no": out, "qr_code": o.qr_code})
                }
                None => {
                    let qr = format!(
                        "https://qr.alipay.com/bax{}",
                        hex::encode(
                            &Sha256::digest(format!("{}:{out}", sim.app_id).as_bytes())[..12]
                        )
                    );
                    book.by_qr.insert(qr.clone(), out.clone());
                    book.order_seq.push_back(out.clone());
                    while book.order_seq.len() > SIM_KEEP_ORDERS {
                        if let Some(old) = book.order_seq.pop_front()
                            && let Some(o) = book.orders.remove(&old)
                        {
                            book.by_qr.remove(&o.qr_code);
                        }
                    }
                    book.orders.insert(
                        out.clone(),
                        SimOrder {
                            out_trade_no: out.clone(),
                            amount,
                            qr_code: qr.clone(),
                            notify_url: req.notify_url.clone().filter(|u| !u.is_empty()),
                            status: "WAIT_BUYER_PAY".into(),
                            trade_no: None,
                            notification: None,
                            delivered: false,
                            refunded: None,
                        },
                    );
                    serde_json::json!({"code": "10000", "msg": "Success", "out_trade_no": out, "qr_code": qr})
                }
            }
        }
        protocol::METHOD_QUERY => match book.orders.get(&out) {
            // Like Alipay: an order nobody has scanned has no trade yet.
            Some(o) if o.trade_no.is_some() => serde_json::json!({
                "code": "10000", "msg": "Success",
                "out_trade_no": out,
                "trade_no": o.trade_no,
                "trade_status": o.status,
                "total_amount": protocol::yuan(o.amount),
            }),
            _ => failure(
                "40004",
                "Business Failed",
                protocol::SUB_TRADE_NOT_EXIST,
                "交易不存在",
            ),
        },
        protocol::METHOD_REFUND => {
            let request_no = biz_str(&req, "out_request_no").unwrap_or("").to_string();
            let refund = biz_str(&req, "refund_amount").map(protocol::parse_yuan);
            match book.orders.get_mut(&out) {
                Some(o) if o.trade_no.is_some() => match refund {
                    Some(Ok(a)) if a == o.amount && !request_no.is_empty() => {
                        if o.refunded.as_deref().is_none_or(|r| r == request_no) {
                            o.refunded = Some(request_no);
                            o.status = "TRADE_CLOSED".into();
                            serde_json::json!({
                                "code": "10000", "msg": "Success",
                                "out_trade_no": out, "trade_no": o.trade_no,
                                "fund_change": "Y", "refund_fee": protocol::yuan(a),
                            })
                        } else {
                            failure(
                                "40004",
                                "Business Failed",
                                "ACQ.TRADE_HAS_CLOSE",
                                "交易已关闭",
                            )
                        }
                    }
                    _ => failure(
                        "40004",
                        "Business Failed",
                        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                        "退款金额无效",
                    ),
                },
                _ => failure(
                    "40004",
                    "Business Failed",
                    protocol::SUB_TRADE_NOT_EXIST,
                    "交易不存在",
                ),
            }
        }
        _ => failure(
            "40004",
            "Business Failed",
            "isv.invalid-method",
            "不支持的接口",
        ),
    };
    drop(book);
    answer(&sim, &method, v)
}

async fn phone_pay(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let qr = match protocol::decode_form(&body) {
        Ok(p) => p.get("qr_code").cloned().unwrap_or_default(),
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let sim2 = sim.clone();
    let out = tokio::task::spawn_blocking(move || {
        pay(
            &sim2.keys,
            &sim2.app_id,
            &sim2.book,
            &qr,
            Timestamp::now(),
            Notify::Post,
        )
    })
    .await;
    match out {
        Ok(Ok(o)) => (
            StatusCode::OK,
            serde_json::json!({"out_trade_no": o.out_trade_no, "trade_no": o.trade_no, "status": o.status, "total_amount": protocol::yuan(o.amount)}).to_string(),
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::NOT_FOUND, e).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The simulator's routes.
fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/gateway.do", post(gateway))
        .route("/phone/pay", post(phone_pay))
        .layer(axum::extract::DefaultBodyLimit::max(
            protocol::MAX_BODY_BYTES,
        ))
        .with_state(sim)
}

/// Why the simulator could not start.
pub type SimError = ServeError;

/// The simulator's state and its router, and the handle that reaches them once it listens.
fn build(
    app_id: &str,
    keys: SimKeys,
) -> (
    axum::Router,
    impl FnOnce(SocketAddr) -> SimHandle + Send + use<>,
) {
    let book = Arc::new(Mutex::new(Book::default()));
    let sim = Arc::new(Sim {
        app_id: app_id.to_string(),
        app_public: keys.app.verify_key(),
        keys: keys.clone(),
        book: book.clone(),
    });
    let app_id = app_id.to_string();
    (router(sim), move |addr| SimHandle {
        addr,
        app_id,
        keys,
        book,
    })
}

/// Serve until the process ends; `ready` gets the handle once it listens.
pub fn run(
    listen: SocketAddr,
    app_id: &str,
    keys: SimKeys,
    ready: impl FnOnce(SimHandle),
) -> Result<(), SimError> {
    let (router, handle) = build(app_id, keys);
    sim_serve::serve(listen, router, |addr| ready(handle(addr)))
}

/// Run the simulator on a background thread of this process (tests, the demo).
pub fn spawn(listen: SocketAddr, app_id: &str, keys: SimKeys) -> Result<SimHandle, SimError> {
    let (router, handle) = build(app_id, keys);
    sim_serve::spawn("alipay-sim", listen, router, handle)
}

/// Keys made once per process (tests: RSA key generation takes a moment).
pub fn test_keys() -> SimKeys {
    static KEYS: std::sync::OnceLock<SimKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(SimKeys::generate).clone()
}

/// A map of a form's fields (for tools that read what the simulator sent).
pub fn form(body: &str) -> BTreeMap<String, String> {
    protocol::decode_form(body.as_bytes()).unwrap_or_default()
}
