//! A simulator of Alibaba Cloud SMS `SendSms` that speaks the same bytes as the service, through
//! the adapter's own code ([`super::sms_aliyun`]: the signer, the form parser, the answer type):
//! it checks the AccessKey, the RPC signature, the timestamp (±15 min), the nonce (once), the
//! phone, the sign name and template, answers like the service (`OK` with a `BizId`, or its error
//! codes: `SignatureDoesNotMatch`, `InvalidAccessKeyId.NotFound`, `SignatureNonceUsed`,
//! `InvalidTimeStamp.Expired`, `MissingParameter`, `isv.MOBILE_NUMBER_ILLEGAL`,
//! `isv.SMS_SIGNATURE_ILLEGAL`, `isv.SMS_TEMPLATE_ILLEGAL`, `isv.BUSINESS_LIMIT_CONTROL` past 1 a
//! minute / 5 an hour / 10 a day per phone) and keeps each phone's inbox.
//!
//! `kiosk sim sms --listen ADDR` serves it; tests [`spawn`] it in process. Besides the API, the
//! simulator answers `GET /sim/inbox?phone=…` (JSON, newest first): the phone's screen, for the
//! demo's "phone" and for tests. The real service has no such endpoint.

use super::sim_serve::{self, ServeError};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::sms_aliyun::{self as api, SendSmsAnswer};

/// The most of a request body read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The messages an inbox keeps (the oldest dropped first).
pub const MAX_INBOX: usize = 100;
/// How far a request's `Timestamp` may be from the simulator's clock.
pub const MAX_SKEW: SignedDuration = SignedDuration::from_mins(15);

/// Which clock the simulator keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimClock {
    /// The machine's (as the service).
    Wall,
    /// The request's own `Timestamp` (tests and demos that play a fixed day): the skew check is
    /// off, the flow-control windows count the requests' times.
    Request,
}

/// What the simulator accepts.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// AccessKey id → secret.
    pub keys: BTreeMap<String, String>,
    pub sign_name: String,
    /// Template code → the text with `${param}` placeholders.
    pub templates: BTreeMap<String, String>,
    pub clock: SimClock,
}

impl SimOptions {
    /// One key and the two templates the kiosk uses (`SMS_100000001` registration,
    /// `SMS_100000002` filing consent), the sign name 交管12123.
    pub fn kiosk(access_key_id: &str, secret: &str, clock: SimClock) -> SimOptions {
        SimOptions {
            keys: [(access_key_id.to_string(), secret.to_string())].into(),
            sign_name: "交管12123".into(),
            templates: [
                (
                    "SMS_100000001".to_string(),
                    "您的注册验证码为${code}，5分钟内有效。".to_string(),
                ),
                (
                    "SMS_100000002".to_string(),
                    "有人申请备案您的车辆${plate}，如同意请告知其验证码${code}，5分钟内有效。"
                        .to_string(),
                ),
            ]
            .into(),
            clock,
        }
    }
}

/// One message a phone received.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SimMessage {
    pub phone: String,
    pub sign_name: String,
    pub template_code: String,
    pub params: BTreeMap<String, String>,
    /// `【sign】` + the template with its parameters.
    pub text: String,
    pub out_id: Option<String>,
    pub biz_id: String,
    pub at: Timestamp,
}

#[derive(Default)]
struct Inner {
    inboxes: HashMap<String, VecDeque<SimMessage>>,
    /// Per phone: the times of the messages sent in the last day (flow control).
    sent: HashMap<String, VecDeque<Timestamp>>,
    nonces: HashSet<String>,
    nonce_order: VecDeque<(Timestamp, String)>,
    counter: u64,
}

/// The simulator's state, shared by its handlers and its [`SimHandle`].
#[derive(Clone)]
pub struct Sim {
    opts: Arc<SimOptions>,
    inner: Arc<Mutex<Inner>>,
}

impl Sim {
    pub fn new(opts: SimOptions) -> Sim {
        Sim {
            opts: Arc::new(opts),
            inner: Arc::default(),
        }
    }

    /// The phone's messages, newest first.
    pub fn inbox(&self, phone: &str) -> Vec<SimMessage> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .inboxes
            .get(phone)
            .map(|q| q.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// Every message received, any phone (tests).
    pub fn all_messages(&self) -> Vec<SimMessage> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<SimMessage> = inner.inboxes.values().flatten().cloned().collect();
        all.sort_by_key(|m| m.at);
        all
    }

