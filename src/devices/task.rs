//! The devices from async code (the kiosk's driver waits on several things at once): each call
//! runs the blocking device core on tokio's blocking pool with its deadline, and hands the
//! device back with the result. The blocking core stays the one place the protocol lives.

use std::time::{Duration, Instant};

use super::printer::{PrintQueue, ReceiptPrinter};
use super::reader::CardReader;
use super::scanner::{Scan, Scanner};
use crate::domain::IdCard;

/// A device task that ended without handing the device back (it panicked or was cancelled).
#[derive(Debug, thiserror::Error)]
#[error("the device task ended abnormally: {0}")]
pub struct TaskFailed(String);

/// Wait up to `timeout` for a card.
pub async fn read_card<R>(
    mut reader: R,
    timeout: Duration,
) -> Result<(R, Result<IdCard, R::Error>), TaskFailed>
where
    R: CardReader + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let r = reader.read_card(Instant::now() + timeout);
        (reader, r)
    })
    .await
    .map_err(|e| TaskFailed(e.to_string()))
}

/// Wait up to `timeout` for a scan.
pub async fn next_scan<S>(
    mut scanner: S,
    timeout: Duration,
) -> Result<(S, Result<Scan, S::Error>), TaskFailed>
where
    S: Scanner + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let r = scanner.next_scan(Instant::now() + timeout);
        (scanner, r)
    })
    .await
    .map_err(|e| TaskFailed(e.to_string()))
}

/// Print what is queued; returns the ids printed (the rest stay queued for reprint).
pub async fn print_pending<P>(
    mut queue: PrintQueue,
    mut printer: P,
) -> Result<(PrintQueue, P, Vec<u64>), TaskFailed>
where
    P: ReceiptPrinter + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let printed = queue.print_pending(&mut printer);
        (queue, printer, printed)
    })
    .await
    .map_err(|e| TaskFailed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::DeviceUri;
    use crate::devices::reader::{ReaderDevice, sim::test_cards};
    use crate::devices::scanner::{ScannerDevice, Suffix};

    #[tokio::test]
    async fn a_card_and_a_scan_are_awaited_side_by_side() {
        let reader = ReaderDevice::open(&DeviceUri::Sim).unwrap();
        let scanner = ScannerDevice::open(&DeviceUri::Sim, Suffix::CrLf).unwrap();
        let card = test_cards().remove(0);
        reader.sim_handle().unwrap().place(card.clone());
        scanner.sim_handle().unwrap().scan("VQR1.x");
        let (r, s) = tokio::join!(
            read_card(reader, Duration::from_secs(2)),
            next_scan(scanner, Duration::from_secs(2))
        );
        assert_eq!(r.unwrap().1.unwrap(), card);
        assert_eq!(s.unwrap().1.unwrap(), Scan::Text("VQR1.x".into()));
    }

    #[tokio::test]
    async fn the_queue_prints_off_the_async_thread() {
        let (printer, view) = crate::devices::printer::open(
            &DeviceUri::Sim,
            crate::devices::printer::Paper::Mm58,
            None,
        )
        .unwrap();
        let mut q = PrintQueue::in_memory();
        let (id, _) = q.submit("test", vec![0x1B, b'@']);
        let (_, _, printed) = print_pending(q, printer).await.unwrap();
        assert_eq!(printed, vec![id]);
        assert_eq!(view.unwrap().lock().unwrap().jobs.len(), 1);
    }
}
