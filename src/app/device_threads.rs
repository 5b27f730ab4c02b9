//! Real devices feeding the flow: a thread per input device (reader, scanner) that blocks on the
//! device with short deadlines and sends what it reads as flow events. A device that goes away
//! is retried with backoff (1 s doubling to 30 s); nothing personal is logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use crate::devices::reader::CardReader;
use crate::devices::reader::serial::serial_reader;
use crate::devices::scanner::{Scan, Scanner, SerialScanner};
use crate::devices::{DeviceError, DeviceUri, ErrorKind};
use crate::flow::Event;
use crate::ops::watchdog::{Heartbeat, Mode};

/// Called after an event was sent, so the window wakes up to draw it.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

fn backoff_sleep(backoff: &mut Duration, stop: &AtomicBool) {
    let until = Instant::now() + *backoff;
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
    }
    *backoff = (*backoff * 2).min(BACKOFF_MAX);
}

/// How long the reader thread waits for a card in one call, between two heartbeats and checks
/// of `stop` (a card found is then read within `card_read_ms`).
pub const CARD_WAIT: Duration = Duration::from_secs(2);

/// Start the reader thread when `kiosk.toml` names a real reader (`sim` is driven by the panel).
/// `card_read_ms` (`[timeouts] card_read_ms`, then the applied remote setting) is how long a card
/// found may take to select and read, read again before each wait.
pub fn spawn_reader(
    uri: &str,
    card_read_ms: Arc<AtomicU32>,
    events: Sender<Event>,
    notify: Notify,
    stop: Arc<AtomicBool>,
) -> Result<Option<std::thread::JoinHandle<()>>, crate::devices::UriError> {
    let (path, baud) = match uri.parse::<DeviceUri>()? {
        DeviceUri::Serial { path, baud } => (path, baud.unwrap_or(115_200)),
        _ => return Ok(None),
    };
    let handle = std::thread::Builder::new()
        .name("id-card-reader".into())
        .spawn(move || {
            let mut reader = serial_reader(path, baud);
            let mut backoff = BACKOFF_START;
            let heartbeat = Heartbeat::register("id-card-reader", Mode::Periodic);
            while !stop.load(Ordering::Relaxed) {
                heartbeat.beat();
                reader.set_card_read(Duration::from_millis(u64::from(
                    card_read_ms.load(Ordering::Relaxed),
                )));
                let started = Instant::now();
                match reader.read_card(Instant::now() + CARD_WAIT) {
                    Ok(card) => {
                        backoff = BACKOFF_START;
                        crate::ops::metrics::kiosk()
                            .card_read_seconds
                            .observe(started.elapsed().as_secs_f64());
                        tracing::info!(card = %card.id_number, "card read");
                        if events.send(Event::CardPlaced(card)).is_err() {
                            return;
                        }
                        notify();
                    }
                    Err(e) if e.kind() == ErrorKind::Timeout => {}
                    Err(e) => {
                        tracing::warn!(error = %e, kind = ?e.kind(), "card reader; retrying");
                        let _backing_off = heartbeat.busy(BACKOFF_MAX + BACKOFF_START);
                        backoff_sleep(&mut backoff, &stop);
                    }
                }
            }
        })
        .expect("spawn the reader thread");
    Ok(Some(handle))
}

/// Start the scanner thread when `kiosk.toml` names a real scanner.
pub fn spawn_scanner(
    uri: &str,
    suffix: &str,
    events: Sender<Event>,
    notify: Notify,
    stop: Arc<AtomicBool>,
) -> Result<Option<std::thread::JoinHandle<()>>, crate::devices::UriError> {
    let (path, baud) = match uri.parse::<DeviceUri>()? {
        DeviceUri::Serial { path, baud } => (path, baud.unwrap_or(9600)),
        _ => return Ok(None),
    };
    let suffix = suffix.parse().unwrap_or_default();
    let handle = std::thread::Builder::new()
        .name("qr-scanner".into())
        .spawn(move || {
            let mut scanner =
                SerialScanner::new(crate::devices::link::SerialOpener::new(path, baud), suffix);
            let mut backoff = BACKOFF_START;
            let heartbeat = Heartbeat::register("qr-scanner", Mode::Periodic);
            while !stop.load(Ordering::Relaxed) {
                heartbeat.beat();
                match scanner.next_scan(Instant::now() + Duration::from_secs(2)) {
                    Ok(Scan::Text(text)) => {
                        backoff = BACKOFF_START;
                        if events.send(Event::Scanned(text)).is_err() {
                            return;
                        }
                        notify();
                    }
                    Ok(Scan::NotUtf8(bytes)) => {
                        tracing::warn!(len = bytes.len(), "scanned bytes are not UTF-8; ignored");
                        // The flow refuses it as "not a vehicle code" like any other bad scan.
                        let _ = events.send(Event::Scanned(String::from_utf8_lossy(&bytes).into()));
                        notify();
                    }
                    Err(e) if e.kind() == ErrorKind::Timeout => {}
                    Err(e) => {
                        tracing::warn!(error = %e, kind = ?e.kind(), "scanner; retrying");
                        let _backing_off = heartbeat.busy(BACKOFF_MAX + BACKOFF_START);
                        backoff_sleep(&mut backoff, &stop);
                    }
                }
            }
        })
        .expect("spawn the scanner thread");
    Ok(Some(handle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::sim_source::card_for;
    use crate::devices::pty::Pty;
    use crate::devices::reader::sim::{Faults, SimReader, SimSession};
    use crate::domain::IdNumber;

    #[test]
    fn the_reader_thread_turns_a_card_on_a_real_serial_port_into_an_event() {
        let mut pty = Pty::open().unwrap();
        let path = pty.path().display().to_string();
        let id = IdNumber::parse("50010619851120002X").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let serve_stop = stop.clone();
        let server = std::thread::spawn(move || {
            let mut session =
                SimSession::new(SimReader::with_card(card_for(&id)), Faults::default());
            let mut buf = [0u8; 256];
            while !serve_stop.load(Ordering::Relaxed) {
                if let Ok(n) = pty.read_some(&mut buf, Duration::from_millis(50)) {
                    for answer in session.on_bytes(&buf[..n]) {
                        let _ = pty.send(&answer);
                    }
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let woken = Arc::new(AtomicBool::new(false));
        let w = woken.clone();
        let handle = spawn_reader(
            &format!("serial:{path}"),
            Arc::new(AtomicU32::new(10_000)),
            tx,
            Arc::new(move || w.store(true, Ordering::Relaxed)),
            stop.clone(),
        )
        .unwrap()
        .expect("a serial reader starts a thread");
        let event = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a card event");
        stop.store(true, Ordering::Relaxed);
        match event {
            Event::CardPlaced(card) => assert_eq!(card.id_number.expose(), "50010619851120002X"),
            other => panic!("unexpected {other:?}"),
        }
        handle.join().unwrap();
        server.join().unwrap();
        assert!(woken.load(Ordering::Relaxed), "the window is woken");
    }

    #[test]
    fn simulated_devices_start_no_thread_and_bad_uris_are_refused() {
        let (tx, _rx) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let n: Notify = Arc::new(|| {});
        assert!(
            spawn_reader("sim", Arc::default(), tx.clone(), n.clone(), stop.clone())
                .unwrap()
                .is_none()
        );
        assert!(
            spawn_scanner("sim", "\r\n", tx.clone(), n.clone(), stop.clone())
                .unwrap()
                .is_none()
        );
        assert!(spawn_reader("bogus:x", Arc::default(), tx, n, stop).is_err());
    }
}