    /// Handle one API request (method, form parameters) → HTTP status and answer.
    pub fn handle(&self, method: &str, params: &BTreeMap<String, String>) -> (u16, SendSmsAnswer) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.counter += 1;
        let request_id = format!("SIM-{:08X}-{:016X}", std::process::id(), inner.counter);
        let fail = |status: u16, code: &str, message: &str| {
            (
                status,
                SendSmsAnswer {
                    request_id: request_id.clone(),
                    code: code.to_string(),
                    message: message.to_string(),
                    biz_id: None,
                },
            )
        };
        let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
        for k in [
            "AccessKeyId",
            "Action",
            "Signature",
            "SignatureMethod",
            "SignatureNonce",
            "SignatureVersion",
            "Timestamp",
            "Version",
        ] {
            if get(k).is_empty() {
                return fail(
                    400,
                    "MissingParameter",
                    &format!(
                        "The input parameter \"{k}\" that is mandatory for processing this request is not supplied."
                    ),
                );
            }
        }
        let Some(secret) = self.opts.keys.get(get("AccessKeyId")) else {
            return fail(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            );
        };
        if get("SignatureMethod") != "HMAC-SHA1" || get("SignatureVersion") != "1.0" {
            return fail(
                400,
                "InvalidSignatureMethod",
                "Specified signature method is not supported.",
            );
        }
        if !api::signature_matches(secret, method, params, get("Signature")) {
            return fail(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation.",
            );
        }
        let stamp_text = get("Timestamp");
        let well_formed = stamp_text.len() == 20 && stamp_text.ends_with('Z');
        let Some(stamp) = well_formed
            .then(|| stamp_text.parse::<Timestamp>().ok())
            .flatten()
        else {
            return fail(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            );
        };
        let now = match self.opts.clock {
            SimClock::Wall => {
                let now = Timestamp::now();
                if (now - stamp).abs() > MAX_SKEW {
                    return fail(
                        400,
                        "InvalidTimeStamp.Expired",
                        "Specified time stamp or date value is expired.",
                    );
                }
                now
            }
            SimClock::Request => stamp,
        };
        // Nonces are remembered for as long as a timestamp is accepted.
        while let Some((t, _)) = inner.nonce_order.front() {
            if now - *t > MAX_SKEW * 2 {
                let (_, n) = inner.nonce_order.pop_front().expect("front exists");
                inner.nonces.remove(&n);
            } else {
                break;
            }
        }
        let nonce = get("SignatureNonce").to_string();
        if !inner.nonces.insert(nonce.clone()) {
            return fail(
                400,
                "SignatureNonceUsed",
                "Specified signature nonce was used already.",
            );
        }
        inner.nonce_order.push_back((now, nonce));
        if get("Action") != "SendSms" || get("Version") != api::API_VERSION {
            return fail(
                400,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
            );
        }
        let phone = get("PhoneNumbers");
        let valid_phone = phone.len() == 11
            && phone.starts_with('1')
            && phone.bytes().all(|b| b.is_ascii_digit());
        if !valid_phone {
            return fail(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号");
        }
        if get("SignName") != self.opts.sign_name {
            return fail(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名");
        }
        let Some(template) = self.opts.templates.get(get("TemplateCode")) else {
            return fail(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板");
        };
        let Ok(params_json) =
            serde_json::from_str::<BTreeMap<String, String>>(get("TemplateParam"))
        else {
            return fail(
                200,
                "isv.INVALID_JSON_PARAM",
                "JSON参数不合法，只接受字符串值",
            );
        };
        let mut text = template.clone();
        for (k, v) in &params_json {
            text = text.replace(&format!("${{{k}}}"), v);
        }
        if text.contains("${") {
            return fail(200, "isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量");
        }
        // Flow control per phone: 1 a minute, 5 an hour, 10 a day.
        let sent = inner.sent.entry(phone.to_string()).or_default();
        while sent
            .front()
            .is_some_and(|t| now - *t >= SignedDuration::from_hours(24))
        {
            sent.pop_front();
        }
        let within = |d: SignedDuration| sent.iter().filter(|t| now - **t < d).count();
        let limited = if within(SignedDuration::from_mins(1)) >= 1 {
            Some("触发分钟级流控Permits:1")
        } else if within(SignedDuration::from_hours(1)) >= 5 {
            Some("触发小时级流控Permits:5")
        } else if sent.len() >= 10 {
            Some("触发天级流控Permits:10")
        } else {
            None
        };
        if let Some(m) = limited {
            return fail(200, "isv.BUSINESS_LIMIT_CONTROL", m);
        }
        sent.push_back(now);
        let biz_id = format!("{:06}^{:013}", inner.counter % 1_000_000, inner.counter);
        let message = SimMessage {
            phone: phone.to_string(),
            sign_name: self.opts.sign_name.clone(),
            template_code: get("TemplateCode").to_string(),
            text: format!("【{}】{text}", self.opts.sign_name),
            params: params_json,
            out_id: params.get("OutId").cloned(),
            biz_id: biz_id.clone(),
            at: now,
        };
        let inbox = inner.inboxes.entry(phone.to_string()).or_default();
        if inbox.len() >= MAX_INBOX {
            inbox.pop_front();
        }
        inbox.push_back(message);
        (
            200,
            SendSmsAnswer {
                request_id,
                code: "OK".into(),
                message: "OK".into(),
                biz_id: Some(biz_id),
            },
        )
    }
}

fn json<T: Serialize>(status: u16, body: &T) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response()
}

async fn api_call(
    State(sim): State<Sim>,
    method: Method,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    // GET carries the parameters in the query, POST in a form body (the query then empty).
    let raw = if method == Method::GET {
        q.unwrap_or_default()
    } else {
        match std::str::from_utf8(&body) {
            Ok(s) => s.to_string(),
            Err(_) => String::new(),
        }
    };
    let answer = match api::parse_form(&raw) {
        Ok(params) => sim.handle(method.as_str(), &params),
        Err(e) => (
            400,
            SendSmsAnswer {
                request_id: "SIM-BAD-REQUEST".into(),
                code: "InvalidParameter".into(),
                message: e,
                biz_id: None,
            },
        ),
    };
    json(answer.0, &answer.1)
}

#[derive(Deserialize)]
struct InboxQuery {
    phone: String,
}

async fn inbox(State(sim): State<Sim>, Query(q): Query<InboxQuery>) -> Response {
    json(200, &sim.inbox(&q.phone))
}

/// The simulator's routes: the API at `/` (GET or POST), the phones at `/sim/inbox`.
pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/", get(api_call).post(api_call))
        .route("/sim/inbox", get(inbox))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(sim)
}

