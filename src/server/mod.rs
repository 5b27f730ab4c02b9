//! `kiosk serve`: the platform server. Every [`Platform`] operation is `POST /v1/<op>` with a
//! JSON body (`crate::wire::ops`); `GET /healthz` says the server is up. Each request is
//! authenticated (`crate::wire::auth`: the kiosk's id, time and ed25519 signature, checked
//! against the `--kiosks` file, and the demo identity with `--demo` only); each write goes
//! through the idempotency [`Ledger`] (per kiosk: key → request fingerprint → response).
//!
//! The store is blocking (SQLite here; the sync `postgres` crate after the merge): every store
//! call runs on tokio's blocking pool (`spawn_blocking`), never on a worker thread. Bodies are
//! bounded ([`MAX_BODY_BYTES`]), each request has a deadline ([`REQUEST_TIMEOUT`]), and the
//! 六.2 revert runs on the server (once a minute), not on the kiosks.
//!
//! The HTTP API:
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /fleet`, `GET`/`POST /login` | the fleet page behind an operator login (`fleet`; only with `--operators`) |
//! | `GET /healthz` | 200 `{"status":"ok","instance":…,"demo":…,"kiosk_clock":…}` (no identity needed) |
//! | `POST /v1/<op>`, `<op>` one of `wire::ops::Op` (`person`, `vehicles`, `violations`, `send_register_code`, `register`, `send_filing_code`, `check_filing_code`, `file_vehicle`, `review_filing`, `unfile`, `filings`, `remove_driver`, `handle`, `pay`, `revert_due`, `receipt`, `feedback`, `issue_vehicle_qr`, `vehicle_by_plate`, `vehicle_owner`, `filing_precheck`, `verify_vehicle_qr`, `sms_outbox`, `kiosk_event`, `seal_receipt`, `payment_order`, `remote_config`: the kiosk's signed settings of `--remote-config`, or `null`) | 200 with the view as JSON; an error: its status and `wire::error::ErrorBody` `{error, kind, message, zh, en, detail}` |
//! | `POST /notify/alipay` | the payment provider's notification (form, signed by Alipay, no kiosk identity): 200 `success` when recorded or already recorded, 400 `fail` when refused (audited, up to a cap a minute for the unsigned: `notify`), 429 `fail` when its source address sent too many (`[notify]` of the configuration), 503 `fail` when the store failed (Alipay tries again) |
//!
//! Headers of every `POST`: `X-Kiosk-Id`, `X-Kiosk-Time` (Unix seconds, ±300 s),
//! `X-Kiosk-Signature` (hex ed25519 over `wire::auth::signing_message`), and `Idempotency-Key`
//! (1–128 characters) on every write. Statuses: 200; 400 invalid request (or a write without a
//! key); 401 identity refused (unknown kiosk, bad signature, stale time, the demo identity on a
//! server without `--demo`); 404 not found (or an unknown operation); 409 the same key is running
//! now (retry with the same key); 413 body over 64 KiB; 422 refused by the rules or the state, or
//! the key reused for another request; 500/503 the server's storage, a deadline, a panic (retry
//! with the same key). A replayed answer carries `Idempotent-Replayed: true`.

pub mod dispatch;
pub mod fleet;
pub mod kiosks;
pub mod notify;
pub mod remote_config;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;

use crate::store::StoreError;
use crate::store::audit::AuditKey;
use crate::store::backend::without_password;
use crate::store::idempotency::{Begin, Ledger, PgLedger, SqliteLedger};
use crate::store::platform::fleet::FleetSource;
use crate::store::platform::{
    ConfirmsPoints, PgPlatform, Platform, PurgesEvents, RefusalGate, SimulatedConfirmer,
    SqlitePlatform,
};
use crate::store::schema;
use crate::wire::auth::{
    self, AuthError, HEADER_IDEMPOTENCY_KEY, HEADER_KIOSK_ID, HEADER_SIGNATURE, HEADER_TIME,
};
use crate::wire::ops::Op;
use dispatch::{Answer, error_answer};
pub use kiosks::{KioskRegistry, KiosksFileError};

/// The largest request body accepted (a request is a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long one request may take on the server before it answers 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest idempotency key accepted.
pub const MAX_KEY_LEN: usize = 128;
/// Finished ledger records are kept this long (a retry comes within minutes).
pub const LEDGER_RETENTION: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);

/// What `kiosk serve` was told.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// A SQLite file (a `postgres://` URL after the PostgreSQL merge).
    pub database: String,
    pub listen: SocketAddr,
    /// Accept the built-in demo identity (and answer the demo SMS outbox).
    pub demo: bool,
    /// The kiosks allowed to call (TOML: id → public key, hall).
    pub kiosks: Option<PathBuf>,
    /// How often the 六.2 revert runs (it also runs at start-up); None: never (tests whose
    /// kiosks run on a simulated clock, which the server's clock would overtake).
    pub revert_every: Option<Duration>,
    /// Use the time each request carries instead of the server's clock (demos and tests on a
    /// simulated clock; `demo` implies it). Otherwise the server's clock decides windows and
    /// deadlines, whatever a kiosk's clock says.
    pub kiosk_clock: bool,
    /// The police network's simulator confirms a paid decision's points this long after it was
    /// decided (the points-confirmation job runs as often as the revert).
    pub confirm_points_after: Duration,
    /// The fleet page's operators (TOML, argon2 hashes); None: no fleet page.
    pub operators: Option<PathBuf>,
    /// `--config FILE`: demo mode and the providers (`[payment]`, `[sms]`, `[qr]`) and the audit
    /// key (`[audit]`); the default is all demo, which only a demo server (`demo` here or in
    /// the file) may run.
    pub config: crate::config::ServerConfig,
    /// `--remote-config FILE`: operational settings per hall and per kiosk (`remote_config`).
    pub remote_config: Option<PathBuf>,
    /// `--config-key FILE`: the key that signs them (a platform key file, `kiosk keygen --qr`).
    pub config_key: Option<PathBuf>,
}

