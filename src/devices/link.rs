//! Byte links to serial devices: what the reader and scanner adapters read and write, and how a
//! link is (re)opened.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// A bidirectional byte stream to a device. Reads may time out (`TimedOut`/`WouldBlock`).
pub trait Link: Read + Write + Send {
    /// Drop whatever was received but not read yet (stale answers).
    fn discard_input(&mut self) {}
}

/// A read that found nothing yet (timed out, would block, interrupted): poll again, the link is
/// still there.
pub fn is_nothing_yet(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Opens (and reopens, after the device went away) a link.
pub trait Opener: Send {
    fn open(&mut self) -> io::Result<Box<dyn Link>>;
    /// Where the link goes, for messages (a port path, never personal data).
    fn describe(&self) -> String;
}

impl Link for Box<dyn serialport::SerialPort> {
    fn discard_input(&mut self) {
        let _ = self.clear(serialport::ClearBuffer::Input);
    }
}

/// A serial port (RS-232, USB-CDC or a pseudo-terminal) by path, 8N1.
#[derive(Debug, Clone)]
pub struct SerialOpener {
    pub path: PathBuf,
    pub baud: u32,
    /// How long one `read` blocks before reporting `TimedOut`.
    pub read_timeout: Duration,
}

impl SerialOpener {
    pub fn new(path: impl Into<PathBuf>, baud: u32) -> Self {
        SerialOpener {
            path: path.into(),
            baud,
            read_timeout: Duration::from_millis(20),
        }
    }
}

impl Opener for SerialOpener {
    fn open(&mut self) -> io::Result<Box<dyn Link>> {
        let path = self.path.to_string_lossy().into_owned();
        let port = serialport::new(path, self.baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::None)
            .timeout(self.read_timeout)
            .open()
            .map_err(io::Error::from)?;
        Ok(Box::new(port))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
