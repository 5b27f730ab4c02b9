//! `kiosk device …`: the machine interfaces of devices.md. `anyhow` stays in [`run`].
//!
//! Exit status: 0 success; 2 bad arguments or configuration; 3 timeout (no card, no scan, no
//! answer); 4 device absent or disconnected; 5 protocol error; 6 the device reported an error;
//! 7 the data read cannot be used (e.g. an ID number failing its check digit, a foreigner's card);
//! 1 a scan that was not UTF-8.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use crate::devices::reader::{self, CardReader};
use crate::devices::{DeviceError, ErrorKind};
use crate::domain::{IdCard, IdNumber};

#[derive(Parser, Debug)]
#[command(name = "kiosk device", about = "The kiosk's devices")]
struct DeviceCli {
    #[command(subcommand)]
    command: DeviceCommand,
}

#[derive(Subcommand, Debug)]
enum DeviceCommand {
    /// Wait for an ID card on a GA 467 reader, read it, print one JSON line.
    ReadCard {
        /// Serial port of the reader (e.g. /dev/kiosk-reader, a pseudo-terminal).
        #[arg(long)]
        port: PathBuf,
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// How long to wait for a card.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
    },
    /// Simulate a reader holding the card with this ID number on a pseudo-terminal.
    ///
    /// Prints the terminal's path and serves until killed. After each complete read the card
    /// counts as lifted and placed again, so one simulator serves several reads.
    SimReader {
        /// A demo card's ID number, or any valid number (a card is synthesised for it).
        #[arg(long)]
        card: String,
    },
    /// Read scans from a scanner in serial mode; one JSON line `{"text": …}` per scan.
    Scan {
        #[arg(long)]
        port: PathBuf,
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        /// Exit after this many scans.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// What ends a scan: any (the default: \r, \n or \r\n, CR LF counting once), or only
        /// \r, \n or \r\n (also cr, lf, crlf). A scan is at most 4096 bytes.
        #[arg(long, default_value = "any")]
        suffix: String,
        /// Give up after this long without a scan (default: wait indefinitely).
        #[arg(long)]
        timeout_ms: Option<u64>,
    },
    /// Take one frame from the face camera, write the JPEG to --out and print one JSON line
    /// `{"width": …, "height": …, "bytes": …}` (exit 4: no camera, 7: a garbled frame).
    Capture {
        /// v4l2:/dev/videoN (a UVC webcam with MJPEG) or files:DIR (the test camera).
        #[arg(long)]
        camera: String,
        /// Where the JPEG is written.
        #[arg(long)]
        out: PathBuf,
        /// How long to wait for a frame.
        #[arg(long, default_value_t = 5_000)]
        timeout_ms: u64,
    },
    /// Serial ports and USB printers attached to this PC, as JSON.
    List,
    /// Print a sample receipt (with `file:PATH` the raw ESC/POS bytes land in PATH).
    Print {
        /// sim, file:PATH, tcp:HOST:PORT, serial:PATH[?baud=N], usb:VID:PID.
        #[arg(long)]
        printer: String,
        #[arg(long, value_enum)]
        sample: Sample,
        #[arg(long, default_value_t = 80)]
        paper: u32,
        /// The kiosk id printed on the receipt.
        #[arg(long, default_value = "CQ-DEMO-0001")]
        kiosk_id: String,
        /// Where the `sim` printer writes its PNGs.
        #[arg(long, default_value = "kiosk-printer-sim")]
        sim_dir: PathBuf,
    },
    /// The printer's status as JSON.
    Status {
        #[arg(long)]
        printer: String,
    },
    /// Render ESC/POS bytes to a PNG as the printer simulator prints them.
    ///
    /// Bounds: a file of at most 2097152 bytes (one print job; larger is refused, exit 2); at
    /// most 60000 dots (7.5 m) of paper are drawn, the rest is left out with a warning; the first
    /// 10 bytes not understood are listed, the others counted in one line.
    Render {
        /// The ESC/POS file.
        file: PathBuf,
        #[arg(long)]
        png: PathBuf,
        #[arg(long, default_value_t = 80)]
        paper: u32,
        /// Also print the decoded commands and text on stdout.
        #[arg(long)]
        text: bool,
    },
    /// Simulate a scanner in serial mode on a pseudo-terminal.
    ///
    /// Prints the terminal's path, then scans the given codes in turn until killed; a scan
    /// nobody read before the next one is dropped.
    SimScanner {
        /// The text of a code (repeat for several codes).
        #[arg(long, required = true)]
        text: Vec<String>,
        /// The texts are hex bytes (to simulate codes that are not UTF-8).
        #[arg(long)]
        hex: bool,
        #[arg(long, default_value = "\r\n")]
        suffix: String,
        /// Time between two scans.
        #[arg(long, default_value_t = 300)]
        interval_ms: u64,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Sample {
    /// 处理凭证.
    Handling,
    /// 缴款凭证.
    Payment,
    /// 处罚决定书.
    Decision,
    /// 机动车二维码.
    VehicleQr,
    /// A test page.
    Test,
}

/// Exit status for an error of this kind.
pub fn exit_status(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::Config => 2,
        ErrorKind::Timeout => 3,
        ErrorKind::Disconnected => 4,
        ErrorKind::Protocol => 5,
        ErrorKind::DeviceReported => 6,
        ErrorKind::InvalidData => 7,
        ErrorKind::Other => 8,
    }
}

fn scan(
    port: PathBuf,
    baud: u32,
    count: u32,
    suffix: &str,
    timeout_ms: Option<u64>,
) -> anyhow::Result<i32> {
    use crate::devices::scanner::{Scan, Scanner, SerialScanner, Suffix};
    let suffix: Suffix = match suffix.parse() {
        Ok(s) => s,
        Err(e) => {
            crate::errln!("kiosk device scan: --suffix: {e}");
            return Ok(2);
        }
    };
    let mut scanner =
        SerialScanner::new(crate::devices::link::SerialOpener::new(port, baud), suffix);
    let mut status = 0;
    let mut out = std::io::stdout().lock();
    for _ in 0..count {
        // "Indefinitely" is a century; the deadline keeps the types simple.
        let wait = Duration::from_millis(timeout_ms.unwrap_or(100 * 365 * 86_400_000));
        match scanner.next_scan(Instant::now() + wait) {
            Ok(Scan::Text(text)) => {
                writeln!(out, "{}", serde_json::json!({ "text": text }))?;
                out.flush()?;
            }
            Ok(Scan::NotUtf8(bytes)) => {
                crate::errln!(
                    "kiosk device scan: a scan of {} bytes is not UTF-8 (hex {}); check the scanner's character set",
                    bytes.len(),
                    hex::encode(&bytes)
                );
                status = 1;
            }
            Err(e) => {
                crate::errln!("kiosk device scan: {e}");
                return Ok(exit_status(e.kind()));
            }
        }
    }
    Ok(status)
}

fn sim_scanner(
    texts: Vec<String>,
    is_hex: bool,
    suffix: &str,
    interval_ms: u64,
) -> anyhow::Result<i32> {
    let suffix: crate::devices::scanner::Suffix = match suffix.parse() {
        Ok(s) => s,
        Err(e) => {
            crate::errln!("kiosk device sim-scanner: --suffix: {e}");
            return Ok(2);
        }
    };
    let mut codes = Vec::new();
    for t in texts {
        if is_hex {
            match hex::decode(t.replace(' ', "")) {
                Ok(b) => codes.push(b),
                Err(e) => {
                    crate::errln!("kiosk device sim-scanner: --text {t:?} is not hex: {e}");
                    return Ok(2);
                }
            }
        } else {
            codes.push(t.into_bytes());
        }
    }
    let mut pty = crate::devices::pty::Pty::open()?;
    announce_path(pty.path())?;
    let stop = AtomicBool::new(false);
    crate::devices::scanner::sim::serve_pty(
        &mut pty,
        &codes,
        suffix,
        Duration::from_millis(interval_ms.max(1)),
        &stop,
    )?;
    Ok(0)
}

fn paper(mm: u32, command: &str) -> Option<crate::devices::printer::Paper> {
    let p = crate::devices::printer::Paper::from_mm(mm);
    if p.is_none() {
        crate::errln!("kiosk device {command}: --paper must be 58 or 80, not {mm}");
    }
    p
}

fn open_printer(
    uri: &str,
    command: &str,
    paper: crate::devices::printer::Paper,
    sim_dir: Option<PathBuf>,
) -> Result<
    (
        crate::devices::printer::EscPosPrinter,
        Option<crate::devices::printer::SimPrinterView>,
    ),
    i32,
> {
    let uri: crate::devices::DeviceUri = uri.parse().map_err(|e| {
        crate::errln!("kiosk device {command}: --printer: {e}");
        2
    })?;
    crate::devices::printer::open(&uri, paper, sim_dir).map_err(|e| {
        crate::errln!("kiosk device {command}: {e}");
        exit_status(e.kind())
    })
}

fn print(
    printer: &str,
    sample: Sample,
    paper_mm: u32,
    kiosk_id: &str,
    sim_dir: PathBuf,
) -> anyhow::Result<i32> {
    use crate::devices::printer::receipts::samples;
    let Some(paper) = paper(paper_mm, "print") else {
        return Ok(2);
    };
    let (mut p, sim_view) = match open_printer(printer, "print", paper, Some(sim_dir)) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let (title, bytes) = match sample {
        Sample::Handling => ("handling", samples::handling(kiosk_id).escpos(paper)),
        Sample::Payment => ("payment", samples::payment(kiosk_id).escpos(paper)),
        Sample::Decision => ("decision", samples::decision(kiosk_id).escpos(paper)),
        Sample::VehicleQr => ("vehicle-qr", samples::vehicle_qr(kiosk_id).escpos(paper)),
        Sample::Test => ("test", samples::test_page(kiosk_id, paper)),
    };
    let len = bytes.len();
    let mut queue = crate::devices::printer::PrintQueue::in_memory();
    let (id, _) = queue.submit(title, bytes);
    queue.print_pending(&mut p);
    let job = queue.get(id).expect("just queued");
    match &job.state {
        crate::devices::printer::JobState::Printed => {
            let mut line = serde_json::json!({"printer": p.describe(), "sample": title, "bytes": len, "state": "printed"});
            // The simulator's rendering of the receipt.
            if let Some(png) = sim_view.and_then(|v| {
                v.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pngs
                    .last()
                    .cloned()
            }) {
                line["png"] = png.display().to_string().into();
            }
            crate::outln!("{line}")?;
            Ok(0)
        }
        state => {
            let reason = match state {
                crate::devices::printer::JobState::Failed(r) => r.as_str(),
                _ => "not sent",
            };
            crate::errln!("kiosk device print: the {title} receipt was not printed: {reason}");
            Ok(6)
        }
    }
}

fn status(printer: &str) -> anyhow::Result<i32> {
    use crate::devices::printer::ReceiptPrinter;
    let mut p = match open_printer(
        printer,
        "status",
        crate::devices::printer::Paper::Mm80,
        None,
    ) {
        Ok((p, _)) => p,
        Err(code) => return Ok(code),
    };
    match p.status() {
        Ok(Some(s)) => {
            let mut v = serde_json::to_value(s)?;
            v["printer"] = p.describe().into();
            v["state"] = serde_json::to_value(s.state())?;
            v["message"] = s.message().into();
            crate::outln!("{v}")?;
            Ok(0)
        }
        Ok(None) => {
            crate::outln!(
                "{}",
                serde_json::json!({"printer": p.describe(), "state": "unknown", "message": "this transport cannot report the printer's status"})
            )?;
            Ok(0)
        }
        Err(e) => {
            crate::errln!("kiosk device status: {e}");
            Ok(exit_status(e.kind()))
        }
    }
}

fn render(file: PathBuf, png: PathBuf, paper_mm: u32, text: bool) -> anyhow::Result<i32> {
    use crate::devices::printer::render;
    use std::io::Read as _;
    let Some(paper) = paper(paper_mm, "render") else {
        return Ok(2);
    };
    // Read at most one byte past the limit: a larger file is refused without reading it whole.
    let mut bytes = Vec::new();
    let read = std::fs::File::open(&file).and_then(|f| {
        f.take(render::MAX_JOB_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
    });
    if let Err(e) = read {
        crate::errln!("kiosk device render: cannot read {}: {e}", file.display());
        return Ok(2);
    }
    if bytes.len() > render::MAX_JOB_BYTES {
        crate::errln!(
            "kiosk device render: {} is larger than {} bytes, the limit of one print job; render a single job",
            file.display(),
            render::MAX_JOB_BYTES
        );
        return Ok(2);
    }
    let ops = render::parse(&bytes);
    for line in render::unknown_warnings(&render::unknown_bytes(&ops)) {
        crate::errln!("kiosk device render: {line}");
    }
    if text {
        crate::term::out(render::to_text(&ops))?;
    }
    let canvas = render::render(&ops, paper);
    if canvas.truncated {
        crate::errln!(
            "kiosk device render: the job is longer than {} dots of paper; the rest is left out",
            crate::devices::printer::font::MAX_HEIGHT
        );
    }
    let image = canvas.to_png()?;
    if let Err(e) = std::fs::write(&png, image) {
        crate::errln!("kiosk device render: cannot write {}: {e}", png.display());
        return Ok(2);
    }
    Ok(0)
}

/// `kiosk device capture`: one frame from the camera into `out`.
fn capture(camera: &str, out: &std::path::Path, timeout_ms: u64) -> anyhow::Result<i32> {
    use crate::devices::camera::{AnyCamera, Camera, CameraUri};
    let uri: CameraUri = match camera.parse() {
        Ok(u) => u,
        Err(e) => {
            crate::errln!("kiosk device capture: --camera: {e}");
            return Ok(2);
        }
    };
    let frame = AnyCamera::open(&uri)
        .and_then(|mut c| c.capture(Instant::now() + Duration::from_millis(timeout_ms)));
    match frame {
        Ok(frame) => {
            std::fs::write(out, &frame.jpeg)?;
            crate::outln!(
                "{}",
                serde_json::json!({
                    "width": frame.width,
                    "height": frame.height,
                    "bytes": frame.jpeg.len(),
                })
            )?;
            Ok(0)
        }
        Err(e) => {
            crate::errln!("kiosk device capture: {e}");
            Ok(exit_status(e.kind()))
        }
    }
}

/// The card the reader simulator holds for an ID number (`sim-reader --card ID`). The binary's
/// edge passes the demo city's cards in (`crate::app::sim_source::card_for`): the device layer
/// holds no population of its own.
pub type CardFor<'a> = &'a dyn Fn(&IdNumber) -> crate::domain::IdCard;

/// `kiosk device ARGS…` (the words after `device`); returns the exit status.
pub fn run(args: Vec<String>, card_for: CardFor<'_>) -> anyhow::Result<i32> {
    let cli =
        match DeviceCli::try_parse_from(std::iter::once("kiosk device".to_string()).chain(args)) {
            Ok(cli) => cli,
            Err(e) => {
                let code = e.exit_code();
                e.print()?;
                return Ok(code);
            }
        };
    match cli.command {
        DeviceCommand::ReadCard {
            port,
            baud,
            timeout_ms,
        } => {
            let mut reader = reader::serial::serial_reader(port, baud);
            let deadline = Instant::now() + Duration::from_millis(timeout_ms);
            match reader.read_card(deadline) {
                Ok(card) => {
                    let line = serde_json::to_string(&CardJson::from(&card))?;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{line}")?;
                    out.flush()?;
                    Ok(0)
                }
                Err(e) => {
                    crate::errln!("kiosk device read-card: {e}");
                    Ok(exit_status(e.kind()))
                }
            }
        }
        DeviceCommand::SimReader { card } => {
            let id = match IdNumber::parse(&card) {
                Ok(id) => id,
                Err(e) => {
                    crate::errln!("kiosk device sim-reader: --card: {e}");
                    return Ok(2);
                }
            };
            let mut sim = reader::sim::SimReader::with_card(card_for(&id));
            sim.replace_after_read = true;
            let mut session = reader::sim::SimSession::new(sim, Default::default());
            let mut pty = crate::devices::pty::Pty::open()?;
            announce_path(pty.path())?;
            let stop = AtomicBool::new(false);
            reader::sim::serve_pty(&mut pty, &mut session, &stop, Duration::ZERO)?;
            Ok(0)
        }
        DeviceCommand::Scan {
            port,
            baud,
            count,
            suffix,
            timeout_ms,
        } => scan(port, baud, count, &suffix, timeout_ms),
        DeviceCommand::Print {
            printer,
            sample,
            paper,
            kiosk_id,
            sim_dir,
        } => print(&printer, sample, paper, &kiosk_id, sim_dir),
        DeviceCommand::Status { printer } => status(&printer),
        DeviceCommand::Capture {
            camera,
            out,
            timeout_ms,
        } => capture(&camera, &out, timeout_ms),
        DeviceCommand::List => {
            crate::outln!(
                "{}",
                serde_json::to_string_pretty(&crate::devices::list::list())?
            )?;
            Ok(0)
        }
        DeviceCommand::Render {
            file,
            png,
            paper,
            text,
        } => render(file, png, paper, text),
        DeviceCommand::SimScanner {
            text,
            hex,
            suffix,
            interval_ms,
        } => sim_scanner(text, hex, &suffix, interval_ms),
    }
}

fn announce_path(path: &std::path::Path) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", path.display())?;
    out.flush()?;
    Ok(())
}

/// The read-card contract's JSON line (field order as in devices.md).
#[derive(serde::Serialize)]
struct CardJson<'a> {
    card_type: crate::domain::CardType,
    name: &'a str,
    gender: &'static str,
    nation: Option<&'static str>,
    birth_date: String,
    address: &'a str,
    id_number: &'a str,
    authority: &'a str,
    valid_from: String,
    valid_until: String,
}