impl ServeOptions {
    /// Demo mode: `--demo` or `demo = true` in the configuration. The demo identity (and the
    /// demo SMS outbox, the kiosks' clock) stay with `--demo` alone.
    pub fn demo_mode(&self) -> bool {
        self.demo || self.config.demo
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open the database {database}: {source}")]
    Database {
        database: String,
        source: StoreError,
    },
    #[error("{0}: no such database file (create one with `kiosk db init --demo --path {0}`)")]
    NoDatabase(String),
    #[error(transparent)]
    Kiosks(#[from] KiosksFileError),
    #[error(transparent)]
    Operators(#[from] fleet::OperatorsFileError),
    #[error(
        "no kiosk may call: give --kiosks FILE (kiosk id → public key), or --demo for the demo identity"
    )]
    NoKiosks,
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server runtime: {0}")]
    Runtime(std::io::Error),
    /// Demo parts without demo mode: every key at fault.
    #[error("{}", crate::config::refusal_message("kiosk serve", .0))]
    DemoParts(Vec<crate::config::Refusal>),
    #[error(transparent)]
    Providers(#[from] crate::providers::ProvidersError),
    #[error("audit.key_file: {0}")]
    AuditKey(#[from] crate::store::audit::AuditKeyError),
    #[error(transparent)]
    RemoteConfig(#[from] remote_config::RemoteConfigError),
    #[error("{key}: {message}")]
    Notify { key: &'static str, message: String },
}

/// A platform, the idempotency ledger kept in the same database, and the city's
/// points-confirmation job on it.
pub type Backend = (Arc<dyn Platform>, Arc<dyn Ledger>, Arc<dyn ServerJobs>);

/// What the server's jobs and pages read and write besides the operations: the points
/// confirmation and the fleet page's look-ups, both on the platform's store.
pub trait ServerJobs: ConfirmsPoints + FleetSource + PurgesEvents {}
impl<T: ConfirmsPoints + FleetSource + PurgesEvents + ?Sized> ServerJobs for T {}

/// How many PostgreSQL connections the server's platform pool holds (its ledger has its own 4).
pub const PG_POOL_SIZE: u32 = 16;

/// Open the platform the server serves: a `postgres://` (or `postgresql://`) URL is the city's
/// PostgreSQL database, anything else a SQLite file made with `kiosk db init`; on it the
/// providers `parts` and the audit key `audit` (see [`parts_of`]); `refusals` is told of every
/// refused payment notification (`notify::NotifyGuard`).
pub fn open_platform(
    db: &str,
    parts: crate::providers::PlatformParts,
    audit: AuditKey,
    refusals: Arc<dyn RefusalGate>,
) -> Result<Backend, ServerError> {
    let err = |source| ServerError::Database {
        database: without_password(db),
        source,
    };
    let policy = crate::rules::PolicyBook::embedded()
        .map_err(|e| err(StoreError::Corrupt(format!("embedded policy: {e}"))))?;
    let crate::providers::PlatformParts { qr, sms, payments } = parts;
    if schema::is_postgres_url(db) {
        let backend =
            crate::store::backend::Pg::connect(db, PG_POOL_SIZE).map_err(|e| err(e.into()))?;
        let platform = Arc::new(
            PgPlatform::with_backend(backend, policy, qr, sms, payments)
                .with_audit_key(audit)
                .with_refusal_gate(refusals),
        );
        let ledger = PgLedger::connect(db, 4).map_err(err)?;
        return Ok((platform.clone(), Arc::new(ledger), platform));
    }
    let path = Path::new(db);
    if !path.exists() {
        return Err(ServerError::NoDatabase(db.to_string()));
    }
    let conn = schema::open(path).map_err(|e| err(e.into()))?;
    let platform = Arc::new(
        SqlitePlatform::new(conn, policy, qr, sms, payments)
            .with_audit_key(audit)
            .with_refusal_gate(refusals),
    );
    let ledger = SqliteLedger::open(path).map_err(err)?;
    Ok((platform.clone(), Arc::new(ledger), platform))
}

/// The providers and the audit key `opts` name, refused (each key named) when they are demo
/// parts outside demo mode.
pub fn parts_of(
    opts: &ServeOptions,
) -> Result<(crate::providers::PlatformParts, AuditKey), ServerError> {
    let c = &opts.config;
    if !opts.demo_mode() {
        let refusals = c.production_refusals();
        if !refusals.is_empty() {
            return Err(ServerError::DemoParts(refusals));
        }
    }
    let parts = crate::providers::platform_parts(&c.payment, &c.sms, &c.qr)?;
    let audit = match c.audit.key_path() {
        Some(path) => AuditKey::from_file(path)?,
        None => AuditKey::demo(),
    };
    Ok((parts, audit))
}

/// What every request handler shares.
pub struct Shared {
    pub platform: Arc<dyn Platform>,
    pub ledger: Arc<dyn Ledger>,
    /// The points-confirmation job and the fleet page's look-ups on the same database.
    pub points: Arc<dyn ServerJobs>,
    /// The fleet page and its operators (`--operators`); None: the page is off.
    pub fleet: Option<Arc<fleet::FleetConsole>>,
    pub kiosks: KioskRegistry,
    /// `--remote-config` with its signing key: what `remote_config` answers.
    pub remote_config: Option<Arc<remote_config::RemoteConfig>>,
    /// Whether the time a request carries is used (else the server's clock).
    pub kiosk_clock: bool,
    /// This server process's id in the ledger: a record in flight under another id was left by a
    /// server that died, and is taken over.
    pub instance: String,
    /// `POST /notify/alipay`'s per-address buckets (None: no per-address limit).
    pub notify_limiter: Option<notify::IpLimiter>,
}

/// The HTTP routes over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/{op}", post(op_handler))
        .route("/fleet", get(fleet::fleet_page))
        .route("/login", get(fleet::login_page).post(fleet::login))
        .route(crate::wire::ops::NOTIFY_ALIPAY_PATH, post(notify_handler))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

/// `GET /metrics`: the server's Prometheus figures (`crate::ops::metrics::server`).
async fn metrics() -> Response {
    let m = crate::ops::metrics::server();
    m.sync_store_conflicts(crate::store::backend::pg_conflicts_retried());
    let mut r = (StatusCode::OK, m.encode()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::ops::metrics::CONTENT_TYPE),
    );
    r
}

/// `POST /notify/alipay`: the payment provider's asynchronous notification. No kiosk signature:
/// the provider's own, verified by the platform over the form's parameters. Answers `success`
/// once the payment is recorded (or was already: the provider stops repeating it), `fail` with
/// 400 when refused (bad signature, unknown order, another amount: audited), 503 when the store
/// failed (the provider tries again).
async fn notify_handler(
    State(st): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let text = |status: StatusCode, t: &'static str| {
        let mut r = (status, t).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        r
    };
    // Too many from this address: refused before anything is read or checked (no log line, no
    // audit row: counted).
    if let Some(limiter) = &st.notify_limiter
        && !limiter.admit(peer.ip(), std::time::Instant::now())
    {
        crate::ops::metrics::server().notify_refused("rate_limited");
        return text(StatusCode::TOO_MANY_REQUESTS, "fail");
    }
    let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await else {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "fail");
    };
    let platform = st.platform.clone();
    let job =
        tokio::task::spawn_blocking(move || platform.payment_notification(&body, Timestamp::now()));
    // A deadline as every request has (the provider tries again after a 503).
    let Ok(out) = tokio::time::timeout(REQUEST_TIMEOUT, job).await else {
        tracing::error!("payment notification not taken within the request deadline");
        return text(StatusCode::SERVICE_UNAVAILABLE, "fail");
    };
    match out {
        Ok(Ok(ack)) => {
            let mut r = text(StatusCode::OK, "success");
            let code = serde_json::to_value(ack)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            if let Ok(v) = HeaderValue::from_str(&code) {
                r.headers_mut()
                    .insert(crate::wire::ops::HEADER_NOTIFY_ACK, v);
            }
            r
        }
        // Logged (and counted) by the store's refusal gate, within its cap.
        Ok(Err(StoreError::NotificationRefused(_))) => text(StatusCode::BAD_REQUEST, "fail"),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "payment notification not taken");
            text(StatusCode::SERVICE_UNAVAILABLE, "fail")
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "fail"),
    }
}

