//! A `kiosk serve` subprocess over a SQLite file, and a `RemotePlatform` calling it: for
//! `tests/server.rs` and the `Platform` contract suite (`tests/platform_contract.rs`):
//!
//! ```ignore
//! #[path = "support/remote.rs"]
//! mod remote;
//! let (_server, platform) = remote::start_remote(&db_path); // platform: RemotePlatform
//! ```
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kiosk::remote::RemotePlatform;
use kiosk::wire::auth::KioskIdentity;

/// A running `kiosk serve`; killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Server {
    /// The server process's id (a test may kill it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kill the server now (SIGKILL) and wait for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Start `kiosk serve --database DB --listen 127.0.0.1:0 ARGS…` and wait until it listens.
pub fn start_server(db: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .arg("serve")
        .arg("--database")
        .arg(db.as_ref())
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("KIOSK_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("kiosk serve starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(first)) = lines.next() {
            let _ = tx.send(first);
        }
        // Keep draining so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let first = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let status = child.wait().ok();
            panic!("kiosk serve did not say where it listens (exit: {status:?})");
        }
    };
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .trim()
        .to_string();
    Server { child, url }
}

/// A server configuration (`kiosk serve --config FILE`) in `dir` running the demo parts without
/// the demo identity (`demo = true` in the file, no `--demo`): servers of listed kiosks on the
/// demo city. Returns the path as a string for the arguments.
pub fn demo_parts_config(dir: &Path) -> String {
    let path = dir.join("serve-demo-parts.toml");
    std::fs::write(&path, "demo = true\n").expect("write the server's config");
    path.display().to_string()
}

/// A demo server (`--demo`: the built-in demo identity is accepted).
pub fn start_demo_server(db: &Path) -> Server {
    start_server(db, &["--demo"])
}

/// A client of `server` calling as the demo identity.
pub fn demo_client(server: &Server) -> RemotePlatform {
    RemotePlatform::new(&server.url, KioskIdentity::demo()).expect("a valid url")
}

/// A demo server over `db` and a `RemotePlatform` calling it (keep the server alive while the
/// platform is used).
pub fn start_remote(db: &Path) -> (Server, RemotePlatform) {
    let server = start_demo_server(db);
    let platform = demo_client(&server);
    (server, platform)
}

/// `kiosk keygen --out DIR/NAME`: the key file and the public key it printed.
pub fn keygen(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let path = dir.join(name);
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["keygen", "--out"])
        .arg(&path)
        .output()
        .expect("kiosk keygen runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        path,
        String::from_utf8(out.stdout).unwrap().trim().to_string(),
    )
}