impl<'a> From<&'a IdCard> for CardJson<'a> {
    fn from(c: &'a IdCard) -> Self {
        let iso = |d: jiff::civil::Date| d.strftime("%Y-%m-%d").to_string();
        CardJson {
            card_type: c.card_type,
            name: c.name.expose(),
            gender: c.gender.name_zh(),
            nation: c.nation.map(|n| n.name_zh()),
            birth_date: iso(c.birth_date),
            address: c.address.expose(),
            id_number: c.id_number.expose(),
            authority: &c.authority,
            valid_from: iso(c.valid_from),
            valid_until: c.valid_until.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_json_follows_the_contract() {
        let card = reader::sim::test_cards().remove(1);
        let json = serde_json::to_string(&CardJson::from(&card)).unwrap();
        assert_eq!(
            json,
            r#"{"card_type":"resident","name":"王建国","gender":"男","nation":"汉","birth_date":"1990-03-07","address":"重庆市渝中区解放碑民族路88号","id_number":"500103199003070017","authority":"重庆市公安局渝中区分局","valid_from":"2015-06-12","valid_until":"2035-06-12"}"#
        );
        let long = reader::sim::test_cards().remove(2);
        assert!(
            serde_json::to_string(&CardJson::from(&long))
                .unwrap()
                .contains(r#""valid_until":"长期""#)
        );
    }

    /// No card data in the device layer: tests hand the spec's card in.
    fn spec(_: &IdNumber) -> crate::domain::IdCard {
        reader::sim::spec_card()
    }

    fn run(args: Vec<String>) -> anyhow::Result<i32> {
        super::run(args, &spec)
    }

    #[test]
    fn bad_arguments_exit_with_clap_status() {
        assert_eq!(run(vec!["read-card".into()]).unwrap(), 2);
        assert_eq!(run(vec!["no-such-command".into()]).unwrap(), 2);
    }

    #[test]
    fn sim_reader_refuses_an_invalid_number() {
        let code = run(vec![
            "sim-reader".into(),
            "--card".into(),
            "500103199003070018".into(),
        ])
        .unwrap();
        assert_eq!(code, 2);
    }
}
