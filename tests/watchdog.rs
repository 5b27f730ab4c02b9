//! The systemd watchdog against a fake service manager: the test binds a Unix datagram socket,
//! points `NOTIFY_SOCKET` at it and sets `WATCHDOG_USEC`, as systemd does for `Type=notify` with
//! `WatchdogSec`. `READY=1` arrives, `WATCHDOG=1` arrives while the UI loop, the flow worker and
//! a device thread move, and stops while the UI loop hangs (then resumes when it moves again).
//!
//! One test in this binary: the environment is set before any other thread exists.

use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use kiosk::ops::watchdog::{self, Heartbeat, Mode, Supervisor};

/// Datagrams received within `window`.
fn received(sock: &UnixDatagram, window: Duration) -> Vec<String> {
    let until = Instant::now() + window;
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).trim().to_string()),
            Err(_) => break,
        }
    }
    out
}

fn pings(msgs: &[String]) -> usize {
    msgs.iter().filter(|m| *m == "WATCHDOG=1").count()
}

#[test]
fn ready_then_pings_while_healthy_and_none_while_the_ui_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    // SAFETY: the only test in this binary; no other thread of ours reads the environment yet.
    unsafe {
        std::env::set_var("NOTIFY_SOCKET", &path);
        std::env::set_var("WATCHDOG_USEC", "300000");
        std::env::remove_var("WATCHDOG_PID");
    }
    let sup = Supervisor::from_env().expect("WATCHDOG_USEC is set");
    assert_eq!(sup.every, Duration::from_millis(100));

    // A UI loop: draws a frame when poked (the supervisor's repaint request), unless hung.
    let hang = Arc::new(AtomicBool::new(false));
    let (poke_tx, poke_rx) = channel::<()>();
    let ui = Heartbeat::register("ui", Mode::Periodic);
    ui.set_poke(Box::new(move || {
        let _ = poke_tx.send(());
    }));
    let (ui_thread, ui_hang) = (ui.clone(), hang.clone());
    std::thread::spawn(move || {
        let mut frames = 0u64;
        loop {
            while ui_hang.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5)); // frozen: no frame
            }
            match poke_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if ui_hang.load(Ordering::Relaxed) {
                continue;
            }
            ui_thread.beat();
            frames += 1;
            if frames >= 2 {
                watchdog::ready(); // after the first painted frame
            }
        }
    });
    // An idle flow worker and a device thread looping on short reads.
    let _worker = Heartbeat::register("flow-worker", Mode::OnDemand);
    let reader = Heartbeat::register("id-card-reader", Mode::Periodic);
    let r = reader.clone();
    std::thread::spawn(move || {
        loop {
            r.beat();
            std::thread::sleep(Duration::from_millis(20));
        }
    });

    let stop = Arc::new(AtomicBool::new(false));
    sup.spawn(stop.clone()).unwrap();

    let first = received(&sock, Duration::from_millis(1000));
    assert_eq!(
        first.first().map(String::as_str),
        Some("READY=1"),
        "{first:?}"
    );
    assert_eq!(first.iter().filter(|m| *m == "READY=1").count(), 1);
    assert!(pings(&first) >= 4, "healthy: pings every 100 ms: {first:?}");

    // The UI loop hangs: after at most the staleness bound (150 ms), no more pings.
    hang.store(true, Ordering::Relaxed);
    let _ = received(&sock, Duration::from_millis(300));
    let frozen = received(&sock, Duration::from_millis(800));
    assert_eq!(
        pings(&frozen),
        0,
        "pings went on with a frozen UI: {frozen:?}"
    );

    // It moves again: the pings come back.
    hang.store(false, Ordering::Relaxed);
    let back = received(&sock, Duration::from_millis(800));
    assert!(pings(&back) >= 3, "{back:?}");

    // A worker stuck on one call past its deadline stops them too.
    let stuck = Heartbeat::register("flow-worker", Mode::OnDemand);
    let call = stuck.busy(Duration::from_millis(200));
    let _ = received(&sock, Duration::from_millis(400));
    let blocked = received(&sock, Duration::from_millis(600));
    assert_eq!(pings(&blocked), 0, "{blocked:?}");
    drop(call);
    let again = received(&sock, Duration::from_millis(600));
    assert!(pings(&again) >= 2, "{again:?}");
    stop.store(true, Ordering::Relaxed);
}
