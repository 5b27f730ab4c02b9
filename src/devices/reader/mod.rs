//! The resident ID card reader (居民身份证阅读器): a GA 467 security module on a serial line.
//!
//! [`CardReader`] is what the kiosk consumes: a blocking `read_card(deadline)`. [`Ga467Reader`] is
//! the real adapter (any byte link, normally a serial port); [`sim::SimReader`] answers in the
//! same bytes for demos and tests.

pub mod frame;
pub mod serial;
pub mod sim;
pub mod text;

use std::time::Instant;

pub use frame::{Command, Decoder, FrameError, Response, Status};
pub use serial::{Ga467Reader, ReaderTiming, SerialOpener};
pub use text::{NoPhotoDecoder, PhotoDecoder, PhotoError, TextError};

use super::{DeviceError, ErrorKind};
use crate::domain::IdCard;

/// A card reader: waits for a card until `deadline`, reads it and hands over the checked card.
/// A card found by then is read within the reader's own read deadline, counted from when it was
/// found (`ReaderTiming::card_read`, kiosk.toml `[timeouts] card_read_ms`).
pub trait CardReader {
    type Error: DeviceError;
    fn read_card(&mut self, deadline: Instant) -> Result<IdCard, Self::Error>;
}

impl<T: CardReader + ?Sized> CardReader for &mut T {
    type Error = T::Error;
    fn read_card(&mut self, deadline: Instant) -> Result<IdCard, Self::Error> {
        T::read_card(self, deadline)
    }
}

impl<T: CardReader + ?Sized> CardReader for Box<T> {
    type Error = T::Error;
    fn read_card(&mut self, deadline: Instant) -> Result<IdCard, Self::Error> {
        T::read_card(self, deadline)
    }
}

/// Why no card was read.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    #[error("请放置身份证 / no card was placed on the reader within {waited_ms} ms")]
    NoCard { waited_ms: u128 },
    #[error("the reader on {port} does not answer")]
    NoAnswer { port: String },
    #[error("the reader on {port} is not connected: {source}")]
    Disconnected {
        port: String,
        #[source]
        source: std::io::Error,
    },
    #[error("garbled answer from the reader (after one retry): {0}")]
    Frame(#[from] FrameError),
    #[error("the reader reported {status} to {command:?}")]
    Reported { command: Command, status: Status },
    #[error("the reader's answer to {command:?} is malformed: {reason}")]
    Malformed {
        command: Command,
        reason: &'static str,
    },
    #[error("{0}")]
    Card(#[from] TextError),
}

impl DeviceError for ReaderError {
    fn kind(&self) -> ErrorKind {
        match self {
            ReaderError::NoCard { .. } | ReaderError::NoAnswer { .. } => ErrorKind::Timeout,
            ReaderError::Disconnected { .. } => ErrorKind::Disconnected,
            ReaderError::Frame(_) | ReaderError::Malformed { .. } => ErrorKind::Protocol,
            ReaderError::Reported { .. } => ErrorKind::DeviceReported,
            ReaderError::Card(_) => ErrorKind::InvalidData,
        }
    }
}

/// The reader a [`DeviceUri`](crate::devices::DeviceUri) names: a serial reader, or the
/// simulator (demo mode) with a handle to place and lift cards.
pub enum ReaderDevice {
    Serial(Ga467Reader<SerialOpener>),
    Sim(Ga467Reader<sim::MemoryOpener>, sim::SimReaderHandle),
}

impl ReaderDevice {
    /// Open what `uri` names (`sim` or `serial:`); nothing is opened until the first read.
    pub fn open(uri: &crate::devices::DeviceUri) -> Result<Self, crate::devices::UriError> {
        use crate::devices::DeviceUri;
        match uri {
            DeviceUri::Sim => {
                let opener = sim::MemoryOpener::new(sim::SimReader::empty(), Default::default());
                let handle = opener.handle();
                Ok(ReaderDevice::Sim(
                    Ga467Reader::new(opener, ReaderTiming::default()),
                    handle,
                ))
            }
            DeviceUri::Serial { path, baud } => Ok(ReaderDevice::Serial(Ga467Reader::new(
                SerialOpener::new(path, baud.unwrap_or(115_200)),
                ReaderTiming::default(),
            ))),
            other => Err(crate::devices::UriError::Invalid(
                other.to_string(),
                "an ID card reader is sim or serial:PATH",
            )),
        }
    }

    /// The simulator's handle (demo mode only).
    pub fn sim_handle(&self) -> Option<&sim::SimReaderHandle> {
        match self {
            ReaderDevice::Sim(_, h) => Some(h),
            ReaderDevice::Serial(_) => None,
        }
    }

    /// The reader's published health.
    pub fn health(&self) -> crate::devices::health::HealthCell {
        match self {
            ReaderDevice::Sim(r, _) => r.health.clone(),
            ReaderDevice::Serial(r) => r.health.clone(),
        }
    }
}

impl CardReader for ReaderDevice {
    type Error = ReaderError;
    fn read_card(&mut self, deadline: Instant) -> Result<IdCard, ReaderError> {
        match self {
            ReaderDevice::Serial(r) => r.read_card(deadline),
            ReaderDevice::Sim(r, _) => r.read_card(deadline),
        }
    }
}

/// Split the data of a successful read (`30 01`) into text and photo.
pub fn split_read_data(data: &[u8]) -> Result<(&[u8], &[u8]), &'static str> {
    if data.len() < 4 {
        return Err("shorter than its two length fields");
    }
    let text_len = usize::from(u16::from_be_bytes([data[0], data[1]]));
    let photo_len = usize::from(u16::from_be_bytes([data[2], data[3]]));
    if text_len != text::TEXT_LEN {
        return Err("the text length is not 256");
    }
    let rest = &data[4..];
    if rest.len() < text_len + photo_len {
        return Err("shorter than its text and photo lengths");
    }
    Ok((&rest[..text_len], &rest[text_len..text_len + photo_len]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_sim_reader_device_reads_a_card_placed_through_its_handle() {
        let mut r = ReaderDevice::open(&crate::devices::DeviceUri::Sim).unwrap();
        let soon = || Instant::now() + Duration::from_millis(150);
        assert!(matches!(
            r.read_card(soon()),
            Err(ReaderError::NoCard { .. })
        ));
        let card = sim::test_cards().remove(1);
        r.sim_handle().unwrap().place(card.clone());
        assert_eq!(r.read_card(soon()).unwrap(), card);
        // Found again only after it was lifted and placed.
        assert!(r.read_card(soon()).is_err());
        r.sim_handle().unwrap().lift();
        r.sim_handle().unwrap().place(card.clone());
        assert_eq!(r.read_card(soon()).unwrap(), card);
    }

    #[test]
    fn a_borrowed_or_boxed_reader_is_a_reader_too() {
        fn wait_briefly<R: CardReader>(mut r: R) -> ErrorKind {
            let deadline = Instant::now() + Duration::from_millis(50);
            r.read_card(deadline).unwrap_err().kind()
        }
        let mut r = ReaderDevice::open(&crate::devices::DeviceUri::Sim).unwrap();
        assert_eq!(wait_briefly(&mut r), ErrorKind::Timeout);
        let boxed: Box<dyn CardReader<Error = ReaderError>> = Box::new(r);
        assert_eq!(wait_briefly(boxed), ErrorKind::Timeout);
    }

    #[test]
    fn a_reader_is_not_a_printer() {
        assert!(ReaderDevice::open(&"usb:0416:5011".parse().unwrap()).is_err());
    }
}
