//! The QR / barcode scanner (扫码器) in serial mode: each scan arrives as the code's text followed
//! by a configurable suffix (`\r`, `\n` or `\r\n`).
//!
//! USB HID keyboard mode is not supported: a stray scan would type into whatever has focus. Set
//! the scanner to its serial (USB-CDC / RS-232) mode; `hardware/` has the profile.

pub mod sim;

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::health::{Backoff, Health, HealthCell};
use super::link::{Link, Opener};
use super::{DeviceError, ErrorKind};

/// What the scanner appends to each scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Suffix {
    Cr,
    Lf,
    #[default]
    CrLf,
}

impl Suffix {
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Suffix::Cr => b"\r",
            Suffix::Lf => b"\n",
            Suffix::CrLf => b"\r\n",
        }
    }
}

impl std::str::FromStr for Suffix {
    type Err = ScanError;
    /// Accepts the escaped forms of `kiosk.toml` and the command line (`\r`, `\n`, `\r\n`) and
    /// the names `cr`, `lf`, `crlf`.
    fn from_str(s: &str) -> Result<Self, ScanError> {
        match s {
            "\r" | "\\r" | "cr" | "CR" => Ok(Suffix::Cr),
            "\n" | "\\n" | "lf" | "LF" => Ok(Suffix::Lf),
            "\r\n" | "\\r\\n" | "crlf" | "CRLF" => Ok(Suffix::CrLf),
            other => Err(ScanError::BadSuffix(other.escape_default().to_string())),
        }
    }
}

/// One scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// The code's text.
    Text(String),
    /// Bytes that are not UTF-8 (a scanner set to a legacy code page, or a binary code).
    NotUtf8(Vec<u8>),
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("nothing was scanned within {waited_ms} ms")]
    Timeout { waited_ms: u128 },
    #[error("the scanner on {port} is not connected: {source}")]
    Disconnected {
        port: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "a scan longer than {MAX_SCAN} bytes arrived without its suffix (wrong suffix setting?)"
    )]
    Overlong,
    #[error("scanner suffix “{0}” is not one of \\r, \\n, \\r\\n")]
    BadSuffix(String),
}

impl DeviceError for ScanError {
    fn kind(&self) -> ErrorKind {
        match self {
            ScanError::Timeout { .. } => ErrorKind::Timeout,
            ScanError::Disconnected { .. } => ErrorKind::Disconnected,
            ScanError::Overlong => ErrorKind::Protocol,
            ScanError::BadSuffix(_) => ErrorKind::Config,
        }
    }
}

/// The longest scan accepted (a QR code holds at most 2,953 bytes).
pub const MAX_SCAN: usize = 4096;

/// Splits the scanner's byte stream into scans.
#[derive(Debug, Clone)]
pub struct LineSplitter {
    suffix: Suffix,
    buf: Vec<u8>,
    overlong: bool,
}