async fn healthz(State(st): State<Arc<Shared>>) -> Response {
    json_response(
        200,
        serde_json::to_vec(&serde_json::json!({
            "status": "ok",
            "instance": st.instance,
            "demo": st.kiosks.demo(),
            "kiosk_clock": st.kiosk_clock,
        }))
        .unwrap_or_default(),
        false,
    )
}

fn json_response(status: u16, body: Vec<u8>, replayed: bool) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

fn header_str<'a>(h: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, AuthError> {
    h.get(name)
        .map(|v| v.to_str().map_err(|_| AuthError::BadHeader(name)))
        .transpose()
}

/// The kiosk a request comes from, when its identity holds.
pub fn authenticate(
    kiosks: &KioskRegistry,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    server_now: i64,
) -> Result<String, AuthError> {
    let kiosk =
        header_str(headers, HEADER_KIOSK_ID)?.ok_or(AuthError::MissingHeader("X-Kiosk-Id"))?;
    let time = header_str(headers, HEADER_TIME)?.ok_or(AuthError::MissingHeader("X-Kiosk-Time"))?;
    let time: i64 = time
        .trim()
        .parse()
        .map_err(|_| AuthError::BadHeader("X-Kiosk-Time"))?;
    let sig = header_str(headers, HEADER_SIGNATURE)?
        .ok_or(AuthError::MissingHeader("X-Kiosk-Signature"))?;
    let key_header = header_str(headers, HEADER_IDEMPOTENCY_KEY)?.unwrap_or("");
    let key = kiosks.key_of(kiosk)?;
    auth::verify(
        &key, kiosk, method, path, time, key_header, body, sig, server_now,
    )?;
    Ok(kiosk.to_string())
}

