//! Printer transports: `file:` (append), `tcp:HOST:PORT`, `serial:PATH`, `usb:VID:PID` (rusb,
//! printer-class interface) and `sim` (the interpreter renders each job to a PNG).

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::PrinterError;
use super::escpos::Paper;
use super::render;
use super::status::PrinterStatus;
use crate::devices::DeviceUri;

/// How bytes reach a printer.
pub trait Transport: Send {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrinterError>;
    /// Send a real-time request and read its one-byte answer; `Ok(None)` when this transport
    /// cannot carry answers (a file).
    fn query(&mut self, request: &[u8]) -> Result<Option<u8>, PrinterError>;
    fn describe(&self) -> String;
}

/// How long a write or a status answer may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// `file:PATH`: raw bytes appended to a file or a device node such as `/dev/usb/lp0`.
pub struct FileTransport {
    pub path: PathBuf,
}

impl Transport for FileTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrinterError> {
        let io = |source| PrinterError::Io {
            target: self.describe(),
            source,
        };
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.flush().map_err(io)?;
        // A regular file: make sure the bytes are on disk; a device node may refuse fsync.
        let _ = f.sync_data();
        Ok(())
    }
    fn query(&mut self, _request: &[u8]) -> Result<Option<u8>, PrinterError> {
        Ok(None)
    }
    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }
}

/// `tcp:HOST:PORT` (raw port 9100). Connects on first use and again after an error.
pub struct TcpTransport {
    pub host: String,
    pub port: u16,
    stream: Option<TcpStream>,
}

impl TcpTransport {
    pub fn new(host: String, port: u16) -> Self {
        TcpTransport {
            host,
            port,
            stream: None,
        }
    }

    fn stream(&mut self) -> Result<&mut TcpStream, PrinterError> {
        if self.stream.is_none() {
            let target = self.describe();
            let io = |source| PrinterError::Io {
                target: target.clone(),
                source,
            };
            let addr = (self.host.as_str(), self.port)
                .to_socket_addrs()
                .map_err(io)?
                .next()
                .ok_or_else(|| io(io::Error::new(io::ErrorKind::NotFound, "no address")))?;
            let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(io)?;
            s.set_write_timeout(Some(IO_TIMEOUT)).map_err(io)?;
            s.set_read_timeout(Some(IO_TIMEOUT)).map_err(io)?;
            self.stream = Some(s);
        }
        Ok(self.stream.as_mut().expect("connected"))
    }
}

impl Transport for TcpTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrinterError> {
        let target = self.describe();
        let r = self.stream()?.write_all(bytes);
        r.map_err(|source| {
            self.stream = None;
            PrinterError::Io { target, source }
        })
    }
    fn query(&mut self, request: &[u8]) -> Result<Option<u8>, PrinterError> {
        let target = self.describe();
        let s = self.stream()?;
        let mut b = [0u8; 1];
        let r = s.write_all(request).and_then(|()| s.read_exact(&mut b));
        match r {
            Ok(()) => Ok(Some(b[0])),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(PrinterError::NoAnswer { target })
            }
            Err(source) => {
                self.stream = None;
                Err(PrinterError::Io { target, source })
            }
        }
    }
    fn describe(&self) -> String {
        format!("tcp:{}:{}", self.host, self.port)
    }
}

/// `serial:PATH[?baud=N]`.
pub struct SerialTransport {
    pub path: PathBuf,
    pub baud: u32,
    port: Option<Box<dyn serialport::SerialPort>>,
}

impl SerialTransport {
    pub fn new(path: PathBuf, baud: u32) -> Self {
        SerialTransport {
            path,
            baud,
            port: None,
        }
    }
    fn port(&mut self) -> Result<&mut Box<dyn serialport::SerialPort>, PrinterError> {
        if self.port.is_none() {
            let p = serialport::new(self.path.to_string_lossy(), self.baud)
                .timeout(IO_TIMEOUT)
                .open()
                .map_err(|e| PrinterError::Io {
                    target: format!("serial:{}", self.path.display()),
                    source: e.into(),
                })?;
            self.port = Some(p);
        }
        Ok(self.port.as_mut().expect("open"))
    }
}

impl Transport for SerialTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrinterError> {
        let target = self.describe();
        let r = self.port()?.write_all(bytes);
        r.map_err(|source| {
            self.port = None;
            PrinterError::Io { target, source }
        })
    }
    fn query(&mut self, request: &[u8]) -> Result<Option<u8>, PrinterError> {
        let target = self.describe();
        let p = self.port()?;
        let _ = p.clear(serialport::ClearBuffer::Input);
        let mut b = [0u8; 1];
        match p.write_all(request).and_then(|()| p.read_exact(&mut b)) {
            Ok(()) => Ok(Some(b[0])),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(PrinterError::NoAnswer { target }),
            Err(source) => {
                self.port = None;
                Err(PrinterError::Io { target, source })
            }
        }
    }
    fn describe(&self) -> String {
        format!("serial:{}", self.path.display())
    }
}

