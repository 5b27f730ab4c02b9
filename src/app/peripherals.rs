//! The flow's [`Peripherals`] port over the real printer path: the receipt is laid out in ESC/POS
//! by the device layer's builder, kept in the print queue until the printer confirms it, and sent
//! over whatever transport `kiosk.toml` names (`sim` renders it to a PNG the simulator shows).

use std::path::PathBuf;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::devices::printer::transport::{self, SimPrinterState, SimTransport};
use crate::devices::printer::{EscPosPrinter, Paper, PrintQueue, ReceiptPrinter, render};
use crate::devices::{DeviceUri, ErrorKind};
use crate::domain::PrintJob;
use crate::flow::ports::{
    DeviceFailure, DeviceHealth, DeviceStatus, PaperStatus, Peripherals, PrintOutcome,
};
use crate::ui::PrintedReceipts;

/// The printer (and, for the operator screen, the health of all three devices).
pub struct DevicePeripherals {
    printer: EscPosPrinter,
    queue: PrintQueue,
    paper: Paper,
    reader: String,
    scanner: String,
    /// Demo mode: the simulator panel's list of printed receipts, and its paper switch.
    sim: Option<SimHooks>,
}

/// What the simulator panel sees of the simulated printer.
pub struct SimHooks {
    pub printed: PrintedReceipts,
    pub out_of_paper: Arc<Mutex<bool>>,
    pub state: Arc<Mutex<SimPrinterState>>,
    /// The PNG of each receipt the simulator rendered, newest last (the panel shows them).
    pub images: crate::ui::ReceiptImages,
}

