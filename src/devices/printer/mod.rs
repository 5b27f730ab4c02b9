//! The receipt printer (热敏小票打印机): ESC/POS over USB, serial, TCP 9100 or a file, with
//! status through `DLE EOT`, a print queue that keeps unprinted receipts, and a simulator that
//! renders what it is sent.

pub mod escpos;
pub mod font;
pub mod queue;
pub use crate::domain::receipt_code;
pub mod receipts;
pub mod render;
pub mod status;
pub mod transport;

pub use escpos::{EscPos, Paper};
pub use queue::{JobState, PrintQueue};
pub use status::{PrinterState, PrinterStatus};
pub use transport::Transport;

use super::{DeviceError, ErrorKind};

/// A receipt printer.
pub trait ReceiptPrinter {
    type Error: DeviceError;
    /// Send one job (an ESC/POS byte string).
    fn print(&mut self, job: &[u8]) -> Result<(), Self::Error>;
    /// The printer's status; `None` when the transport cannot report it (`file:`).
    fn status(&mut self) -> Result<Option<PrinterStatus>, Self::Error>;
}

impl<T: ReceiptPrinter + ?Sized> ReceiptPrinter for &mut T {
    type Error = T::Error;
    fn print(&mut self, job: &[u8]) -> Result<(), Self::Error> {
        T::print(self, job)
    }
    fn status(&mut self) -> Result<Option<PrinterStatus>, Self::Error> {
        T::status(self)
    }
}