/// `usb:VID:PID`: the printer-class interface (class 7), bulk OUT for data, bulk IN for status.
/// Opened on first use; after an error (cable pulled) it is opened afresh on the next use.
pub struct UsbTransport {
    vid: u16,
    pid: u16,
    open: Option<UsbPrinterHandle>,
}

struct UsbPrinterHandle {
    handle: rusb::DeviceHandle<rusb::Context>,
    interface: u8,
    ep_out: u8,
    ep_in: Option<u8>,
}

/// USB interface class of printers.
pub const USB_CLASS_PRINTER: u8 = 7;

impl UsbTransport {
    /// A USB printer by id; nothing is opened until the first job or status request.
    pub fn new(vid: u16, pid: u16) -> Self {
        UsbTransport {
            vid,
            pid,
            open: None,
        }
    }

    fn usb_error(&self, e: rusb::Error) -> PrinterError {
        match e {
            rusb::Error::Timeout => PrinterError::NoAnswer {
                target: self.describe(),
            },
            e => PrinterError::Usb {
                target: self.describe(),
                message: e.to_string(),
            },
        }
    }

    fn handle(&mut self) -> Result<&mut UsbPrinterHandle, PrinterError> {
        if self.open.is_none() {
            let h = UsbPrinterHandle::open(self.vid, self.pid).map_err(|e| match e {
                Ok(message) => PrinterError::Usb {
                    target: self.describe(),
                    message,
                },
                Err(e) => self.usb_error(e),
            })?;
            self.open = Some(h);
        }
        Ok(self.open.as_mut().expect("just opened"))
    }

    /// Run `f` on the open printer; an error other than a timeout closes it for a fresh open.
    fn with<T>(
        &mut self,
        f: impl FnOnce(&mut UsbPrinterHandle) -> Result<T, rusb::Error>,
    ) -> Result<T, PrinterError> {
        let r = f(self.handle()?);
        r.map_err(|e| {
            if e != rusb::Error::Timeout {
                self.open = None;
            }
            self.usb_error(e)
        })
    }
}

impl UsbPrinterHandle {
    /// `Err(Ok(message))`: no such printer; `Err(Err(e))`: libusb failed.
    fn open(vid: u16, pid: u16) -> Result<Self, Result<String, rusb::Error>> {
        use rusb::UsbContext;
        // An explicit context: the global one panics where libusb cannot start.
        let devices = rusb::Context::new()
            .and_then(|c| c.devices())
            .map_err(|e| {
                Ok(format!(
                    "USB devices cannot be listed ({e}); is /dev/bus/usb present and readable?"
                ))
            })?;
        let device = devices
            .iter()
            .find(|d| {
                d.device_descriptor()
                    .is_ok_and(|dd| dd.vendor_id() == vid && dd.product_id() == pid)
            })
            .ok_or_else(|| Ok("no such USB device is attached".to_string()))?;
        let config = device.active_config_descriptor().map_err(Err)?;
        let mut found = None;
        'interfaces: for interface in config.interfaces() {
            for d in interface.descriptors() {
                if d.class_code() != USB_CLASS_PRINTER {
                    continue;
                }
                let mut out = None;
                let mut inp = None;
                for ep in d.endpoint_descriptors() {
                    if ep.transfer_type() == rusb::TransferType::Bulk {
                        match ep.direction() {
                            rusb::Direction::Out => out = out.or(Some(ep.address())),
                            rusb::Direction::In => inp = inp.or(Some(ep.address())),
                        }
                    }
                }
                if let Some(o) = out {
                    found = Some((d.interface_number(), d.setting_number(), o, inp));
                    break 'interfaces;
                }
            }
        }
        let (interface, setting, ep_out, ep_in) = found.ok_or_else(|| {
            Ok("the device has no printer-class interface with a bulk OUT endpoint".to_string())
        })?;
        let handle = device.open().map_err(Err)?;
        // The kernel's usblp driver holds the interface when /dev/usb/lp0 exists.
        if handle.kernel_driver_active(interface).unwrap_or(false) {
            handle.detach_kernel_driver(interface).map_err(Err)?;
        }
        handle.claim_interface(interface).map_err(Err)?;
        if setting != 0 {
            handle
                .set_alternate_setting(interface, setting)
                .map_err(Err)?;
        }
        Ok(UsbPrinterHandle {
            handle,
            interface,
            ep_out,
            ep_in,
        })
    }
}

impl Drop for UsbPrinterHandle {
    fn drop(&mut self) {
        let _ = self.handle.release_interface(self.interface);
    }
}