/// Every request is counted by operation and status (`crate::ops::metrics::server`).
async fn op_handler(
    st: State<Arc<Shared>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = std::time::Instant::now();
    let op = Op::from_name(&name).map_or("unknown", Op::name);
    let response = op_answer(st, name, headers, body).await;
    crate::ops::metrics::server().request(op, response.status().as_u16(), started.elapsed());
    response
}

async fn op_answer(
    State(st): State<Arc<Shared>>,
    name: String,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(op) = Op::from_name(&name) else {
        let (s, b) = error_answer(&StoreError::Remote {
            code: "unknown_operation",
            kind: crate::store::ErrorKind::NotFound,
            message: format!(
                "没有该接口 / No such operation: {}",
                name.chars().take(64).collect::<String>()
            ),
        });
        return json_response(s.max(404), b, false);
    };
    let path = op.path();
    let kiosk = match authenticate(
        &st.kiosks,
        "POST",
        &path,
        &headers,
        &body,
        Timestamp::now().as_second(),
    ) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(op = op.name(), error = %e, "request refused: identity");
            let (s, b) = error_answer(&StoreError::Unauthorized(e.to_string()));
            return json_response(s, b, false);
        }
    };
    let key = match header_str(&headers, HEADER_IDEMPOTENCY_KEY) {
        Ok(k) => k.map(str::to_string),
        Err(e) => {
            let (s, b) = error_answer(&StoreError::Invalid(e.to_string()));
            return json_response(s, b, false);
        }
    };
    if op.writes() {
        match &key {
            None => {
                let (s, b) = error_answer(&StoreError::Invalid(format!(
                    "{} writes: an Idempotency-Key header is required",
                    op.name()
                )));
                return json_response(s, b, false);
            }
            Some(k) if k.is_empty() || k.len() > MAX_KEY_LEN => {
                let (s, b) = error_answer(&StoreError::Invalid(format!(
                    "Idempotency-Key: 1 to {MAX_KEY_LEN} characters"
                )));
                return json_response(s, b, false);
            }
            Some(_) => {}
        }
    }
    let shared = st.clone();
    let kiosk_for_log = kiosk.clone();
    let job = tokio::task::spawn_blocking(move || {
        serve_blocking(&shared, op, &kiosk, key.as_deref(), &body)
    });
    let (status, out, replayed) = match tokio::time::timeout(REQUEST_TIMEOUT, job).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(join)) => {
            tracing::error!(op = op.name(), error = %join, "operation panicked");
            let (s, b) = error_answer(&StoreError::Unavailable("the server failed".into()));
            (s, b, false)
        }
        Err(_) => {
            let (s, b) = error_answer(&StoreError::Unavailable(format!(
                "the server did not finish within {} s",
                REQUEST_TIMEOUT.as_secs()
            )));
            (s, b, false)
        }
    };
    tracing::info!(kiosk = %kiosk_for_log, op = op.name(), status, replayed, "request");
    json_response(status, out, replayed)
}