impl LineSplitter {
    pub fn new(suffix: Suffix) -> Self {
        LineSplitter {
            suffix,
            buf: Vec::new(),
            overlong: false,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete scan, if any. Empty lines (a stray suffix, or the `\n` of a `\r\n`
    /// scanner configured as `\r`) are skipped; an overlong run without suffix is dropped once
    /// with an error.
    pub fn next_scan(&mut self) -> Option<Result<Scan, ScanError>> {
        loop {
            let sfx = self.suffix.bytes();
            let Some(end) = self.buf.windows(sfx.len()).position(|w| w == sfx) else {
                if self.buf.len() > MAX_SCAN {
                    self.buf.clear();
                    self.overlong = true;
                    return Some(Err(ScanError::Overlong));
                }
                return None;
            };
            let line: Vec<u8> = self.buf.drain(..end + sfx.len()).take(end).collect();
            if std::mem::take(&mut self.overlong) {
                // The tail of the overlong scan.
                continue;
            }
            // A scanner set to \r\n but configured as \r or \n leaves the other byte around.
            let trimmed: &[u8] = trim_line_ends(&line);
            if trimmed.is_empty() {
                continue;
            }
            return Some(Ok(match String::from_utf8(trimmed.to_vec()) {
                Ok(text) => Scan::Text(text),
                Err(e) => Scan::NotUtf8(e.into_bytes()),
            }));
        }
    }
}

fn trim_line_ends(mut s: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// A scanner: the next scan before `deadline`.
pub trait Scanner {
    type Error: DeviceError;
    fn next_scan(&mut self, deadline: Instant) -> Result<Scan, Self::Error>;
}

/// A scanner in serial mode behind an [`Opener`]; a port that went away is reopened with
/// backoff while waiting.
pub struct SerialScanner<O: Opener> {
    opener: O,
    link: Option<Box<dyn Link>>,
    splitter: LineSplitter,
    /// Times the port was (re)opened.
    pub opens: u32,
    /// Published health: ok while the port is open, absent while it is gone.
    pub health: HealthCell,
}

impl<O: Opener> SerialScanner<O> {
    pub fn new(opener: O, suffix: Suffix) -> Self {
        SerialScanner {
            opener,
            link: None,
            splitter: LineSplitter::new(suffix),
            opens: 0,
            health: HealthCell::default(),
        }
    }
}

impl<O: Opener> Scanner for SerialScanner<O> {
    type Error = ScanError;

    fn next_scan(&mut self, deadline: Instant) -> Result<Scan, ScanError> {
        let started = Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
        let mut buf = [0u8; 256];
        loop {
            if let Some(scan) = self.splitter.next_scan() {
                return scan;
            }
            if Instant::now() >= deadline {
                return Err(ScanError::Timeout {
                    waited_ms: started.elapsed().as_millis(),
                });
            }
            if self.link.is_none() {
                match self.opener.open() {
                    Ok(link) => {
                        self.opens += 1;
                        self.link = Some(link);
                        self.health.set(Health::Ok);
                        backoff.succeeded();
                    }
                    Err(source) => {
                        self.health.set(Health::Absent(format!(
                            "{}: {source}",
                            self.opener.describe()
                        )));
                        backoff.failed(Instant::now());
                        if Instant::now() + backoff.wait(Instant::now()) >= deadline {
                            return Err(ScanError::Disconnected {
                                port: self.opener.describe(),
                                source,
                            });
                        }
                        std::thread::sleep(backoff.wait(Instant::now()));
                        continue;
                    }
                }
            }
            let link = self.link.as_mut().expect("open");
            match link.read(&mut buf) {
                Ok(0) => {
                    tracing::warn!(port = %self.opener.describe(), "scanner port closed");
                    self.link = None;
                    self.health
                        .set(Health::Absent("the port was closed".into()));
                }
                Ok(n) => self.splitter.push(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    tracing::warn!(port = %self.opener.describe(), error = %e, "scanner port lost");
                    self.link = None;
                    self.health.set(Health::Absent(e.to_string()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(suffix: Suffix, chunks: &[&[u8]]) -> Vec<Scan> {
        let mut s = LineSplitter::new(suffix);
        let mut out = vec![];
        for c in chunks {
            s.push(c);
            while let Some(r) = s.next_scan() {
                out.push(r.unwrap());
            }
        }
        out
    }

    fn text(s: &str) -> Scan {
        Scan::Text(s.into())
    }

    #[test]
    fn each_suffix_splits_scans() {
        type Case = (Suffix, &'static [&'static [u8]], Vec<Scan>);
        let table: [Case; 5] = [
            (Suffix::Cr, &[b"ABC\rDEF\r"], vec![text("ABC"), text("DEF")]),
            (Suffix::Lf, &[b"ABC\nDEF\n"], vec![text("ABC"), text("DEF")]),
            (
                Suffix::CrLf,
                &[b"AB", b"C\r", b"\nDEF\r\n"],
                vec![text("ABC"), text("DEF")],
            ),
            // A \r\n scanner configured as \n: the stray \r is trimmed.
            (Suffix::Lf, &[b"ABC\r\n"], vec![text("ABC")]),
            // Empty lines are not scans.
            (Suffix::Cr, &[b"\r\rX\r"], vec![text("X")]),
        ];
        for (suffix, chunks, expected) in table {
            assert_eq!(split(suffix, chunks), expected, "{suffix:?}");
        }
    }

    #[test]
    fn chinese_text_arrives_whole_even_when_split_mid_character() {
        let bytes = "渝A12345\r\n".as_bytes();
        let (a, b) = bytes.split_at(2);
        assert_eq!(split(Suffix::CrLf, &[a, b]), vec![text("渝A12345")]);
    }

    #[test]
    fn non_utf8_is_reported_not_crashed_on() {
        let got = split(Suffix::Cr, &[b"\xd3\xe5A1\r"]);
        assert_eq!(got, vec![Scan::NotUtf8(b"\xd3\xe5A1".to_vec())]);
    }

    #[test]
    fn an_overlong_scan_is_dropped_once() {
        let mut s = LineSplitter::new(Suffix::Cr);
        s.push(&vec![b'A'; MAX_SCAN + 1]);
        assert!(matches!(s.next_scan(), Some(Err(ScanError::Overlong))));
        s.push(b"AAA\rOK\r");
        assert_eq!(s.next_scan().unwrap().unwrap(), text("OK"));
    }

    #[test]
    fn suffixes_parse_from_config_spellings() {
        for (s, expected) in [
            ("\r", Suffix::Cr),
            ("\\n", Suffix::Lf),
            ("\r\n", Suffix::CrLf),
            ("crlf", Suffix::CrLf),
        ] {
            assert_eq!(s.parse::<Suffix>().unwrap(), expected);
        }
        assert!("\t".parse::<Suffix>().is_err());
    }
}