impl Transport for UsbTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrinterError> {
        self.with(|h| {
            // Bulk transfers in pieces a printer's buffer takes.
            for chunk in bytes.chunks(4096) {
                let mut sent = 0;
                while sent < chunk.len() {
                    sent += h.handle.write_bulk(h.ep_out, &chunk[sent..], IO_TIMEOUT)?;
                }
            }
            Ok(())
        })
    }

    fn query(&mut self, request: &[u8]) -> Result<Option<u8>, PrinterError> {
        self.with(|h| {
            let Some(ep_in) = h.ep_in else {
                return Ok(None);
            };
            h.handle.write_bulk(h.ep_out, request, IO_TIMEOUT)?;
            let mut buf = [0u8; 64];
            let started = Instant::now();
            loop {
                match h.handle.read_bulk(ep_in, &mut buf, IO_TIMEOUT)? {
                    // Some printers answer zero-length packets until the status is ready.
                    0 if started.elapsed() < IO_TIMEOUT => continue,
                    0 => return Err(rusb::Error::Timeout),
                    _ => return Ok(Some(buf[0])),
                }
            }
        })
    }

    fn describe(&self) -> String {
        format!("usb:{:04x}:{:04x}", self.vid, self.pid)
    }
}

/// How many jobs (and their PNG files) the simulated printer keeps: a demo kiosk runs for months,
/// and a printer that kept every receipt would grow without end (`kiosk bench soak` found it).
pub const SIM_KEEP: usize = 50;

/// The simulated printer's state, shared with whoever shows or inspects it.
#[derive(Debug, Default)]
pub struct SimPrinterState {
    pub status: PrinterStatus,
    /// The last [`SIM_KEEP`] jobs received, in order.
    pub jobs: Vec<Vec<u8>>,
    /// The last [`SIM_KEEP`] PNGs written, in order (older files are deleted).
    pub pngs: Vec<PathBuf>,
    /// Bytes the interpreter did not understand, per kept job.
    pub unknown: Vec<Vec<(usize, u8)>>,
    /// Jobs received since the printer was opened (the PNG files are numbered by it).
    pub total: u64,
}

/// `sim`: interprets each job and renders it to `out_dir/receipt-N.png`.
pub struct SimTransport {
    pub paper: Paper,
    pub out_dir: Option<PathBuf>,
    pub state: Arc<Mutex<SimPrinterState>>,
}

impl SimTransport {
    pub fn new(paper: Paper, out_dir: Option<PathBuf>) -> Self {
        SimTransport {
            paper,
            out_dir,
            state: Arc::default(),
        }
    }
}

impl Transport for SimTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), PrinterError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !st.status.can_print() {
            // A real printer swallows the bytes and prints nothing.
            return Ok(());
        }
        let ops = render::parse(bytes);
        st.total += 1;
        st.unknown.push(render::unknown_bytes(&ops));
        st.jobs.push(bytes.to_vec());
        if st.jobs.len() > SIM_KEEP {
            st.jobs.remove(0);
            st.unknown.remove(0);
        }
        if let Some(dir) = &self.out_dir {
            let target = format!("sim ({})", dir.display());
            let io = |source| PrinterError::Io {
                target: target.clone(),
                source,
            };
            std::fs::create_dir_all(dir).map_err(io)?;
            let png = render::render(&ops, self.paper)
                .to_png()
                .map_err(|e| io(io::Error::other(e)))?;
            let path = dir.join(format!("receipt-{}.png", st.total));
            std::fs::write(&path, png).map_err(io)?;
            st.pngs.push(path);
            if st.pngs.len() > SIM_KEEP {
                let old = st.pngs.remove(0);
                if let Err(e) = std::fs::remove_file(&old) {
                    tracing::warn!(error = %e, "an old simulated receipt image was not removed");
                }
            }
        }
        Ok(())
    }
    fn query(&mut self, request: &[u8]) -> Result<Option<u8>, PrinterError> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let answers = st.status.to_bytes();
        match request {
            [0x10, 0x04, n @ 1..=4] => Ok(Some(answers[usize::from(*n) - 1])),
            _ => Ok(None),
        }
    }
    fn describe(&self) -> String {
        "sim".into()
    }
}

/// Open the transport a URI names. `sim_dir` is where the simulator writes its PNGs.
pub fn open(
    uri: &DeviceUri,
    paper: Paper,
    sim_dir: Option<PathBuf>,
) -> Result<Box<dyn Transport>, PrinterError> {
    Ok(match uri {
        DeviceUri::Sim => Box::new(SimTransport::new(paper, sim_dir)),
        DeviceUri::File { path } => Box::new(FileTransport { path: path.clone() }),
        DeviceUri::Tcp { host, port } => Box::new(TcpTransport::new(host.clone(), *port)),
        DeviceUri::Serial { path, baud } => {
            Box::new(SerialTransport::new(path.clone(), baud.unwrap_or(9600)))
        }
        DeviceUri::Usb { vid, pid } => Box::new(UsbTransport::new(*vid, *pid)),
    })
}
