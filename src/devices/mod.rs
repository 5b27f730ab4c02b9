//! Devices: the resident ID card reader (居民身份证阅读器), the QR scanner (扫码器) and the receipt
//! printer (热敏小票打印机), each behind one small trait, with real transports and simulators that
//! speak the same bytes (see the shared spec `devices.md`).
//!
//! - [`reader`]: GA 467 frames, the text-block parser, [`reader::CardReader`], the serial adapter
//!   and the simulator.
//! - [`scanner`]: serial line mode, [`scanner::Scanner`], the simulator.
//! - [`printer`]: the ESC/POS builder, receipt layouts, transports, status, the print queue and
//!   the interpreter that renders ESC/POS to PNG (the printer simulator).
//! - [`health`]: ok / degraded / absent per device, and reopen-with-backoff.
//! - [`camera`]: [`camera::Camera`] (one JPEG frame before a deadline), the V4L2 webcam and the
//!   test camera that plays image files.
//! - [`task`]: the blocking devices awaited from async code (tokio's blocking pool).
//!
//! `kiosk device …` (the machine interfaces of devices.md) lives at the binary's edge, `crate::cli::device`.

pub mod camera;
pub mod health;
pub mod link;
pub mod list;
pub mod printer;
pub mod pty;
pub mod reader;
pub mod scanner;
pub mod task;
pub mod uri;

pub use uri::{DeviceUri, UriError};

/// What went wrong with a device, in the few categories the kiosk reacts to differently (shaped
/// like `embedded-hal`'s error kinds: new kinds may be added, so callers match with a `_` arm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// Nothing (or nothing usable) arrived before the deadline.
    Timeout,
    /// The device is absent or went away (cable pulled, port closed).
    Disconnected,
    /// Bytes arrived but do not follow the protocol (bad frame, bad checksum twice, bad text).
    Protocol,
    /// The device answered and reported an error of its own (e.g. read failed, paper out).
    DeviceReported,
    /// The device worked, but what it read cannot be trusted or used (e.g. bad ID check digit).
    InvalidData,
    /// The configuration names something that cannot be used (bad URI, unknown device).
    Config,
    /// Anything else (an adapter's own failure that fits none of the kinds above).
    Other,
}

/// Device errors say which [`ErrorKind`] they are.
///
/// Like `embedded-hal`'s `Error` trait: an adapter keeps its own rich error type, and callers
/// that only need to react (retry, mark absent, tell the person) look at the kind.
pub trait DeviceError: std::error::Error + Send + Sync + 'static {
    fn kind(&self) -> ErrorKind;
}

impl DeviceError for std::convert::Infallible {
    fn kind(&self) -> ErrorKind {
        match *self {}
    }
}