/// The fingerprint of a request: SHA-256 of the operation and its body.
pub fn fingerprint(op: Op, body: &[u8]) -> String {
    let mut bytes = op.name().as_bytes().to_vec();
    bytes.push(b'\n');
    bytes.extend_from_slice(body);
    crate::wire::sha256_hex(&bytes)
}

/// Run one authenticated request (blocking): through the ledger when it writes.
pub fn serve_blocking(
    st: &Shared,
    op: Op,
    kiosk: &str,
    key: Option<&str>,
    body: &[u8],
) -> (u16, Vec<u8>, bool) {
    let demo = st.kiosks.demo();
    // The remote configuration is the server's, not the store's.
    if op == Op::RemoteConfig
        && let Some(rc) = &st.remote_config
    {
        let doc = Some(rc.signed(kiosk, st.kiosks.hall_of(kiosk)));
        let body = serde_json::to_vec(&doc).unwrap_or_else(|_| b"null".to_vec());
        return (200, body, false);
    }
    // The kiosk's decisions follow the policy its remote configuration hands it.
    let policy = st
        .remote_config
        .as_ref()
        .and_then(|rc| rc.policy_for(kiosk, st.kiosks.hall_of(kiosk)));
    let run = || -> Answer {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let clock = (!st.kiosk_clock).then(Timestamp::now);
            crate::store::platform::with_policy_override(policy.clone(), || {
                dispatch::execute(st.platform.as_ref(), op, kiosk, body, demo, clock)
            })
        }))
        .unwrap_or_else(|_| error_answer(&StoreError::Unavailable("the server failed".into())))
    };
    let (true, Some(key)) = (op.writes(), key) else {
        let (s, b) = run();
        return (s, b, false);
    };
    let fp = fingerprint(op, body);
    match st
        .ledger
        .begin(kiosk, key, &fp, &st.instance, Timestamp::now())
    {
        Err(e) => {
            let (s, b) = error_answer(&e);
            (s, b, false)
        }
        Ok(Begin::Replay { status, body }) => {
            crate::ops::metrics::server().ledger_replays.inc();
            (status, body, true)
        }
        Ok(Begin::Mismatch) => {
            crate::ops::metrics::server().ledger_key_reused.inc();
            let (s, b) = error_answer(&StoreError::IdempotencyKeyReused);
            (s, b, false)
        }
        Ok(Begin::InFlight) => {
            crate::ops::metrics::server().ledger_in_flight.inc();
            let (s, b) = error_answer(&StoreError::InFlight);
            (s, b, false)
        }
        Ok(Begin::Run) => {
            let (status, out) = run();
            let kept = if status >= 500 {
                // A passing failure: the retry runs again.
                st.ledger.abandon(kiosk, key, &st.instance)
            } else {
                st.ledger
                    .finish(kiosk, key, &st.instance, status, &out, Timestamp::now())
            };
            if let Err(e) = kept {
                tracing::error!(error = %e, "idempotency ledger not updated");
            }
            (status, out, false)
        }
    }
}