#[derive(Debug, thiserror::Error)]
pub enum PeripheralsError {
    #[error("devices.printer: {0}")]
    Uri(#[from] crate::devices::UriError),
    #[error("devices.printer: {0}")]
    Printer(#[from] crate::devices::printer::PrinterError),
    #[error("print spool {0}: {1}")]
    Spool(String, String),
}

impl DevicePeripherals {
    /// Open the printer `kiosk.toml` names. `spool` keeps unprinted receipts across restarts;
    /// `sim_png_dir` is where the simulated printer writes its PNGs.
    pub fn open(
        config: &crate::config::KioskConfig,
        spool: Option<PathBuf>,
        sim_png_dir: Option<PathBuf>,
        printed: PrintedReceipts,
        out_of_paper: Arc<Mutex<bool>>,
    ) -> Result<Self, PeripheralsError> {
        let paper = Paper::from_mm(config.devices.paper_mm).unwrap_or(Paper::Mm80);
        let uri: DeviceUri = config.devices.printer.parse()?;
        let (printer, sim) = match uri {
            DeviceUri::Sim => {
                let t = SimTransport::new(paper, sim_png_dir);
                let state = t.state.clone();
                (
                    EscPosPrinter::new(Box::new(t)),
                    Some(SimHooks {
                        printed,
                        out_of_paper,
                        state,
                        images: Default::default(),
                    }),
                )
            }
            other => (
                EscPosPrinter::new(transport::open(&other, paper, None)?),
                None,
            ),
        };
        let queue = match spool {
            Some(dir) => PrintQueue::open(&dir)
                .map_err(|e| PeripheralsError::Spool(dir.display().to_string(), e.to_string()))?,
            None => PrintQueue::in_memory(),
        };
        Ok(DevicePeripherals {
            printer,
            queue,
            paper,
            reader: config.devices.reader.clone(),
            scanner: config.devices.scanner.clone(),
            sim,
        })
    }

    /// Demo: the simulator panel's paper switch sets the simulated printer's status.
    fn sync_sim_paper(&mut self) {
        if let Some(sim) = &self.sim {
            let out = sim.out_of_paper.lock().map(|g| *g).unwrap_or(false);
            if let Ok(mut st) = sim.state.lock() {
                st.status.paper_out = out;
            }
        }
    }

    /// The simulated printer's rendered receipts (None for a real printer).
    pub fn receipt_images(&self) -> Option<crate::ui::ReceiptImages> {
        self.sim.as_ref().map(|s| s.images.clone())
    }

    /// Lay a receipt out in ESC/POS for this paper (the device layer's layout of the typed
    /// receipt; a reprint is marked 补打).
    pub fn layout(&self, job: &PrintJob) -> Vec<u8> {
        job.escpos(self.paper)
    }
}

/// A printer status that stops printing, as a failure of kind `DeviceReported`.
fn reported(message: &str) -> DeviceFailure {
    DeviceFailure::new(ErrorKind::DeviceReported, message)
}

impl Peripherals for DevicePeripherals {
    fn print(&mut self, job: &PrintJob) -> PrintOutcome {
        let title = job.receipt.title();
        self.sync_sim_paper();
        // Ask the printer first: a receipt sent to a printer without paper is lost.
        if let Ok(Some(status)) = self.printer.status() {
            if status.paper_out {
                let bytes = self.layout(job);
                let _ = self.queue.submit(title, bytes);
                return PrintOutcome::OutOfPaper;
            }
            if !status.can_print() {
                let bytes = self.layout(job);
                let _ = self.queue.submit(title, bytes);
                return PrintOutcome::Failed(reported(status.message()));
            }
        }
        let bytes = self.layout(job);
        let text = self
            .sim
            .is_some()
            .then(|| render::to_text(&render::parse(&bytes)));
        let (id, spooled) = self.queue.submit(title, bytes);
        if let Err(e) = spooled {
            tracing::warn!(error = %e, "receipt not spooled to disk; kept in memory");
        }
        let printed = self.queue.print_pending(&mut self.printer);
        if printed.contains(&id) {
            if let Some(sim) = &self.sim {
                // The panel shows the last SIM_KEEP receipts, as the simulated printer keeps them.
                let keep = crate::devices::printer::transport::SIM_KEEP;
                if let (Some(text), Ok(mut list)) = (text, sim.printed.lock()) {
                    list.push(text);
                    let extra = list.len().saturating_sub(keep);
                    list.drain(..extra);
                }
                let png = sim.state.lock().ok().and_then(|st| st.pngs.last().cloned());
                if let (Some(png), Ok(mut images)) = (png, sim.images.lock()) {
                    images.push(png);
                    let extra = images.len().saturating_sub(keep);
                    images.drain(..extra);
                }
            }
            PrintOutcome::Printed
        } else {
            PrintOutcome::Failed(DeviceFailure::new(
                ErrorKind::Timeout,
                "打印机未确认，凭条已保留可补打 / not confirmed; kept for reprint",
            ))
        }
    }

    fn health(&mut self) -> DeviceHealth {
        self.sync_sim_paper();
        let (printer, paper) = match self.printer.status() {
            Ok(Some(s)) if s.paper_out => (Err(reported(s.message())), PaperStatus::Out),
            Ok(Some(s)) if s.paper_near_end => (Ok(()), PaperStatus::Low),
            Ok(Some(s)) if !s.can_print() => (Err(reported(s.message())), PaperStatus::Ok),
            Ok(_) => (Ok(()), PaperStatus::Ok),
            Err(e) => (Err(DeviceFailure::of(&e)), PaperStatus::Ok),
        };
        let present = |uri: &str| -> DeviceStatus {
            match uri.parse::<DeviceUri>() {
                Ok(DeviceUri::Sim) => Ok(()),
                Ok(DeviceUri::Serial { path, .. }) if !path.exists() => Err(DeviceFailure::new(
                    ErrorKind::Disconnected,
                    format!("{} absent", path.display()),
                )),
                Ok(_) => Ok(()),
                Err(e) => Err(DeviceFailure::new(ErrorKind::Config, e.to_string())),
            }
        };
        DeviceHealth {
            reader: present(&self.reader),
            scanner: present(&self.scanner),
            printer,
            paper,
        }
    }
}

/// How long the screen waits for the printer before telling the person the receipt is kept.
pub const PRINT_WAIT: Duration = Duration::from_secs(4);
/// How long the operator screen waits for the devices' health.
pub const HEALTH_WAIT: Duration = Duration::from_secs(2);

enum PrinterJob {
    /// Boxed: a receipt is some 350 bytes, a health query 16.
    Print(Box<PrintJob>, Sender<PrintOutcome>),
    Health(Sender<DeviceHealth>),
}

/// The peripherals on a thread of their own, so that a printer that hangs until its I/O
/// timeouts (3 s per status query and write) never freezes the screen: the flow gets an answer
/// within [`PRINT_WAIT`]; a receipt not confirmed by then stays in the print queue for reprint,
/// and the money it belongs to was recorded before printing began.
pub struct PrinterWorker {
    jobs: Sender<PrinterJob>,
    print_wait: Duration,
    health_wait: Duration,
}

impl PrinterWorker {
    pub fn spawn<P: Peripherals + Send + 'static>(mut peripherals: P) -> Self {
        Self::spawn_with_waits(
            move |job| match job {
                PrinterJob::Print(job, reply) => {
                    let _ = reply.send(peripherals.print(&job));
                }
                PrinterJob::Health(reply) => {
                    let _ = reply.send(peripherals.health());
                }
            },
            PRINT_WAIT,
            HEALTH_WAIT,
        )
    }

    fn spawn_with_waits(
        mut serve: impl FnMut(PrinterJob) + Send + 'static,
        print_wait: Duration,
        health_wait: Duration,
    ) -> Self {
        let (jobs, rx) = channel::<PrinterJob>();
        std::thread::Builder::new()
            .name("printer".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    serve(job);
                }
            })
            .expect("spawn the printer thread");
        PrinterWorker {
            jobs,
            print_wait,
            health_wait,
        }
    }
}

