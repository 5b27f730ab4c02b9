//! Prometheus metrics (the official `prometheus-client`, text format 0.0.4). Two registries:
//! the kiosk's ([`kiosk`], served on `[metrics] listen` by [`serve`] from its own thread) and the
//! platform server's ([`server`], `GET /metrics` on `kiosk serve`). Label values are fixed codes
//! only — an operation, an effect kind, a reason code, a device kind, an HTTP status — never an ID
//! number, a name, a phone or a plate.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// One label: a fixed name and a code as its value.
pub type Label = [(&'static str, String); 1];
pub type Labels2 = [(&'static str, String); 2];
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// What the text endpoint answers with.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

fn latency_histogram() -> Histogram {
    // 5 ms … ~41 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

fn frame_histogram() -> Histogram {
    // 0.25 ms … ~0.5 s.
    Histogram::new(exponential_buckets(0.00025, 2.0, 12))
}

fn label(name: &'static str, value: &str) -> Label {
    [(name, value.to_string())]
}

/// The kiosk's figures.
pub struct KioskMetrics {
    registry: Registry,
    pub sessions_started: Counter,
    pub sessions_finished: Counter,
    pub sessions_timed_out: Counter,
    tasks_completed: Family<Label, Counter>,
    refusals: Family<Label, Counter>,
    pub payments: Counter,
    pub payment_amount_fen: Counter,
    print_failures: Family<Label, Counter>,
    paper: Family<Label, Gauge>,
    device_up: Family<Label, Gauge>,
    pub card_read_seconds: Histogram,
    platform_call_seconds: HistogramFamily<Label>,
    pub frame_build_seconds: Histogram,
}

impl KioskMetrics {
    fn new() -> Self {
        let m = KioskMetrics {
            registry: Registry::default(),
            sessions_started: Counter::default(),
            sessions_finished: Counter::default(),
            sessions_timed_out: Counter::default(),
            tasks_completed: Family::default(),
            refusals: Family::default(),
            payments: Counter::default(),
            payment_amount_fen: Counter::default(),
            print_failures: Family::default(),
            paper: Family::default(),
            device_up: Family::default(),
            card_read_seconds: latency_histogram(),
            platform_call_seconds: Family::new_with_constructor(latency_histogram),
            frame_build_seconds: frame_histogram(),
        };
        let mut r = Registry::with_prefix("kiosk");
        r.register(
            "sessions_started",
            "Sessions started (a card read and looked up)",
            m.sessions_started.clone(),
        );
        r.register(
            "sessions_finished",
            "Sessions ended by the person (card removed, finished, left)",
            m.sessions_finished.clone(),
        );
        r.register(
            "sessions_timed_out",
            "Sessions wiped by the idle timeout",
            m.sessions_timed_out.clone(),
        );
        r.register(
            "tasks_completed",
            "Tasks completed, by kind (handle, pay, print, file, unfile, register, feedback)",
            m.tasks_completed.clone(),
        );
        r.register("refusals", "Refusals, by reason code", m.refusals.clone());
        r.register("payments", "Payments made", m.payments.clone());
        r.register(
            "payment_amount_fen",
            "Amount paid, in fen",
            m.payment_amount_fen.clone(),
        );
        r.register(
            "print_failures",
            "Receipts not printed, by failure kind",
            m.print_failures.clone(),
        );
        r.register(
            "paper_state",
            "The printer's paper: 1 on the current state (ok, low, out)",
            m.paper.clone(),
        );
        r.register(
            "device_up",
            "Device health by kind (reader, scanner, printer): 1 fine, 0 failed",
            m.device_up.clone(),
        );
        r.register(
            "card_read_seconds",
            "Time to read an ID card on the reader",
            m.card_read_seconds.clone(),
        );
        r.register(
            "platform_call_seconds",
            "Platform calls by operation, as the flow's worker waited for them",
            m.platform_call_seconds.clone(),
        );
        r.register(
            "frame_build_seconds",
            "Time to build one UI frame",
            m.frame_build_seconds.clone(),
        );
        KioskMetrics { registry: r, ..m }
    }

    pub fn task_completed(&self, kind: &'static str) {
        self.tasks_completed
            .get_or_create(&label("kind", kind))
            .inc();
    }

    pub fn refused(&self, reason: &str) {
        self.refusals.get_or_create(&label("reason", reason)).inc();
    }

    pub fn paid(&self, amount_fen: i64) {
        self.payments.inc();
        self.payment_amount_fen
            .inc_by(u64::try_from(amount_fen).unwrap_or(0));
    }

    pub fn print_failed(&self, kind: &str) {
        self.print_failures
            .get_or_create(&label("kind", kind))
            .inc();
    }

    /// The paper's state now: `ok`, `low` or `out`.
    pub fn paper(&self, state: &'static str) {
        for s in ["ok", "low", "out"] {
            self.paper
                .get_or_create(&label("state", s))
                .set(i64::from(s == state));
        }
    }

    pub fn device(&self, device: &'static str, up: bool) {
        self.device_up
            .get_or_create(&label("device", device))
            .set(i64::from(up));
    }

    pub fn platform_call(&self, op: &'static str, took: Duration) {
        self.platform_call_seconds
            .get_or_create(&label("op", op))
            .observe(took.as_secs_f64());
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// What the heartbeat reports of these figures (`app::heartbeat`).
    pub fn snapshot(&self) -> Snapshot {
        let paper = ["ok", "low", "out"]
            .into_iter()
            .find(|s| {
                self.paper
                    .get(&label("state", s))
                    .is_some_and(|g| g.get() == 1)
            })
            .map(str::to_string);
        let devices = ["reader", "scanner", "printer", "camera"]
            .into_iter()
            .filter_map(|d| {
                let up = self.device_up.get(&label("device", d))?.get() == 1;
                Some((d.to_string(), up))
            })
            .collect();
        Snapshot {
            sessions_started: self.sessions_started.get(),
            payments: self.payments.get(),
            paper,
            devices,
        }
    }
}

/// The kiosk's figures as its heartbeat reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub sessions_started: u64,
    pub payments: u64,
    /// `ok`, `low` or `out`; None before the printer's first status.
    pub paper: Option<String>,
    /// Each device reported so far, up or not.
    pub devices: std::collections::BTreeMap<String, bool>,
}

/// The platform server's figures.
pub struct ServerMetrics {
    registry: Registry,
    requests: Family<Labels2, Counter>,
    request_seconds: HistogramFamily<Label>,
    pub ledger_replays: Counter,
    pub ledger_in_flight: Counter,
    pub ledger_key_reused: Counter,
    pub store_conflicts_retried: Counter,
    notify_refused: Family<Label, Counter>,
    /// Refused notifications not written to the audit log (beyond the per-minute cap).
    pub notify_refused_unaudited: Counter,
}

impl ServerMetrics {
    fn new() -> Self {
        let m = ServerMetrics {
            registry: Registry::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            ledger_replays: Counter::default(),
            ledger_in_flight: Counter::default(),
            ledger_key_reused: Counter::default(),
            store_conflicts_retried: Counter::default(),
            notify_refused: Family::default(),
            notify_refused_unaudited: Counter::default(),
        };
        let mut r = Registry::with_prefix("kiosk_serve");
        r.register(
            "requests",
            "Requests by operation and HTTP status",
            m.requests.clone(),
        );
        r.register(
            "request_seconds",
            "Time to answer a request, by operation",
            m.request_seconds.clone(),
        );
        r.register(
            "ledger_replays",
            "Writes answered from the idempotency ledger (a retry of a finished request)",
            m.ledger_replays.clone(),
        );
        r.register(
            "ledger_in_flight",
            "Writes told 409: the same key is running now",
            m.ledger_in_flight.clone(),
        );
        r.register(
            "ledger_key_reused",
            "Writes told 422: the key was used for another request",
            m.ledger_key_reused.clone(),
        );
        r.register(
            "store_conflicts_retried",
            "PostgreSQL write transactions run again after a serialization failure, deadlock or unique-key race",
            m.store_conflicts_retried.clone(),
        );
        r.register(
            "notify_refused",
            "Payment notifications refused, by reason (`rate_limited`: answered 429 before any check)",
            m.notify_refused.clone(),
        );
        r.register(
            "notify_refused_unaudited",
            "Refused payment notifications beyond the per-minute cap: counted here, not audited one by one",
            m.notify_refused_unaudited.clone(),
        );
        ServerMetrics { registry: r, ..m }
    }

    pub fn request(&self, op: &'static str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&[("op", op.to_string()), ("status", status.to_string())])
            .inc();
        self.request_seconds
            .get_or_create(&label("op", op))
            .observe(took.as_secs_f64());
    }

    /// One refused payment notification (`reason`: a code such as `bad_signature`).
    pub fn notify_refused(&self, reason: &'static str) {
        self.notify_refused
            .get_or_create(&label("reason", reason))
            .inc();
    }

    /// Bring the store's running count of retried conflicts into the counter.
    pub fn sync_store_conflicts(&self, total: u64) {
        let seen = self.store_conflicts_retried.get();
        if total > seen {
            self.store_conflicts_retried.inc_by(total - seen);
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

static KIOSK: LazyLock<KioskMetrics> = LazyLock::new(KioskMetrics::new);
static SERVER: LazyLock<ServerMetrics> = LazyLock::new(ServerMetrics::new);

/// The kiosk's metrics (one per process).
pub fn kiosk() -> &'static KioskMetrics {
    &KIOSK
}

/// The platform server's metrics (one per process).
pub fn server() -> &'static ServerMetrics {
    &SERVER
}

/// Serve the kiosk's metrics on `addr` (`GET /metrics`, anything else 404) from a thread of its
/// own; one request at a time, 2 s to read a request. Returns the address listened on.
pub fn serve(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
                let mut line = String::new();
                let mut reader = BufReader::new(&stream);
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // The rest of the head (bounded), unread.
                let mut header = String::new();
                for _ in 0..100 {
                    header.clear();
                    match reader.read_line(&mut header) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if header.trim().is_empty() => break,
                        Ok(_) => {}
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("");
                let ok = line.starts_with("GET ") && (path == "/metrics" || path == "/");
                let (status, ctype, body) = if ok {
                    ("200 OK", CONTENT_TYPE, kiosk().encode())
                } else {
                    ("404 Not Found", "text/plain", "not found\n".to_string())
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        })?;
    tracing::info!(%local, "metrics on http://{local}/metrics");
    Ok(local)
}

/// Does a label value look like personal data (an ID number, a phone, a plate)? The metrics'
/// label values are codes; the tests hold every exposition to this.
pub fn looks_personal(value: &str) -> bool {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let has_cjk = value
        .chars()
        .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    // An ID number (15/18 characters, mostly digits), a phone (7+ digits), a plate (a province
    // character), a masked name (张*).
    digits >= 7 || has_cjk || value.contains('*')
}

/// Every label value in a text exposition.
pub fn label_values(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(open) = line.find('{') else { continue };
        let Some(close) = line.rfind('}') else {
            continue;
        };
        for pair in line[open + 1..close].split("\",") {
            if let Some((_, v)) = pair.split_once('=') {
                out.push(v.trim_matches('"').to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_looking_values_are_caught_and_codes_pass() {
        for bad in ["50010619851120002X", "13800138000", "渝A8K2L6", "张*"] {
            assert!(looks_personal(bad), "{bad}");
        }
        for good in [
            "handle",
            "vehicle_not_related",
            "out_of_paper",
            "200",
            "0.005",
            "+Inf",
        ] {
            assert!(!looks_personal(good), "{good}");
        }
    }

    #[test]
    fn the_server_exposition_names_its_series() {
        let s = server();
        s.request("pay", 200, Duration::from_millis(12));
        s.sync_store_conflicts(3);
        s.sync_store_conflicts(2);
        let text = s.encode();
        assert!(
            text.contains("kiosk_serve_requests_total{op=\"pay\",status=\"200\"}"),
            "{text}"
        );
        assert!(
            text.contains("kiosk_serve_request_seconds_bucket{"),
            "{text}"
        );
        assert!(
            text.contains("kiosk_serve_store_conflicts_retried_total 3"),
            "{text}"
        );
        assert!(label_values(&text).iter().all(|v| !looks_personal(v)));
    }
}