/// Build the server's shared state from its options (opens the database, reads the kiosks).
pub fn prepare(opts: &ServeOptions) -> Result<Arc<Shared>, ServerError> {
    let kiosks = match &opts.kiosks {
        Some(path) => KioskRegistry::load(path, opts.demo)?,
        None => KioskRegistry::new(opts.demo),
    };
    if kiosks.is_empty() && !kiosks.demo() {
        return Err(ServerError::NoKiosks);
    }
    let remote_config = match &opts.remote_config {
        Some(path) => Some(Arc::new(remote_config::RemoteConfig::load(
            path,
            opts.config_key.as_deref(),
            &kiosks,
        )?)),
        None => None,
    };
    let fleet = match &opts.operators {
        Some(path) => Some(Arc::new(fleet::FleetConsole::load(path)?)),
        None => None,
    };
    // Demo parts outside demo mode: refused, each key named, before the database is opened.
    let (parts, audit) = parts_of(opts)?;
    let bounds = &opts.config.notify;
    bounds
        .check()
        .and_then(|()| opts.config.retention.check())
        .map_err(|(key, message)| ServerError::Notify { key, message })?;
    let guard = Arc::new(notify::NotifyGuard::new(bounds.refused_audited_per_minute));
    let (platform, ledger, points) = open_platform(&opts.database, parts, audit, guard)?;
    let now = Timestamp::now();
    match opts.revert_every.map(|_| platform.revert_due(now)) {
        None => {}
        Some(Ok(r)) if !r.reverted.is_empty() => {
            tracing::info!(
                count = r.reverted.len(),
                "unpaid handlings reverted at start-up (六.2)"
            )
        }
        Some(Ok(_)) => {}
        Some(Err(e)) => tracing::error!(error = %e, "start-up revert failed"),
    }
    if let Err(e) = ledger.purge(now - LEDGER_RETENTION) {
        tracing::warn!(error = %e, "idempotency ledger not purged");
    }
    Ok(Arc::new(Shared {
        platform,
        ledger,
        points,
        kiosks,
        remote_config,
        kiosk_clock: opts.kiosk_clock || opts.demo,
        instance: crate::wire::random_hex(16),
        fleet,
        notify_limiter: notify::IpLimiter::new(bounds),
    }))
}

