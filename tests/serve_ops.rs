//! `kiosk serve` as systemd runs it (`Type=notify`): `READY=1` reaches a fake `NOTIFY_SOCKET`
//! once the server listens, and `GET /metrics` shows the requests by operation and status, the
//! latency histogram, the idempotency ledger's counters and the store's retried conflicts.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

fn http(addr: &str, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_notifies_ready_and_counts_requests_on_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("city.sqlite3");
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["db", "init", "--demo", "--persons", "20", "--path"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args([
            "serve",
            "--demo",
            "--revert-every",
            "0",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--database")
        .arg(&db)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("KIOSK_LOG_STDERR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Killed(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();

    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("READY=1 from kiosk serve");
    assert_eq!(String::from_utf8_lossy(&buf[..n]).trim(), "READY=1");

    // An unsigned request: refused (401), and counted.
    let refused = http(
        &addr,
        "POST /v1/person HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");

    let metrics = http(
        &addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("text/plain; version=0.0.4"), "{metrics}");
    for series in [
        "kiosk_serve_requests_total{op=\"person\",status=\"401\"} 1",
        "kiosk_serve_request_seconds_count{op=\"person\"} 1",
        "kiosk_serve_ledger_replays_total 0",
        "kiosk_serve_ledger_in_flight_total 0",
        "kiosk_serve_ledger_key_reused_total 0",
        "kiosk_serve_store_conflicts_retried_total 0",
    ] {
        assert!(metrics.contains(series), "{series} missing:\n{metrics}");
    }
    let body = metrics.split_once("\r\n\r\n").unwrap().1;
    for v in kiosk::ops::metrics::label_values(body) {
        assert!(!kiosk::ops::metrics::looks_personal(&v), "{v}");
    }
}
