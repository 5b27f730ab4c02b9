//! The scanner simulator: sends scans (text + suffix) down a pseudo-terminal, as a scanner in
//! serial mode does.

use std::io;
use std::time::Duration;

use super::Suffix;
use crate::devices::pty::Pty;

/// The bytes a serial scanner sends for one scan of `text`.
pub fn scan_bytes(text: &[u8], suffix: Suffix) -> Vec<u8> {
    let mut out = text.to_vec();
    out.extend_from_slice(suffix.bytes());
    out
}

/// Scan `codes` in turn every `interval` until `stop` is set, as a person holding codes under
/// the scanner would. A scan nobody read before the next one is dropped, so a client that opens
/// the port late gets a fresh scan rather than a backlog.
pub fn serve_pty(
    pty: &mut Pty,
    codes: &[Vec<u8>],
    suffix: Suffix,
    interval: Duration,
    stop: &std::sync::atomic::AtomicBool,
) -> io::Result<()> {
    for code in codes.iter().cycle() {
        if stop.load(std::sync::atomic::Ordering::Relaxed) || codes.is_empty() {
            break;
        }
        pty.drop_unread()?;
        pty.send(&scan_bytes(code, suffix))?;
        std::thread::sleep(interval);
    }
    Ok(())
}

/// Send each scan, `interval` apart, `chunk` bytes at a time (0: whole).
pub fn send_scans(
    pty: &mut Pty,
    scans: &[Vec<u8>],
    suffix: Suffix,
    interval: Duration,
    chunk: usize,
) -> io::Result<()> {
    for scan in scans {
        let bytes = scan_bytes(scan, suffix);
        if chunk == 0 {
            pty.send(&bytes)?;
        } else {
            for piece in bytes.chunks(chunk) {
                pty.send(piece)?;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        std::thread::sleep(interval);
    }
    Ok(())
}

/// The in-process scanner simulator (demo mode): scans pushed through a [`SimScannerHandle`]
/// arrive as the bytes a serial scanner sends and go through the same line splitter.
pub struct ChannelScanner {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    splitter: super::LineSplitter,
}

/// Scans a code on the simulated scanner.
#[derive(Clone)]
pub struct SimScannerHandle {
    tx: std::sync::mpsc::Sender<Vec<u8>>,
    suffix: Suffix,
}

impl SimScannerHandle {
    /// Scan a code with this text.
    pub fn scan(&self, text: &str) {
        self.scan_bytes(text.as_bytes());
    }
    /// Scan a code whose content is these bytes (need not be UTF-8).
    pub fn scan_bytes(&self, bytes: &[u8]) {
        // The scanner is gone only when its receiver is; nothing to report then.
        let _ = self.tx.send(scan_bytes(bytes, self.suffix));
    }
}

/// A simulated scanner and its handle.
pub fn channel_scanner(suffix: Suffix) -> (ChannelScanner, SimScannerHandle) {
    let (tx, rx) = std::sync::mpsc::channel();
    (
        ChannelScanner {
            rx,
            splitter: super::LineSplitter::new(suffix),
        },
        SimScannerHandle { tx, suffix },
    )
}

impl super::Scanner for ChannelScanner {
    type Error = super::ScanError;

    fn next_scan(&mut self, deadline: std::time::Instant) -> Result<super::Scan, super::ScanError> {
        let started = std::time::Instant::now();
        loop {
            if let Some(scan) = self.splitter.next_scan() {
                return scan.map_err(super::ScanError::from);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(bytes) => self.splitter.push(&bytes),
                Err(_) => {
                    return Err(super::ScanError::Timeout {
                        waited_ms: started.elapsed().as_millis(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Scan, Scanner};
    use super::*;

    #[test]
    fn the_channel_scanner_hands_over_scans_in_order() {
        let (mut s, h) = channel_scanner(Suffix::Cr);
        h.scan("渝A12345");
        h.scan_bytes(b"\xff");
        let soon = || std::time::Instant::now() + Duration::from_millis(100);
        assert_eq!(s.next_scan(soon()).unwrap(), Scan::Text("渝A12345".into()));
        assert_eq!(s.next_scan(soon()).unwrap(), Scan::NotUtf8(vec![0xff]));
        assert!(s.next_scan(soon()).is_err());
    }
}
