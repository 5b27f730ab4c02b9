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

use super::reader::{self, CardReader};
use super::{DeviceError, ErrorKind};
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
    /// Simulate a reader holding the card with this ID number on a pseudo-terminal; prints the
    /// terminal's path and serves until killed.
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
        /// What the scanner appends to each scan: \r, \n or \r\n (also cr, lf, crlf).
        #[arg(long, default_value = "\r\n")]
        suffix: String,
        /// Give up after this long without a scan (default: wait indefinitely).
        #[arg(long)]
        timeout_ms: Option<u64>,
    },
    /// Simulate a scanner in serial mode on a pseudo-terminal: prints the terminal's path, then
    /// scans the given codes in turn until killed.
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

/// Exit status for an error of this kind.
pub fn exit_status(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::Config => 2,
        ErrorKind::Timeout => 3,
        ErrorKind::Disconnected => 4,
        ErrorKind::Protocol => 5,
        ErrorKind::DeviceReported => 6,
        ErrorKind::InvalidData => 7,
    }
}

fn scan(
    port: PathBuf,
    baud: u32,
    count: u32,
    suffix: &str,
    timeout_ms: Option<u64>,
) -> anyhow::Result<i32> {
    use super::scanner::{Scan, Scanner, SerialScanner, Suffix};
    let suffix: Suffix = match suffix.parse() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kiosk device scan: --suffix: {e}");
            return Ok(2);
        }
    };
    let mut scanner = SerialScanner::new(super::link::SerialOpener::new(port, baud), suffix);
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
                eprintln!(
                    "kiosk device scan: a scan of {} bytes is not UTF-8 (hex {}); check the scanner's character set",
                    bytes.len(),
                    hex::encode(&bytes)
                );
                status = 1;
            }
            Err(e) => {
                eprintln!("kiosk device scan: {e}");
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
    let suffix: super::scanner::Suffix = match suffix.parse() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kiosk device sim-scanner: --suffix: {e}");
            return Ok(2);
        }
    };
    let mut codes = Vec::new();
    for t in texts {
        if is_hex {
            match hex::decode(t.replace(' ', "")) {
                Ok(b) => codes.push(b),
                Err(e) => {
                    eprintln!("kiosk device sim-scanner: --text {t:?} is not hex: {e}");
                    return Ok(2);
                }
            }
        } else {
            codes.push(t.into_bytes());
        }
    }
    let mut pty = super::pty::Pty::open()?;
    announce_path(pty.path())?;
    let stop = AtomicBool::new(false);
    super::scanner::sim::serve_pty(
        &mut pty,
        &codes,
        suffix,
        Duration::from_millis(interval_ms.max(1)),
        &stop,
    )?;
    Ok(0)
}

/// `kiosk device ARGS…` (the words after `device`); returns the exit status.
pub fn run(args: Vec<String>) -> anyhow::Result<i32> {
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
                    eprintln!("kiosk device read-card: {e}");
                    Ok(exit_status(e.kind()))
                }
            }
        }
        DeviceCommand::SimReader { card } => {
            let id = match IdNumber::parse(&card) {
                Ok(id) => id,
                Err(e) => {
                    eprintln!("kiosk device sim-reader: --card: {e}");
                    return Ok(2);
                }
            };
            let mut sim = reader::sim::SimReader::with_card(reader::sim::card_for(&id));
            sim.replace_after_read = true;
            let mut session = reader::sim::SimSession::new(sim, Default::default());
            let mut pty = super::pty::Pty::open()?;
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
        let card = reader::sim::demo_cards().remove(1);
        let json = serde_json::to_string(&CardJson::from(&card)).unwrap();
        assert_eq!(
            json,
            r#"{"card_type":"resident","name":"张三","gender":"男","nation":"汉","birth_date":"1990-03-07","address":"重庆市渝中区解放碑民族路88号","id_number":"500103199003070017","authority":"重庆市公安局渝中区分局","valid_from":"2015-06-12","valid_until":"2035-06-12"}"#
        );
        let long = reader::sim::demo_cards().remove(2);
        assert!(
            serde_json::to_string(&CardJson::from(&long))
                .unwrap()
                .contains(r#""valid_until":"长期""#)
        );
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