/// Serve until the process ends; `ready` is told the address listened on (port 0 picks one).
pub fn run(opts: ServeOptions, ready: impl FnOnce(SocketAddr)) -> Result<(), ServerError> {
    let shared = prepare(&opts)?;
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(every) = opts.revert_every {
        crate::store::platform::spawn_periodic_revert(
            shared.platform.clone(),
            Arc::new(Timestamp::now),
            every,
            stop.clone(),
        );
        // The police network's simulator (the real network is out of reach here).
        crate::store::platform::spawn_periodic_confirm(
            shared.points.clone(),
            Arc::new(SimulatedConfirmer {
                delay: jiff::SignedDuration::try_from(opts.confirm_points_after)
                    .unwrap_or(jiff::SignedDuration::MAX),
            }),
            Arc::new(Timestamp::now),
            every,
            stop.clone(),
        );
        // Kiosk events older than `[retention] kiosk_events_days` (0: kept).
        let days = opts.config.retention.kiosk_events_days;
        if days > 0 {
            crate::store::platform::spawn_periodic_purge(
                shared.points.clone(),
                Arc::new(Timestamp::now),
                days,
                crate::store::platform::PURGE_EVERY,
                stop.clone(),
            );
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    let result = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| ServerError::Listen {
                addr: opts.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(ServerError::Runtime)?;
        ready(addr);
        axum::serve(
            listener,
            router(shared).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .map_err(ServerError::Runtime)
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    result
}

/// Run a server on a background thread of this process and return its address once it listens
/// (for tests, and for tools that embed one). The thread serves until the process ends.
pub fn spawn(opts: ServeOptions) -> Result<SocketAddr, ServerError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let failed = tx.clone();
    std::thread::Builder::new()
        .name("kiosk-serve".into())
        .spawn(move || {
            if let Err(e) = run(opts, |addr| {
                let _ = tx.send(Ok(addr));
            }) {
                let _ = failed.send(Err(e));
            }
        })
        .map_err(ServerError::Runtime)?;
    rx.recv()
        .map_err(|_| ServerError::Runtime(std::io::Error::other("the server thread ended")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::demo::{DemoOptions, build_city};
    use crate::store::schema;
    use crate::wire::ops::{PayBody, WithNow};

    /// A duplicate arriving while the first request is still inside the store is told 409; the
    /// first finishes, and the key then replays its answer.
    #[test]
    fn a_concurrent_duplicate_is_told_409_and_then_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite3");
        let anchor: Timestamp = "2022-10-24T09:00:00+08:00".parse().unwrap();
        let now = anchor + jiff::SignedDuration::from_hours(2);
        let mut conn = schema::open(&path).unwrap();
        build_city(
            &mut conn,
            &DemoOptions {
                persons: 30,
                seed: 1,
                anchor,
            },
        )
        .unwrap();
        let platform = SqlitePlatform::open_demo(&path).unwrap();
        let decision = platform
            .handle(
                &crate::store::platform::HandleRequest {
                    id_number: crate::domain::IdNumber::parse("50010619851120002X").unwrap(),
                    vehicle: crate::store::platform::VehicleKey::parse("渝A8K2L6", "02").unwrap(),
                    violation_ids: vec!["5001000000000001".into()],
                    kiosk_id: "K".into(),
                },
                now,
            )
            .unwrap()
            .items[0]
            .decision
            .number
            .clone();
        // The ledger apart from the store, so the store can be held busy alone.
        let platform = Arc::new(platform);
        let shared = Arc::new(Shared {
            platform: platform.clone(),
            ledger: Arc::new(SqliteLedger::with_connection(
                schema::open_in_memory().unwrap(),
            )),
            points: platform,
            kiosks: KioskRegistry::new(true),
            remote_config: None,
            kiosk_clock: true,
            instance: "i1".into(),
            fleet: None,
            notify_limiter: None,
        });
        let body: PayBody = WithNow {
            request: crate::store::platform::PayRequest {
                decision_number: decision,
                idempotency_key: "pay".into(),
                method: "demo".into(),
            },
            now,
        };
        let body = serde_json::to_vec(&body).unwrap();
        // Another writer holds the store: the first payment waits inside it.
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (s, b) = (shared.clone(), body.clone());
        let first = std::thread::spawn(move || serve_blocking(&s, Op::Pay, "K", Some("k1"), &b));
        std::thread::sleep(Duration::from_millis(300));
        let (status, answer, _) = serve_blocking(&shared, Op::Pay, "K", Some("k1"), &body);
        assert_eq!(status, 409, "{}", String::from_utf8_lossy(&answer));
        conn.execute_batch("COMMIT").unwrap();
        let (status, answer, replayed) = first.join().unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        assert!(!replayed);
        let (status, again, replayed) = serve_blocking(&shared, Op::Pay, "K", Some("k1"), &body);
        assert_eq!((status, replayed), (200, true));
        assert_eq!(again, answer);
        // Reads go straight to the store, without the ledger.
        let (status, _, replayed) = serve_blocking(
            &shared,
            Op::Receipt,
            "K",
            None,
            br#"{"decision_number":"x","kind":"payment"}"#,
        );
        assert_eq!((status, replayed), (404, false));
    }

    #[test]
    fn a_postgres_url_is_named_without_its_password() {
        let parts = crate::providers::platform_parts(
            &Default::default(),
            &Default::default(),
            &Default::default(),
        )
        .unwrap();
        let Err(e) = open_platform(
            "postgres://kiosk:secret@db:5432/city",
            parts,
            AuditKey::demo(),
            Arc::new(crate::store::platform::AuditEveryRefusal),
        ) else {
            panic!("a database nobody runs opened")
        };
        let text = e.to_string();
        assert!(text.contains("postgres://kiosk@db:5432/city"), "{text}");
        assert!(!text.contains("secret"));
    }
}