impl<T: ReceiptPrinter + ?Sized> ReceiptPrinter for Box<T> {
    type Error = T::Error;
    fn print(&mut self, job: &[u8]) -> Result<(), Self::Error> {
        T::print(self, job)
    }
    fn status(&mut self) -> Result<Option<PrinterStatus>, Self::Error> {
        T::status(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PrinterError {
    #[error("printer {target}: {source}")]
    Io {
        target: String,
        #[source]
        source: std::io::Error,
    },
    #[error("printer {target}: {message}")]
    Usb { target: String, message: String },
    #[error("printer {target} does not answer")]
    NoAnswer { target: String },
    #[error(
        "printer {target} answered {byte:#04x} to a status request, which is not a status byte"
    )]
    BadStatus { target: String, byte: u8 },
    #[error(transparent)]
    Uri(#[from] super::UriError),
}

impl DeviceError for PrinterError {
    fn kind(&self) -> ErrorKind {
        match self {
            PrinterError::Io { .. } | PrinterError::Usb { .. } => ErrorKind::Disconnected,
            PrinterError::NoAnswer { .. } => ErrorKind::Timeout,
            PrinterError::BadStatus { .. } => ErrorKind::Protocol,
            PrinterError::Uri(_) => ErrorKind::Config,
        }
    }
}

/// An ESC/POS printer on any transport.
pub struct EscPosPrinter {
    transport: Box<dyn Transport>,
}

impl EscPosPrinter {
    pub fn new(transport: Box<dyn Transport>) -> Self {
        EscPosPrinter { transport }
    }

    pub fn describe(&self) -> String {
        self.transport.describe()
    }
}

/// A shared view of the simulated printer (what it printed, its PNGs, its paper and cover).
pub type SimPrinterView = std::sync::Arc<std::sync::Mutex<transport::SimPrinterState>>;

/// Open the printer `uri` names; for `sim`, also the view of what it printed (its PNGs go to
/// `sim_dir`).
pub fn open(
    uri: &super::DeviceUri,
    paper: Paper,
    sim_dir: Option<std::path::PathBuf>,
) -> Result<(EscPosPrinter, Option<SimPrinterView>), PrinterError> {
    if *uri == super::DeviceUri::Sim {
        let t = transport::SimTransport::new(paper, sim_dir);
        let view = t.state.clone();
        return Ok((EscPosPrinter::new(Box::new(t)), Some(view)));
    }
    Ok((
        EscPosPrinter::new(transport::open(uri, paper, sim_dir)?),
        None,
    ))
}

impl ReceiptPrinter for EscPosPrinter {
    type Error = PrinterError;

    fn print(&mut self, job: &[u8]) -> Result<(), PrinterError> {
        self.transport.write_all(job)
    }

    fn status(&mut self) -> Result<Option<PrinterStatus>, PrinterError> {
        let mut answers = [0u8; 4];
        for (n, slot) in (1u8..=4).zip(answers.iter_mut()) {
            match self.transport.query(&[escpos::DLE, escpos::EOT, n])? {
                None => return Ok(None),
                Some(b) => *slot = b,
            }
        }
        PrinterStatus::from_bytes(answers)
            .map(Some)
            .ok_or_else(|| PrinterError::BadStatus {
                target: self.describe(),
                byte: answers
                    .into_iter()
                    .find(|b| b & 0x93 != 0x12)
                    .unwrap_or_default(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::transport::{FileTransport, SimTransport};
    use super::*;

    fn sim(
        dir: Option<std::path::PathBuf>,
    ) -> (
        EscPosPrinter,
        std::sync::Arc<std::sync::Mutex<transport::SimPrinterState>>,
    ) {
        let t = SimTransport::new(Paper::Mm58, dir);
        let state = t.state.clone();
        (EscPosPrinter::new(Box::new(t)), state)
    }

    #[test]
    fn opening_sim_gives_a_view_of_what_was_printed() {
        let (mut p, view) = open(&crate::devices::DeviceUri::Sim, Paper::Mm80, None).unwrap();
        p.print(b"\x1b@OK\n").unwrap();
        assert_eq!(view.unwrap().lock().unwrap().jobs.len(), 1);
        let (_, none) = open(&"file:/tmp/x.bin".parse().unwrap(), Paper::Mm80, None).unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn queue_confirms_a_printed_receipt() {
        let (mut p, state) = sim(None);
        let mut q = PrintQueue::in_memory();
        let (id, spooled) = q.submit(
            "payment",
            receipts::samples::payment("K").escpos(Paper::Mm58),
        );
        spooled.unwrap();
        assert_eq!(q.print_pending(&mut p), vec![id]);
        assert_eq!(q.get(id).unwrap().state, JobState::Printed);
        assert_eq!(state.lock().unwrap().jobs.len(), 1);
    }

    #[test]
    fn paper_out_keeps_the_receipt_for_reprint() {
        let (mut p, state) = sim(None);
        state.lock().unwrap().status.paper_out = true;
        let mut q = PrintQueue::in_memory();
        let (id, _) = q.submit(
            "handling",
            receipts::samples::handling("K").escpos(Paper::Mm58),
        );
        assert!(q.print_pending(&mut p).is_empty());
        assert!(
            matches!(&q.get(id).unwrap().state, JobState::Failed(r) if r.contains("paper out"))
        );
        assert_eq!(q.unprinted().count(), 1);
        // Paper loaded: the same receipt prints.
        state.lock().unwrap().status.paper_out = false;
        assert_eq!(q.print_pending(&mut p), vec![id]);
        assert_eq!(q.unprinted().count(), 0);
        assert_eq!(state.lock().unwrap().jobs.len(), 1);
    }

    #[test]
    fn paper_running_out_during_a_job_is_not_a_confirmation() {
        struct RunsOut {
            inner: EscPosPrinter,
            state: std::sync::Arc<std::sync::Mutex<transport::SimPrinterState>>,
        }
        impl ReceiptPrinter for RunsOut {
            type Error = PrinterError;
            fn print(&mut self, job: &[u8]) -> Result<(), PrinterError> {
                self.inner.print(job)?;
                self.state.lock().unwrap().status.paper_out = true;
                Ok(())
            }
            fn status(&mut self) -> Result<Option<PrinterStatus>, PrinterError> {
                self.inner.status()
            }
        }
        let (inner, state) = sim(None);
        let mut p = RunsOut { inner, state };
        let mut q = PrintQueue::in_memory();
        let (id, _) = q.submit("payment", vec![0x1B, b'@']);
        assert!(q.print_pending(&mut p).is_empty());
        assert!(
            matches!(&q.get(id).unwrap().state, JobState::Failed(r) if r.starts_with("sent, but"))
        );
    }

    #[test]
    fn a_spooled_queue_survives_a_restart_and_reprints() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let mut q = PrintQueue::open(dir.path()).unwrap();
            let (id, spooled) = q.submit("处理凭证", vec![1, 2, 3]);
            spooled.unwrap();
            id
        };
        // The kiosk restarted before the printer confirmed.
        let mut q = PrintQueue::open(dir.path()).unwrap();
        assert_eq!(q.get(id).unwrap().bytes, vec![1, 2, 3]);
        let (mut p, state) = sim(None);
        assert_eq!(q.print_pending(&mut p), vec![id]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // A customer asks for the receipt again.
        q.reprint(id).unwrap();
        assert_eq!(q.print_pending(&mut p), vec![id]);
        assert_eq!(state.lock().unwrap().jobs.len(), 2);
        assert!(q.reprint(999).is_err());
    }

    #[test]
    fn a_file_printer_appends_and_has_no_status() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let mut p = EscPosPrinter::new(Box::new(FileTransport { path: path.clone() }));
        p.print(b"AB").unwrap();
        p.print(b"CD").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"ABCD");
        assert_eq!(p.status().unwrap(), None);
        let mut q = PrintQueue::in_memory();
        let (id, _) = q.submit("t", b"EF".to_vec());
        assert_eq!(q.print_pending(&mut p), vec![id]);
    }

    #[test]
    fn an_unwritable_file_printer_keeps_the_job() {
        let mut p = EscPosPrinter::new(Box::new(FileTransport {
            path: "/nonexistent-dir/x/out.bin".into(),
        }));
        let mut q = PrintQueue::in_memory();
        let (id, _) = q.submit("t", b"EF".to_vec());
        assert!(q.print_pending(&mut p).is_empty());
        assert!(matches!(q.get(id).unwrap().state, JobState::Failed(_)));
    }

    #[test]
    fn the_simulator_renders_each_job_to_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let (mut p, state) = sim(Some(dir.path().to_path_buf()));
        p.print(&receipts::samples::payment("K").escpos(Paper::Mm58))
            .unwrap();
        let st = state.lock().unwrap();
        assert_eq!(st.pngs.len(), 1);
        let img = image::open(&st.pngs[0]).unwrap();
        assert_eq!(img.width(), 384);
        assert!(st.unknown[0].is_empty());
    }

    /// A demo kiosk prints for months: the simulator keeps the last SIM_KEEP jobs and PNG files
    /// and deletes older files, numbering them on.
    #[test]
    fn the_simulator_keeps_only_the_last_receipts() {
        use transport::{SIM_KEEP, SimTransport, Transport};
        let dir = tempfile::tempdir().unwrap();
        let mut t = SimTransport::new(Paper::Mm58, Some(dir.path().to_path_buf()));
        let job = b"\x1b@hello\n".to_vec();
        for _ in 0..SIM_KEEP + 7 {
            t.write_all(&job).unwrap();
        }
        let st = t.state.lock().unwrap();
        assert_eq!(st.total, (SIM_KEEP + 7) as u64);
        assert_eq!(st.jobs.len(), SIM_KEEP);
        assert_eq!(st.unknown.len(), SIM_KEEP);
        assert_eq!(st.pngs.len(), SIM_KEEP);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), SIM_KEEP);
        assert!(!dir.path().join("receipt-7.png").exists());
        assert!(dir.path().join("receipt-8.png").exists());
        assert!(
            dir.path()
                .join(format!("receipt-{}.png", SIM_KEEP + 7))
                .exists()
        );
    }
}
