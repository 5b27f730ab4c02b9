//! The real serial adapters against the simulators over real pseudo-terminals, and the
//! `kiosk device` contracts run as a subprocess.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kiosk::devices::pty::Pty;
use kiosk::devices::reader::frame::{Decoder, Response, Status};
use kiosk::devices::reader::sim::{Faults, SimReader, SimSession, serve_pty, test_cards};
use kiosk::devices::reader::{CardReader, Ga467Reader, ReaderError, ReaderTiming, SerialOpener};
use kiosk::devices::{DeviceError, ErrorKind};

const KIOSK: &str = env!("CARGO_BIN_EXE_kiosk");

/// A reader simulator served on a pseudo-terminal from a thread.
struct PtySim {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PtySim {
    fn start(sim: SimReader, faults: Faults, chunk_delay: Duration) -> Self {
        let mut pty = Pty::open().expect("open a pseudo-terminal");
        let path = pty.path().to_path_buf();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut session = SimSession::new(sim, faults);
            serve_pty(&mut pty, &mut session, &stop2, chunk_delay).expect("serve");
        });
        PtySim {
            path,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for PtySim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn timing() -> ReaderTiming {
    ReaderTiming {
        response_timeout: Duration::from_millis(500),
        poll_interval: Duration::from_millis(20),
        reopen_backoff: Duration::from_millis(20),
        ..ReaderTiming::default()
    }
}

fn reader_on(path: &Path) -> Ga467Reader<SerialOpener> {
    Ga467Reader::new(SerialOpener::new(path, 115_200), timing())
}

fn in_ms(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

#[test]
fn serial_reader_reads_through_line_noise_and_dribbled_bytes() {
    let card = test_cards().remove(0);
    let faults = Faults {
        noise: vec![0x00, 0xAA, 0x13, 0xAA, 0xAA, 0x96, 0xFF],
        dribble: 3,
        ..Faults::default()
    };
    let sim = PtySim::start(
        SimReader::with_card(card.clone()),
        faults,
        Duration::from_micros(200),
    );
    let mut reader = reader_on(&sim.path);
    assert_eq!(reader.read_card(in_ms(15_000)).unwrap(), card);
}

#[test]
fn serial_reader_retries_a_bad_checksum_then_reads() {
    let card = test_cards().remove(1);
    let faults = Faults {
        corrupt_responses: 1,
        corrupt_after: 2,
        ..Faults::default()
    };
    let sim = PtySim::start(SimReader::with_card(card.clone()), faults, Duration::ZERO);
    let mut reader = reader_on(&sim.path);
    assert_eq!(reader.read_card(in_ms(5000)).unwrap(), card);
    assert_eq!(reader.checksum_retries, 1);
}

#[test]
fn serial_reader_without_a_card_gives_up_at_the_deadline() {
    let sim = PtySim::start(SimReader::empty(), Faults::default(), Duration::ZERO);
    let mut reader = reader_on(&sim.path);
    let started = Instant::now();
    let err = reader.read_card(in_ms(600)).unwrap_err();
    assert!(matches!(err, ReaderError::NoCard { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(550) && took < Duration::from_millis(2000),
        "{took:?}"
    );
}

#[test]
fn serial_reader_reopens_a_port_that_was_closed_and_came_back() {
    // A stable name like /dev/kiosk-reader: a symlink to whichever terminal is current.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("kiosk-reader");
    let first = PtySim::start(SimReader::empty(), Faults::default(), Duration::ZERO);
    std::os::unix::fs::symlink(&first.path, &link).unwrap();
    let mut reader = reader_on(&link);
    assert!(matches!(
        reader.read_card(in_ms(200)),
        Err(ReaderError::NoCard { .. })
    ));
    assert_eq!(reader.opens, 1);
    // The device goes away…
    drop(first);
    std::fs::remove_file(&link).unwrap();
    let card = test_cards().remove(2);
    let reconnect = {
        let link = link.clone();
        let card = card.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            // …and comes back under the same name.
            let second = PtySim::start(
                SimReader::with_card(card),
                Faults::default(),
                Duration::ZERO,
            );
            std::os::unix::fs::symlink(&second.path, &link).unwrap();
            second
        })
    };
    let got = reader.read_card(in_ms(5000));
    let _second = reconnect.join().unwrap();
    assert_eq!(got.unwrap(), card);
    assert!(reader.opens >= 2, "opened {} times", reader.opens);
}

/// Spawn `kiosk device ARGS` whose first stdout line is a pseudo-terminal path.
struct SimProcess {
    child: Child,
    path: PathBuf,
}

impl SimProcess {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(KIOSK)
            .arg("device")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the simulator");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let path = PathBuf::from(line.trim());
        assert!(path.starts_with("/dev/pts"), "{line:?}");
        SimProcess { child, path }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kiosk_device(args: &[&str]) -> std::process::Output {
    Command::new(KIOSK)
        .arg("device")
        .args(args)
        .output()
        .expect("run kiosk")
}

#[test]
fn read_card_contract_prints_one_json_line() {
    let sim = SimProcess::start(&["sim-reader", "--card", "50010619851120002X"]);
    let port = sim.path.to_str().unwrap();
    for _ in 0..2 {
        // The simulator serves more than one read.
        let out = kiosk_device(&["read-card", "--port", port, "--timeout-ms", "5000"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["card_type"], "resident");
        assert_eq!(v["name"], "李小红");
        assert_eq!(v["gender"], "女");
        assert_eq!(v["nation"], "维吾尔");
        assert_eq!(v["birth_date"], "1985-11-20");
        assert_eq!(v["address"], "重庆市沙坪坝区天星桥正街12号");
        assert_eq!(v["id_number"], "50010619851120002X");
        assert_eq!(v["authority"], "重庆市公安局沙坪坝区分局");
        assert_eq!(v["valid_from"], "2016-11-20");
        assert_eq!(v["valid_until"], "2036-11-20");
    }
}

#[test]
fn read_card_contract_fails_cleanly_without_a_reader() {
    let out = kiosk_device(&[
        "read-card",
        "--port",
        "/dev/this-reader-does-not-exist",
        "--timeout-ms",
        "300",
    ]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not connected"));
}

#[test]
fn read_card_contract_fails_cleanly_when_no_card_comes() {
    let sim = PtySim::start(SimReader::empty(), Faults::default(), Duration::ZERO);
    let port = sim.path.to_str().unwrap();
    let out = kiosk_device(&["read-card", "--port", port, "--timeout-ms", "500"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert!(!out.stderr.is_empty());
}

/// A reader that answers with the spec's read but an ID number altered in one digit.
#[test]
fn read_card_contract_refuses_an_id_number_failing_its_check() {
    let card = test_cards().remove(0);
    let mut honest = SimReader::with_card(card);
    let mut pty = Pty::open().unwrap();
    let port = pty.path().to_str().unwrap().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = std::thread::spawn(move || {
        let mut d = Decoder::new();
        let mut buf = [0u8; 256];
        while !stop2.load(Ordering::Relaxed) {
            let n = pty.read_some(&mut buf, Duration::from_millis(20)).unwrap();
            d.push(&buf[..n]);
            while let Some(Ok(body)) = d.next_body() {
                let mut r = honest.answer(&body);
                if r.status == Status::Success && r.data.len() > 1000 {
                    // ID number starts at text byte 122; data has 4 length bytes first.
                    let at = 4 + 122 + 2 * 16;
                    r.data[at] = if r.data[at] == b'0' { b'1' } else { b'0' };
                }
                let r: Response = r;
                pty.send(&r.encode()).unwrap();
            }
        }
    });
    let out = kiosk_device(&["read-card", "--port", &port, "--timeout-ms", "3000"]);
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("校验"), "{stderr}");
}

mod scanner {
    use super::*;
    use kiosk::devices::scanner::sim::send_scans;
    use kiosk::devices::scanner::{Scan, Scanner, SerialScanner, Suffix};

    fn scanner_with(scans: Vec<Vec<u8>>, suffix: Suffix, chunk: usize) -> (Vec<Scan>, usize) {
        scanner_reading(scans, suffix, suffix, chunk)
    }

    /// A scanner that sends `sent` after each scan, read with the `read` setting.
    fn scanner_reading(
        scans: Vec<Vec<u8>>,
        sent: Suffix,
        read: Suffix,
        chunk: usize,
    ) -> (Vec<Scan>, usize) {
        let suffix = sent;
        let mut pty = Pty::open().unwrap();
        let mut scanner = SerialScanner::new(SerialOpener::new(pty.path(), 9600), read);
        let n = scans.len();
        // Open the port before the scanner sends (as a kiosk that is already running).
        let first = scanner.next_scan(in_ms(50));
        assert!(first.is_err());
        let sender = std::thread::spawn(move || {
            send_scans(&mut pty, &scans, suffix, Duration::from_millis(5), chunk).unwrap();
            pty
        });
        let got: Vec<Scan> = (0..n)
            .map(|_| scanner.next_scan(in_ms(5000)).unwrap())
            .collect();
        let _pty = sender.join().unwrap();
        (got, n)
    }

    #[test]
    fn serial_scanner_splits_scans_for_each_suffix_even_dribbled() {
        for suffix in [Suffix::Cr, Suffix::Lf, Suffix::CrLf] {
            for chunk in [0, 1, 3] {
                let (got, _) = scanner_with(
                    vec![b"VQR1.abc".to_vec(), "渝A12345".as_bytes().to_vec()],
                    suffix,
                    chunk,
                );
                assert_eq!(
                    got,
                    vec![Scan::Text("VQR1.abc".into()), Scan::Text("渝A12345".into())],
                    "{suffix:?} chunk {chunk}"
                );
            }
        }
    }

    /// The default setting reads a scanner that ends scans with CR alone (a common factory
    /// default), LF alone or CR LF, even dribbled a byte at a time: no hang waiting for an LF.
    #[test]
    fn serial_scanner_by_default_takes_any_line_end() {
        for sent in [Suffix::Cr, Suffix::Lf, Suffix::CrLf] {
            for chunk in [0, 1] {
                let (got, _) = scanner_reading(
                    vec![b"VQR1.abc".to_vec(), "渝A12345".as_bytes().to_vec()],
                    sent,
                    Suffix::default(),
                    chunk,
                );
                assert_eq!(
                    got,
                    vec![Scan::Text("VQR1.abc".into()), Scan::Text("渝A12345".into())],
                    "{sent:?} chunk {chunk}"
                );
            }
        }
    }

    #[test]
    fn serial_scanner_reports_non_utf8_and_carries_on() {
        let (got, _) = scanner_with(vec![b"\xff\xfe".to_vec(), b"OK".to_vec()], Suffix::CrLf, 0);
        assert_eq!(
            got,
            vec![Scan::NotUtf8(vec![0xff, 0xfe]), Scan::Text("OK".into())]
        );
    }

    #[test]
    fn serial_scanner_reopens_a_port_that_was_closed_and_came_back() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("kiosk-scanner");
        let first = Pty::open().unwrap();
        std::os::unix::fs::symlink(first.path(), &link).unwrap();
        let mut scanner = SerialScanner::new(SerialOpener::new(&link, 9600), Suffix::CrLf);
        assert!(scanner.next_scan(in_ms(100)).is_err());
        assert_eq!(scanner.opens, 1);
        drop(first);
        std::fs::remove_file(&link).unwrap();
        let link2 = link.clone();
        let replug = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            let mut second = Pty::open().unwrap();
            std::os::unix::fs::symlink(second.path(), &link2).unwrap();
            // Scan until the adapter has reopened the port and read it.
            for _ in 0..50 {
                send_scans(
                    &mut second,
                    &[b"AGAIN".to_vec()],
                    Suffix::CrLf,
                    Duration::from_millis(50),
                    0,
                )
                .unwrap();
            }
            second
        });
        let got = scanner.next_scan(in_ms(5000));
        assert_eq!(got.unwrap(), Scan::Text("AGAIN".into()));
        assert!(scanner.opens >= 2);
        let _ = replug.join();
    }

    #[test]
    fn scan_contract_prints_one_json_line_per_scan() {
        let sim = SimProcess::start(&[
            "sim-scanner",
            "--text",
            "渝A12345",
            "--text",
            "hello \"world\"",
        ]);
        let port = sim.path.to_str().unwrap();
        let out = kiosk_device(&[
            "scan",
            "--port",
            port,
            "--count",
            "2",
            "--timeout-ms",
            "5000",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let texts: Vec<String> = stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(texts.len(), 2, "{stdout}");
        for t in &texts {
            assert!(t == "渝A12345" || t == "hello \"world\"", "{t}");
        }
    }

    #[test]
    fn scan_contract_reports_bytes_that_are_not_utf8() {
        let sim = SimProcess::start(&[
            "sim-scanner",
            "--hex",
            "--text",
            "d3e5ff41",
            "--suffix",
            "cr",
        ]);
        let port = sim.path.to_str().unwrap();
        let out = kiosk_device(&[
            "scan",
            "--port",
            port,
            "--suffix",
            "\\r",
            "--timeout-ms",
            "5000",
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));
    }

    #[test]
    fn scan_contract_times_out_cleanly() {
        let pty = Pty::open().unwrap();
        let port = pty.path().to_str().unwrap();
        let out = kiosk_device(&["scan", "--port", port, "--timeout-ms", "300"]);
        assert_eq!(out.status.code(), Some(3));
        assert!(out.stdout.is_empty());
    }
}

mod printer {
    use super::*;
    use kiosk::devices::printer::render;
    use std::io::{Read, Write};

    fn decode_qr(img: &image::GrayImage) -> Vec<String> {
        let mut prepared = rqrr::PreparedImage::prepare(img.clone());
        prepared
            .detect_grids()
            .into_iter()
            .filter_map(|g| g.decode().ok().map(|(_, s)| s))
            .collect()
    }

    #[test]
    fn print_to_a_file_then_render_reads_back_text_qr_and_cut() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("receipt.bin");
        let png = dir.path().join("receipt.png");
        let uri = format!("file:{}", bin.display());
        let out = kiosk_device(&[
            "print",
            "--printer",
            &uri,
            "--sample",
            "payment",
            "--paper",
            "58",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // An independent decoder (encoding_rs directly) finds the GB18030 text.
        let bytes = std::fs::read(&bin).unwrap();
        let (text, _) = encoding_rs::GB18030.decode_without_bom_handling(&bytes);
        assert!(text.contains("缴款凭证") && text.contains("手续费：0.00元"));
        assert!(bytes.ends_with(&[0x1D, b'V', 66, 0]), "ends with a cut");
        let out = kiosk_device(&[
            "render",
            bin.to_str().unwrap(),
            "--png",
            png.to_str().unwrap(),
            "--paper",
            "58",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let img = image::open(&png).unwrap().to_luma8();
        assert_eq!(img.width(), 384);
        let codes = decode_qr(&img);
        assert_eq!(codes.len(), 1);
        assert!(
            codes[0].starts_with("CQKIOSK-RCPT/1|P|CQ-DEMO-0001|"),
            "{codes:?}"
        );
    }

    #[test]
    fn render_lists_unknown_bytes_and_renders_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("odd.bin");
        let png = dir.path().join("odd.png");
        let mut bytes = vec![0x1B, b'@', 0x1C, b'&'];
        bytes.extend_from_slice(&[0x07, 0x1B, b'z']);
        let (t, _, _) = encoding_rs::GB18030.encode("仍然打印\n");
        bytes.extend_from_slice(&t);
        std::fs::write(&bin, &bytes).unwrap();
        let out = kiosk_device(&[
            "render",
            bin.to_str().unwrap(),
            "--png",
            png.to_str().unwrap(),
            "--text",
        ]);
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("0x07 at offset 4"), "{stderr}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("仍然打印"));
        assert!(png.exists());
    }

    #[test]
    fn render_refuses_a_missing_file_clearly() {
        let out = kiosk_device(&["render", "/nonexistent.bin", "--png", "/tmp/never.png"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    }

    /// A network printer on 127.0.0.1: collects job bytes, answers DLE EOT with `status`.
    fn fake_tcp_printer(status: [u8; 4]) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        // Answer status requests as they complete.
                        while let Some(i) = got.windows(2).position(|w| w == [0x10, 0x04]) {
                            if got.len() < i + 3 {
                                break;
                            }
                            let n = got[i + 2];
                            s.write_all(&[status[usize::from(n - 1)]]).unwrap();
                            got.drain(i..i + 3);
                        }
                    }
                }
            }
            got
        });
        (port, handle)
    }

    #[test]
    fn status_contract_over_tcp_reports_paper_out() {
        let (port, server) = fake_tcp_printer([0x12, 0x32, 0x12, 0x72]);
        let out = kiosk_device(&["status", "--printer", &format!("tcp:127.0.0.1:{port}")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["state"], "paper_out");
        assert_eq!(v["paper_out"], true);
        assert_eq!(v["cover_open"], false);
        server.join().unwrap();
    }

    #[test]
    fn print_contract_over_tcp_sends_the_job_and_confirms_it() {
        let (port, server) = fake_tcp_printer([0x12, 0x12, 0x12, 0x1E]);
        let out = kiosk_device(&[
            "print",
            "--printer",
            &format!("tcp:127.0.0.1:{port}"),
            "--sample",
            "handling",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let job = server.join().unwrap();
        let ops = render::parse(&job);
        let text = render::to_text(&ops);
        assert!(
            text.contains("处理凭证") && text.trim_end().ends_with("[cut]"),
            "{text}"
        );
    }

    #[test]
    fn print_contract_fails_without_losing_silently_when_the_printer_is_absent() {
        let out = kiosk_device(&["print", "--printer", "tcp:127.0.0.1:9", "--sample", "test"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("not printed"));
    }
}

#[test]
fn read_card_contract_fails_cleanly_when_the_reader_does_not_answer() {
    let pty = Pty::open().unwrap();
    let port = pty.path().to_str().unwrap();
    let started = Instant::now();
    let out = kiosk_device(&["read-card", "--port", port, "--timeout-ms", "1500"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not answer"));
    assert!(started.elapsed() >= Duration::from_millis(1400));
}

#[test]
fn serial_printer_prints_and_reports_status_over_a_pseudo_terminal() {
    use kiosk::devices::printer::{
        Paper, PrintQueue, PrinterState, ReceiptPrinter, receipts::samples, render,
    };
    let mut pty = Pty::open().unwrap();
    let uri: kiosk::devices::DeviceUri = format!("serial:{}?baud=9600", pty.path().display())
        .parse()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    // A serial printer whose paper roll is nearly used up (it still prints).
    let printer = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let mut answered = 0;
        while !stop2.load(Ordering::Relaxed) {
            let n = pty.read_some(&mut buf, Duration::from_millis(10)).unwrap();
            got.extend_from_slice(&buf[..n]);
            while let Some(i) = got.windows(2).position(|w| w == [0x10, 0x04]) {
                if got.len() < i + 3 {
                    break;
                }
                let n = got[i + 2];
                let status = [0x12u8, 0x12, 0x12, 0x1E]; // paper near end
                pty.send(&[status[usize::from(n.clamp(1, 4) - 1)]]).unwrap();
                got.drain(i..i + 3);
                answered += 1;
            }
        }
        (got, answered)
    });
    let (mut p, _) = kiosk::devices::printer::open(&uri, Paper::Mm58, None).unwrap();
    let status = p.status().unwrap().unwrap();
    assert_eq!(status.state(), PrinterState::PaperNearEnd);
    let mut q = PrintQueue::in_memory();
    let (id, _) = q.submit(
        "payment",
        samples::payment("CQ-TEST-0001").escpos(Paper::Mm58),
    );
    assert_eq!(q.print_pending(&mut p), vec![id]);
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let (job, answered) = printer.join().unwrap();
    assert_eq!(
        answered,
        4 * 3,
        "status before and after the job, and the first query"
    );
    let text = render::to_text(&render::parse(&job));
    assert!(
        text.contains("缴款凭证") && text.contains("CQ-TEST-0001"),
        "{text}"
    );
}