impl Peripherals for PrinterWorker {
    fn print(&mut self, job: &PrintJob) -> PrintOutcome {
        let (tx, rx) = channel();
        if self
            .jobs
            .send(PrinterJob::Print(Box::new(job.clone()), tx))
            .is_err()
        {
            return PrintOutcome::Failed(DeviceFailure::new(
                ErrorKind::Disconnected,
                "打印线程已停止 / the printer thread stopped",
            ));
        }
        rx.recv_timeout(self.print_wait).unwrap_or_else(|_| {
            tracing::warn!("printer did not answer in time; receipt kept for reprint");
            PrintOutcome::Failed(DeviceFailure::new(
                ErrorKind::Timeout,
                "打印机无响应，凭条已保留，可由工作人员补打 / the printer does not answer; the receipt is kept for reprint",
            ))
        })
    }

    fn health(&mut self) -> DeviceHealth {
        let (tx, rx) = channel();
        let answer = self
            .jobs
            .send(PrinterJob::Health(tx))
            .ok()
            .and_then(|_| rx.recv_timeout(self.health_wait).ok());
        answer.unwrap_or(DeviceHealth {
            reader: Ok(()),
            scanner: Ok(()),
            printer: Err(DeviceFailure::new(
                ErrorKind::Timeout,
                "打印机无响应 / the printer does not answer",
            )),
            paper: PaperStatus::Ok,
        })
    }
}

/// The peripherals, with what happens to them recorded as kiosk events (printer out of paper /
/// back, a device failing), each once when it changes. Never personal data.
pub struct Recording<P> {
    inner: P,
    events: super::outbox::KioskEvents,
    clock: crate::ui::Clock,
    paper_out: bool,
    failed: [bool; 3],
}

impl<P: Peripherals> Recording<P> {
    pub fn new(inner: P, events: super::outbox::KioskEvents, clock: crate::ui::Clock) -> Self {
        Recording {
            inner,
            events,
            clock,
            paper_out: false,
            failed: [false; 3],
        }
    }

    fn paper(&mut self, out: bool) {
        if out != self.paper_out {
            self.paper_out = out;
            let (kind, detail) = if out {
                (
                    "printer_out_of_paper",
                    "打印机缺纸 / the printer is out of paper",
                )
            } else {
                (
                    "printer_paper_back",
                    "打印机纸张已装好 / the printer has paper again",
                )
            };
            self.events.record(kind, detail, self.clock.now());
        }
    }

    fn device(&mut self, which: usize, name: &str, status: &DeviceStatus) {
        let failed = status.is_err();
        if failed != self.failed[which] {
            self.failed[which] = failed;
            match status {
                Err(f) => self.events.record(
                    "device_failure",
                    &format!("{name}: {:?}: {}", f.kind, f.message),
                    self.clock.now(),
                ),
                Ok(()) => {
                    self.events
                        .record("device_back", &format!("{name}: ok"), self.clock.now())
                }
            }
        }
    }
}

