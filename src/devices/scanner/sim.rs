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