/// A simulator running on its own thread.
#[derive(Clone)]
pub struct SimHandle {
    pub addr: SocketAddr,
    pub sim: Sim,
}

impl SimHandle {
    /// The endpoint an adapter is configured with.
    pub fn endpoint(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// Serve on `listen` until the process ends; `ready` gets the bound address.
pub fn serve(
    opts: SimOptions,
    listen: SocketAddr,
    ready: impl FnOnce(SocketAddr, Sim),
) -> Result<(), ServeError> {
    let sim = Sim::new(opts);
    sim_serve::serve(listen, router(sim.clone()), |addr| ready(addr, sim))
}

/// Start the simulator on a thread of its own (tests; `listen` `127.0.0.1:0` picks a port).
pub fn spawn(opts: SimOptions, listen: SocketAddr) -> Result<SimHandle, ServeError> {
    let sim = Sim::new(opts);
    sim_serve::spawn("sms-sim", listen, router(sim.clone()), |addr| SimHandle {
        addr,
        sim,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SmsSection;
    use crate::providers::sms_aliyun::AliyunSms;
    use crate::store::sms::{SmsGateway, SmsMessage, SmsTemplate};

    fn section(endpoint: String) -> SmsSection {
        SmsSection {
            provider: "aliyun".into(),
            endpoint,
            access_key_id: "LTAIkiosk".into(),
            secret_file: "unused".into(),
            sign_name: "交管12123".into(),
            template_code: "SMS_100000001".into(),
            filing_template_code: "SMS_100000002".into(),
            timeout_secs: 5,
        }
    }

    fn msg(id: i64, phone: &str, at: Timestamp) -> SmsMessage {
        SmsMessage {
            id,
            phone: phone.into(),
            template: SmsTemplate::FilingConsent {
                plate: "渝A6R2T8".into(),
            },
            code: "482913".into(),
            at,
        }
    }

    #[test]
    fn a_message_through_the_adapter_lands_in_the_phones_inbox() {
        let h = spawn(
            SimOptions::kiosk("LTAIkiosk", "s3cret", SimClock::Wall),
            "127.0.0.1:0".parse().unwrap(),
        )
        .unwrap();
        let gw = AliyunSms::new(&section(h.endpoint()), "s3cret".into());
        let d = gw
            .deliver(&msg(7, "13900000004", Timestamp::now()))
            .unwrap();
        let inbox = h.sim.inbox("13900000004");
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].params["code"], "482913");
        assert_eq!(inbox[0].out_id.as_deref(), Some("7"));
        assert_eq!(Some(inbox[0].biz_id.clone()), d.provider_ref);
        assert_eq!(
            inbox[0].text,
            "【交管12123】有人申请备案您的车辆渝A6R2T8，如同意请告知其验证码482913，5分钟内有效。"
        );
        // The phone's screen over HTTP, as the demo reads it.
        let body = ureq::get(format!("http://{}/sim/inbox?phone=13900000004", h.addr))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let seen: Vec<SimMessage> = serde_json::from_str(&body).unwrap();
        assert_eq!(seen, inbox);
    }

    #[test]
    fn a_bad_signature_or_an_unknown_key_is_refused_with_the_services_codes() {
        let h = spawn(
            SimOptions::kiosk("LTAIkiosk", "s3cret", SimClock::Wall),
            "127.0.0.1:0".parse().unwrap(),
        )
        .unwrap();
        let wrong_secret = AliyunSms::new(&section(h.endpoint()), "guess".into());
        let e = wrong_secret
            .deliver(&msg(1, "13900000004", Timestamp::now()))
            .unwrap_err();
        assert!(e.to_string().contains("SignatureDoesNotMatch"), "{e}");
        let mut s = section(h.endpoint());
        s.access_key_id = "LTAIother".into();
        let e = AliyunSms::new(&s, "s3cret".into())
            .deliver(&msg(1, "13900000004", Timestamp::now()))
            .unwrap_err();
        assert!(e.to_string().contains("InvalidAccessKeyId.NotFound"), "{e}");
        assert!(h.sim.inbox("13900000004").is_empty());
        // A signed request tampered with in transit (another phone) fails the signature.
        let gw = AliyunSms::new(&section(h.endpoint()), "s3cret".into());
        let mut p = gw.request_params(&msg(1, "13900000004", Timestamp::now()), "n-1");
        p.insert("PhoneNumbers".into(), "13900000009".into());
        let (status, a) = h.sim.handle("POST", &p);
        assert_eq!((status, a.code.as_str()), (400, "SignatureDoesNotMatch"));
    }

    #[test]
    fn a_replayed_nonce_a_stale_timestamp_and_a_bad_phone_are_refused() {
        let sim = Sim::new(SimOptions::kiosk("LTAIkiosk", "s3cret", SimClock::Wall));
        let gw = AliyunSms::new(&section("http://unused/".into()), "s3cret".into());
        let p = gw.request_params(&msg(1, "13900000004", Timestamp::now()), "nonce-1");
        assert_eq!(sim.handle("POST", &p).1.code, "OK");
        assert_eq!(sim.handle("POST", &p).1.code, "SignatureNonceUsed");
        let old = Timestamp::now() - SignedDuration::from_mins(20);
        let p = gw.request_params(&msg(2, "13900000004", old), "nonce-2");
        assert_eq!(sim.handle("POST", &p).1.code, "InvalidTimeStamp.Expired");
        let p = gw.request_params(&msg(3, "1390000", Timestamp::now()), "nonce-3");
        assert_eq!(sim.handle("POST", &p).1.code, "isv.MOBILE_NUMBER_ILLEGAL");
    }

    #[test]
    fn flow_control_refuses_a_second_message_within_a_minute_and_the_sixth_in_an_hour() {
        let sim = Sim::new(SimOptions::kiosk("LTAIkiosk", "s3cret", SimClock::Request));
        let gw = AliyunSms::new(&section("http://unused/".into()), "s3cret".into());
        let t0: Timestamp = "2022-10-24T03:00:00Z".parse().unwrap();
        let send = |n: i64, at: Timestamp| {
            let p = gw.request_params(&msg(n, "13900000004", at), &format!("n{n}"));
            sim.handle("POST", &p)
        };
        assert_eq!(send(1, t0).1.code, "OK");
        let (status, a) = send(2, t0 + SignedDuration::from_secs(30));
        assert_eq!(
            (status, a.code.as_str()),
            (200, "isv.BUSINESS_LIMIT_CONTROL")
        );
        for m in 1..5 {
            assert_eq!(send(2 + m, t0 + SignedDuration::from_mins(m)).1.code, "OK");
        }
        assert_eq!(
            send(9, t0 + SignedDuration::from_mins(10)).1.code,
            "isv.BUSINESS_LIMIT_CONTROL"
        );
        assert_eq!(sim.inbox("13900000004").len(), 5);
    }
}
