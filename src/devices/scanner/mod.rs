//! The QR / barcode scanner (扫码器) in serial mode: each scan arrives as the code's text followed
//! by a configurable suffix (`\r`, `\n` or `\r\n`).
//!
//! USB HID keyboard mode is not supported: a stray scan would type into whatever has focus. Set
//! the scanner to its serial (USB-CDC / RS-232) mode; `hardware/` has the profile.

pub mod line;
pub mod sim;

pub use line::{LineError, LineSplitter, MAX_SCAN, Scan, Suffix};

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::health::{Backoff, Health, HealthCell};
use super::link::{Link, Opener};
use super::{DeviceError, ErrorKind};

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
    #[error(transparent)]
    Line(#[from] LineError),
}

impl DeviceError for ScanError {
    fn kind(&self) -> ErrorKind {
        match self {
            ScanError::Timeout { .. } => ErrorKind::Timeout,
            ScanError::Disconnected { .. } => ErrorKind::Disconnected,
            ScanError::Line(LineError::Overlong) => ErrorKind::Protocol,
            ScanError::Line(LineError::BadSuffix(_)) => ErrorKind::Config,
        }
    }
}

/// A scanner: the next scan before `deadline`.
pub trait Scanner {
    type Error: DeviceError;
    fn next_scan(&mut self, deadline: Instant) -> Result<Scan, Self::Error>;
}

impl<T: Scanner + ?Sized> Scanner for &mut T {
    type Error = T::Error;
    fn next_scan(&mut self, deadline: Instant) -> Result<Scan, Self::Error> {
        T::next_scan(self, deadline)
    }
}

impl<T: Scanner + ?Sized> Scanner for Box<T> {
    type Error = T::Error;
    fn next_scan(&mut self, deadline: Instant) -> Result<Scan, Self::Error> {
        T::next_scan(self, deadline)
    }
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
                return scan.map_err(ScanError::from);
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
                Err(e) if crate::devices::link::is_nothing_yet(&e) => {}
                Err(e) => {
                    tracing::warn!(port = %self.opener.describe(), error = %e, "scanner port lost");
                    self.link = None;
                    self.health.set(Health::Absent(e.to_string()));
                }
            }
        }
    }
}
/// The scanner a [`DeviceUri`](crate::devices::DeviceUri) names.
pub enum ScannerDevice {
    Serial(SerialScanner<super::link::SerialOpener>),
    Sim(sim::ChannelScanner, sim::SimScannerHandle),
}

impl ScannerDevice {
    pub fn open(uri: &super::DeviceUri, suffix: Suffix) -> Result<Self, super::UriError> {
        match uri {
            super::DeviceUri::Sim => {
                let (s, h) = sim::channel_scanner(suffix);
                Ok(ScannerDevice::Sim(s, h))
            }
            super::DeviceUri::Serial { path, baud } => {
                Ok(ScannerDevice::Serial(SerialScanner::new(
                    super::link::SerialOpener::new(path, baud.unwrap_or(9600)),
                    suffix,
                )))
            }
            other => Err(super::UriError::Invalid(
                other.to_string(),
                "a scanner is sim or serial:PATH",
            )),
        }
    }

    /// The simulator's handle (demo mode only).
    pub fn sim_handle(&self) -> Option<&sim::SimScannerHandle> {
        match self {
            ScannerDevice::Sim(_, h) => Some(h),
            ScannerDevice::Serial(_) => None,
        }
    }
}

impl Scanner for ScannerDevice {
    type Error = ScanError;
    fn next_scan(&mut self, deadline: Instant) -> Result<Scan, ScanError> {
        match self {
            ScannerDevice::Serial(s) => s.next_scan(deadline),
            ScannerDevice::Sim(s, _) => s.next_scan(deadline),
        }
    }
}

/// What a scanned text is, as far as the devices layer can tell. A vehicle QR token is verified
/// by the store (signature, expiry, plate and owner) before anything else — the scanner hands
/// its text on untouched and never trusts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannedCode {
    /// A receipt's verification code printed by a kiosk.
    Receipt(crate::devices::printer::receipts::ReceiptCode),
    /// Anything else (a vehicle QR token goes to the store's verifier).
    Other(String),
}

impl ScannedCode {
    pub fn classify(text: &str) -> Self {
        match crate::devices::printer::receipts::ReceiptCode::parse(text) {
            Ok(code) => ScannedCode::Receipt(code),
            Err(_) => ScannedCode::Other(text.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanned_texts_are_classified() {
        let code = crate::devices::printer::receipts::samples::payment("CQ-DEMO-0001").code();
        assert_eq!(
            ScannedCode::classify(&code.encode()),
            ScannedCode::Receipt(code)
        );
        let token = "VQR1.eyJwbGF0ZSI6Iua4nUExMjM0NSJ9.c2lnbmF0dXJl";
        assert_eq!(
            ScannedCode::classify(token),
            ScannedCode::Other(token.into())
        );
    }
}