impl<P: Peripherals> Peripherals for Recording<P> {
    fn print(&mut self, job: &PrintJob) -> PrintOutcome {
        let outcome = self.inner.print(job);
        match &outcome {
            PrintOutcome::Printed => {
                self.paper(false);
                self.device(2, "printer", &Ok(()));
            }
            PrintOutcome::OutOfPaper => self.paper(true),
            PrintOutcome::Failed(f) => self.device(2, "printer", &Err(f.clone())),
        }
        outcome
    }

    fn health(&mut self) -> DeviceHealth {
        let h = self.inner.health();
        self.paper(h.paper == PaperStatus::Out);
        self.device(0, "reader", &h.reader);
        self.device(1, "scanner", &h.scanner);
        self.device(2, "printer", &h.printer);
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> PrintJob {
        PrintJob::new(crate::domain::Receipt::Payment(
            crate::devices::printer::receipts::samples::payment("CQ-TEST-0001"),
        ))
    }

    #[test]
    fn a_receipt_prints_its_fee_and_a_verification_code_then_cuts() {
        let p = DevicePeripherals::open(
            &crate::config::KioskConfig::embedded(),
            None,
            None,
            PrintedReceipts::default(),
            Arc::default(),
        )
        .unwrap();
        let bytes = p.layout(&doc());
        let ops = render::parse(&bytes);
        let text = render::to_text(&ops);
        assert!(text.contains("手续费：0.00元"), "{text}");
        assert!(text.contains("CQ-TEST-0001"));
        assert!(
            text.contains("CQKIOSK-RCPT/1|P|CQ-TEST-0001|5001061100123456|30000|"),
            "{text}"
        );
        assert!(render::unknown_bytes(&ops).is_empty());
        let cut = bytes
            .windows(2)
            .rposition(|w| w == [0x1d, 0x56])
            .expect("a cut");
        assert!(cut + 4 >= bytes.len(), "the cut ends the job");
    }

    #[test]
    fn out_of_paper_keeps_the_receipt_for_reprint() {
        let config = crate::config::KioskConfig::embedded();
        let printed = PrintedReceipts::default();
        let paper_out = Arc::new(Mutex::new(true));
        let mut p =
            DevicePeripherals::open(&config, None, None, printed.clone(), paper_out.clone())
                .unwrap();
        assert_eq!(p.print(&doc()), PrintOutcome::OutOfPaper);
        assert!(printed.lock().unwrap().is_empty());
        assert_eq!(p.queue.unprinted().count(), 1);
        *paper_out.lock().unwrap() = false;
        assert_eq!(p.print(&doc()), PrintOutcome::Printed);
        assert_eq!(
            p.queue.unprinted().count(),
            0,
            "the kept receipt printed too"
        );
        assert_eq!(printed.lock().unwrap().len(), 1);
        assert_eq!(p.health().paper, PaperStatus::Ok);
    }

    #[test]
    fn a_printer_that_hangs_does_not_hold_the_screen() {
        let mut w = PrinterWorker::spawn_with_waits(
            |job| {
                std::thread::sleep(Duration::from_millis(400));
                if let PrinterJob::Print(_, reply) = job {
                    let _ = reply.send(PrintOutcome::Printed);
                }
            },
            Duration::from_millis(50),
            Duration::from_millis(50),
        );
        let started = std::time::Instant::now();
        assert!(matches!(
            w.print(&doc()),
            PrintOutcome::Failed(DeviceFailure {
                kind: ErrorKind::Timeout,
                ..
            })
        ));
        assert_eq!(w.health().printer.unwrap_err().kind, ErrorKind::Timeout);
        assert!(
            started.elapsed() < Duration::from_millis(350),
            "answered within the waits"
        );
    }

    #[test]
    fn a_working_printer_answers_through_the_worker() {
        let config = crate::config::KioskConfig::embedded();
        let printed = PrintedReceipts::default();
        let p =
            DevicePeripherals::open(&config, None, None, printed.clone(), Arc::default()).unwrap();
        let mut w = PrinterWorker::spawn(p);
        assert_eq!(w.print(&doc()), PrintOutcome::Printed);
        assert_eq!(printed.lock().unwrap().len(), 1);
        assert_eq!(w.health().paper, PaperStatus::Ok);
    }
}
