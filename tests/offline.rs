//! When the network is gone (issue 11 item 4): a kiosk (assembled in this process from a
//! `kiosk.toml` with `[platform] url`) against a `kiosk serve` subprocess that the test kills and
//! starts again on the same port. The attract screen says so within one probe and clears by
//! itself; handling and paying say so and change nothing; paid receipts stay printable; feedback
//! given offline is delivered exactly once — also after a kiosk crash and a lost answer. Rows are
//! counted in the server's database.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use jiff::{SignedDuration, Timestamp};
use kiosk::app::outbox::{Courier, Item, Outbox};
use kiosk::app::{Assembled, assemble};
use kiosk::config::{KioskConfig, Language};
use kiosk::flow::ports::{BackendError, FeedbackTopic, PayError, PrintOutcome};
use kiosk::flow::{Action, Event, Message, Screen, Service, State};
use kiosk::remote::RemotePlatform;
use kiosk::store::StoreError;
use kiosk::store::demo::{self, DemoOptions};
use kiosk::store::platform::SqlitePlatform;
use kiosk::ui::{Clock, KioskApp};
use kiosk::wire::auth::KioskIdentity;

const ANCHOR: &str = "2026-11-25T09:00:00+08:00";
const DAY: &str = "2026-11-25T10:00:00+08:00";
const SETTLE: Duration = Duration::from_secs(30);
const LXH_PLATE: &str = "渝A8K2L6";
const LXH_V2: &str = "5001000000000002";

/// A `kiosk serve --demo --kiosk-clock` subprocess on a fixed port (so the kiosk's url stays
/// the same across a restart); killed when dropped.
struct Server {
    child: Option<Child>,
    db: PathBuf,
    port: u16,
}

impl Server {
    fn start(db: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut s = Server {
            child: None,
            db: db.to_path_buf(),
            port,
        };
        s.restart();
        s
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Start it again on its port (after a kill).
    fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk"))
                .arg("serve")
                .arg("--database")
                .arg(&self.db)
                .args(["--listen", &format!("127.0.0.1:{}", self.port)])
                .args(["--demo", "--kiosk-clock", "--revert-every", "0"])
                .env("KIOSK_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("kiosk serve starts");
            let mut first = String::new();
            let mut out = BufReader::new(child.stdout.take().unwrap());
            let _ = out.read_line(&mut first);
            if first.starts_with("listening on ") {
                // Keep draining so the server never blocks on a full pipe.
                std::thread::spawn(move || for _ in out.lines() {});
                self.child = Some(child);
                return;
            }
            // The port is still held by the killed one: try again.
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "kiosk serve did not start on port {}: {first:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGKILL, and wait for it.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn city(dir: &Path) -> PathBuf {
    let path = dir.join("city.sqlite3");
    let mut conn = kiosk::store::schema::open(&path).unwrap();
    demo::build_city(
        &mut conn,
        &DemoOptions {
            persons: 30,
            seed: 1,
            anchor: ANCHOR.parse().unwrap(),
        },
    )
    .unwrap();
    path
}

fn count(db: &Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Wait (up to 30 s) until `f` holds.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A demo kiosk whose platform is `server` (the city file `city` is only read by the test, for
/// the demo cards); its outbox lives in `dir`.
struct Kiosk {
    app: KioskApp,
    assembled_outbox: Arc<Outbox>,
    printed: kiosk::ui::PrintedReceipts,
    paper_out: Arc<Mutex<bool>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    cards: Vec<kiosk::app::sim_source::SimCard>,
}

impl Drop for Kiosk {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A demo kiosk assembled from a `kiosk.toml` whose `[platform] url` is `server`'s.
fn assembled(server: &Server, dir: &Path) -> Assembled {
    let mut config = KioskConfig::embedded();
    config.database.path = dir.join("kiosk.sqlite3").display().to_string();
    config.platform.url = server.url();
    config.kiosk.language = Language::ZhCn;
    assemble(config, Clock::manual(DAY.parse().unwrap())).unwrap()
}

impl Kiosk {
    fn new(server: &Server, dir: &Path, city: &Path) -> Kiosk {
        let Assembled {
            app,
            stop,
            demo,
            outbox,
            ..
        } = assembled(server, dir);
        let demo = demo.expect("demo mode");
        let cards = kiosk::app::sim_source::demo_cards(&SqlitePlatform::open_demo(city).unwrap());
        Kiosk {
            app,
            assembled_outbox: outbox.expect("a server's terminal has an outbox"),
            printed: demo.printed,
            paper_out: demo.out_of_paper,
            stop,
            cards,
        }
    }

    fn send(&mut self, e: Event) -> &mut Self {
        self.app.send(e);
        assert!(self.app.settle(SETTLE), "the worker did not answer");
        self
    }

    fn ui(&mut self, a: Action) -> &mut Self {
        self.send(Event::Ui(a))
    }

    fn wait(&mut self, secs: i64) -> &mut Self {
        self.app.clock().advance(SignedDuration::from_secs(secs));
        let now: Timestamp = self.app.clock().now();
        self.send(Event::Tick(now))
    }

    fn online(&self) -> bool {
        self.app.state().ctx().online
    }

    /// What the message strip says about the link (the notice, in words).
    fn notice(&self) -> Option<String> {
        self.app
            .state()
            .ctx()
            .offline_notice()
            .map(|m| kiosk::ui::i18n::message(Language::ZhCn, &m))
    }

    fn message(&self) -> Option<Message> {
        self.app.state().ctx().message.clone()
    }

    fn screen(&self) -> Screen {
        self.app
            .state()
            .session()
            .expect("in a session")
            .screen
            .clone()
    }

    fn sign_in(&mut self, name: &str) -> &mut Self {
        let card = self
            .cards
            .iter()
            .find(|c| c.label == name)
            .expect(name)
            .card
            .clone();
        self.send(Event::CardPlaced(card));
        assert_eq!(self.screen(), Screen::Identity, "{:?}", self.message());
        self.ui(Action::Continue);
        assert_eq!(self.screen(), Screen::Services);
        self
    }

    /// Signed in as 李小红, on the notices of her first violation, agreed.
    fn at_notices(&mut self) -> &mut Self {
        self.sign_in("李小红");
        self.ui(Action::Open(Service::Violations))
            .ui(Action::ChooseVehicle(
                kiosk::domain::Plate::parse(LXH_PLATE).unwrap(),
            ));
        let Screen::Violations(sel) = self.screen() else {
            panic!("{:?} {:?}", self.screen(), self.message())
        };
        // Only 5001000000000002 (150.00元) ticked.
        for id in &sel.selected {
            if id != LXH_V2 {
                self.ui(Action::ToggleViolation(id.clone()));
            }
        }
        if !sel.selected.iter().any(|id| id == LXH_V2) {
            self.ui(Action::ToggleViolation(LXH_V2.into()));
        }
        self.ui(Action::ToNotices).ui(Action::SetAgreed(true));
        self
    }
}

const OFFLINE_ZH: &str = "网络连接中断：暂时不能处理违法和缴款，请到交巡警窗口办理或稍后再试";

fn is_offline(e: &BackendError) -> bool {
    matches!(e, BackendError::Offline(_))
}

#[test]
fn the_attract_screen_says_offline_within_one_probe_and_clears_when_the_server_returns() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path());
    let mut server = Server::start(&db);
    let mut k = Kiosk::new(&server, dir.path(), &db);
    k.wait(1);
    assert!(k.online());
    assert_eq!(k.notice(), None);
    server.kill();
    // Within one probe (15 s of the kiosk's clock).
    k.wait(15);
    assert!(!k.online());
    let notice = k.notice().expect("the attract screen says so");
    assert!(notice.starts_with(OFFLINE_ZH), "{notice}");
    let en = kiosk::ui::i18n::message(Language::En, &Message::Offline);
    assert!(en.contains("network is down"), "{en}");
    // Still down at the next probe; then the server returns and the notice clears by itself.
    k.wait(15);
    assert!(!k.online());
    server.restart();
    k.wait(15);
    assert!(k.online());
    assert_eq!(k.notice(), None);
    // "went offline" and "back online" reach the server's kiosk_events, once each.
    eventually("offline and online events delivered", || {
        count(
            &db,
            "SELECT COUNT(*) FROM kiosk_events WHERE kind IN ('offline', 'online')",
        ) == 2
    });
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM kiosk_events WHERE kind = 'offline' AND kiosk_id <> ''"
        ),
        1
    );
}

#[test]
fn handling_and_paying_with_the_server_down_say_so_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path());
    let mut server = Server::start(&db);
    let mut k = Kiosk::new(&server, dir.path(), &db);
    let decisions = count(&db, "SELECT COUNT(*) FROM decisions");
    let payments = count(&db, "SELECT COUNT(*) FROM payments");
    k.at_notices();
    server.kill();
    k.ui(Action::Handle);
    assert!(
        matches!(k.screen(), Screen::Notices { .. }),
        "{:?}",
        k.screen()
    );
    let Some(Message::Backend(e)) = k.message() else {
        panic!("{:?}", k.message())
    };
    assert!(is_offline(&e), "{e:?}");
    let said = kiosk::ui::i18n::message(Language::ZhCn, &k.message().unwrap());
    assert!(said.starts_with(OFFLINE_ZH), "{said}");
    assert!(!k.online(), "a failed call marks the kiosk offline");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM decisions"), decisions);
    // Back online: handled; the server goes away before the payment.
    server.restart();
    k.ui(Action::SetAgreed(true)).ui(Action::Handle);
    let Screen::Payment { .. } = k.screen() else {
        panic!("{:?} {:?}", k.screen(), k.message())
    };
    assert_eq!(count(&db, "SELECT COUNT(*) FROM decisions"), decisions + 1);
    server.kill();
    k.ui(Action::Pay);
    let Screen::Payment { paying, .. } = k.screen() else {
        panic!("{:?} {:?}", k.screen(), k.message())
    };
    assert!(!paying);
    let Some(Message::Pay(PayError::Backend(e))) = k.message() else {
        panic!("{:?}", k.message())
    };
    assert!(is_offline(&e), "{e:?}");
    let said = kiosk::ui::i18n::message(Language::ZhCn, &k.message().unwrap());
    assert!(said.starts_with(OFFLINE_ZH), "{said}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM payments"), payments);
    // No half state: the decision is live and unpaid; paid once the link returns.
    server.restart();
    k.ui(Action::Pay);
    assert!(
        matches!(k.screen(), Screen::Done { .. }),
        "{:?} {:?}",
        k.screen(),
        k.message()
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM payments"), payments + 1);
}

#[test]
fn paid_receipts_stay_printable_from_the_local_spool_with_the_server_down() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path());
    let mut server = Server::start(&db);
    let mut k = Kiosk::new(&server, dir.path(), &db);
    *k.paper_out.lock().unwrap() = true;
    k.at_notices().ui(Action::Handle).ui(Action::Pay);
    let Screen::Done { printed, .. } = k.screen() else {
        panic!("{:?} {:?}", k.screen(), k.message())
    };
    assert_eq!(printed, PrintOutcome::OutOfPaper);
    assert!(k.printed.lock().unwrap().is_empty());
    // The paid receipt waits in the kiosk's local spool.
    let spool = dir.path().join("print-spool");
    let spooled = || std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
    assert_eq!(spooled(), 1);
    k.ui(Action::Exit);
    server.kill();
    *k.paper_out.lock().unwrap() = false;
    // The operator's 补打, server down: the queued receipt and the reprint both come out.
    k.ui(Action::OperatorEntry);
    for c in KioskConfig::embedded().operator.pin.chars() {
        k.ui(Action::Key(c));
    }
    k.ui(Action::SubmitCode).ui(Action::OperatorReprint);
    assert!(matches!(k.app.state(), State::Operator { .. }));
    let printed = k.printed.lock().unwrap().clone();
    assert_eq!(printed.len(), 1, "{printed:?}");
    assert!(printed[0].contains("150.00元"), "{printed:?}");
    assert!(printed[0].contains("补打"), "{printed:?}");
    // The queued receipt came out before it: the spool is empty.
    assert_eq!(spooled(), 0);
    assert_eq!(k.app.state().ctx().last_print, Some(PrintOutcome::Printed));
    // The printer's out-of-paper and back were recorded as kiosk events, delivered later.
    server.restart();
    eventually("printer events delivered", || {
        count(
            &db,
            "SELECT COUNT(*) FROM kiosk_events WHERE kind IN ('printer_out_of_paper', 'printer_paper_back')",
        ) == 2
    });
}

/// Feedback 满意 given in a session while the server is down: saved, the person told so.
fn feedback_offline(k: &mut Kiosk, server: &mut Server) {
    k.sign_in("李小红");
    server.kill();
    k.ui(Action::Open(Service::Feedback))
        .ui(Action::Feedback(FeedbackTopic::Satisfied));
    assert_eq!(k.message(), Some(Message::FeedbackQueued));
    let said = kiosk::ui::i18n::message(Language::ZhCn, &Message::FeedbackQueued);
    assert!(said.contains("已保存，网络恢复后自动提交"), "{said}");
    assert_eq!(k.assembled_outbox.len().unwrap(), 1);
}

fn feedback_rows(db: &Path) -> i64 {
    count(db, "SELECT COUNT(*) FROM feedback")
}

#[test]
fn feedback_given_offline_is_delivered_exactly_once_when_the_server_returns() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path());
    let mut server = Server::start(&db);
    let mut k = Kiosk::new(&server, dir.path(), &db);
    let before = feedback_rows(&db);
    feedback_offline(&mut k, &mut server);
    server.restart();
    eventually("the feedback delivered", || {
        feedback_rows(&db) == before + 1
    });
    eventually("the outbox empty", || {
        k.assembled_outbox.is_empty().unwrap()
    });
    // Several delivery rounds later, still once.
    std::thread::sleep(kiosk::app::OUTBOX_EVERY * 3);
    assert_eq!(feedback_rows(&db), before + 1);
    // Online, feedback is recorded at once.
    k.ui(Action::Exit);
    k.sign_in("李小红");
    k.ui(Action::Open(Service::Feedback))
        .ui(Action::Feedback(FeedbackTopic::HardToUse));
    assert_eq!(k.message(), Some(Message::FeedbackThanks));
    assert_eq!(feedback_rows(&db), before + 2);
}

/// A courier that calls the real server and can lose the answer of its first delivery (after
/// the server committed it), or die right after sending (a kiosk killed before it deleted).
struct Lossy {
    remote: RemotePlatform,
    lose_first: Mutex<bool>,
    on_lose: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Courier for Lossy {
    fn deliver(&self, item: &Item, key: &str) -> Result<(), StoreError> {
        self.remote.deliver(item, key)?;
        let mut lose = self.lose_first.lock().unwrap();
        if *lose {
            *lose = false;
            if let Some(f) = self.on_lose.lock().unwrap().take() {
                f();
            }
            return Err(StoreError::Unavailable("the answer was lost".into()));
        }
        Ok(())
    }
    fn reachable(&self) -> bool {
        self.remote.reachable(Duration::from_secs(2))
    }
}

fn courier(server: &Server) -> RemotePlatform {
    RemotePlatform::new(&server.url(), KioskIdentity::demo())
        .unwrap()
        .with_retries(0, Duration::from_millis(10))
}

#[test]
fn feedback_queued_before_a_kiosk_crash_is_delivered_once_by_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path());
    let mut server = Server::start(&db);
    let before = feedback_rows(&db);
    let path = dir.path().join("outbox.sqlite3");
    {
        let mut k = Kiosk::new(&server, dir.path(), &db);
        feedback_offline(&mut k, &mut server);
        // The kiosk dies: its delivery thread stops with the item queued.
        k.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(200));
    }
    server.restart();
    // The dying kiosk had sent it (the server committed) but never deleted it.
    let queued = Outbox::open(&path, Arc::new(courier(&server))).unwrap();
    let items = queued.items().unwrap();
    assert_eq!(items.len(), 1);
    courier(&server).deliver(&items[0].2, &items[0].1).unwrap();
    assert_eq!(feedback_rows(&db), before + 1);
    drop(queued);
    // The next start sends it again with the same key: the server's ledger answers once.
    let k = Kiosk::new(&server, dir.path(), &db);
    eventually("the outbox empty", || {
        k.assembled_outbox.is_empty().unwrap()
    });
    assert_eq!(feedback_rows(&db), before + 1);
}

#[test]
fn feedback_whose_answer_was_lost_when_the_server_died_is_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path());
    let mut server = Server::start(&db);
    let before = feedback_rows(&db);
    let path = dir.path().join("outbox.sqlite3");
    {
        let mut k = Kiosk::new(&server, dir.path(), &db);
        feedback_offline(&mut k, &mut server);
        k.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(200));
    }
    server.restart();
    let server = Arc::new(Mutex::new(server));
    let killer = server.clone();
    let lossy = Lossy {
        remote: courier(&server.lock().unwrap()),
        lose_first: Mutex::new(true),
        on_lose: Mutex::new(Some(Box::new(move || killer.lock().unwrap().kill()))),
    };
    let outbox = Outbox::open(&path, Arc::new(lossy)).unwrap();
    // Committed on the server, then the server killed before its answer reached the kiosk.
    let first = outbox.flush().unwrap();
    assert!(first.stopped && first.delivered == 0, "{first:?}");
    assert_eq!(outbox.len().unwrap(), 1);
    assert_eq!(feedback_rows(&db), before + 1);
    // Server down: nothing moves.
    assert!(outbox.flush().unwrap().stopped);
    server.lock().unwrap().restart();
    let again = outbox.flush().unwrap();
    assert_eq!(again.delivered, 1, "{again:?}");
    assert!(outbox.is_empty().unwrap());
    assert_eq!(feedback_rows(&db), before + 1);
}

/// Draw the touched frame, then until the screen is at rest: every call answered and drawn, no
/// frame asked for at once (a worker answering during the frames asks for more, which on a
/// loaded machine can outlast kittest's `max_steps`: the frames go on, within [`SETTLE`]).
fn settle(h: &mut Harness<'_, KioskApp>) {
    h.step();
    still(h);
}

fn still(h: &mut Harness<'_, KioskApp>) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(h.state_mut().settle(left), "the flow worker did not answer");
        if h.try_run().is_ok() && h.state().outstanding() == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the screen did not come to rest");
    }
}

fn shows(h: &Harness<'_, KioskApp>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

fn advance(h: &mut Harness<'_, KioskApp>, secs: i64) {
    h.state().clock().advance(SignedDuration::from_secs(secs));
    settle(h);
}

#[test]
fn the_attract_screen_shows_the_offline_notice_in_words_in_its_strip_and_nothing_moves() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path());
    let mut server = Server::start(&db);
    let Assembled { app, stop, .. } = assembled(&server, dir.path());
    let mut h = Harness::builder()
        .with_size([1600.0, 900.0])
        .with_pixels_per_point(1.0)
        .with_theme(egui::Theme::Light)
        .with_context_setup(KioskApp::setup)
        .build_ui_state(|ui, app: &mut KioskApp| app.ui(ui), app);
    still(&mut h);
    advance(&mut h, 1);
    let start = h.get_by_label("开始办理").rect();
    assert!(!shows(&h, "网络连接中断"));
    server.kill();
    advance(&mut h, 15);
    assert!(shows(&h, OFFLINE_ZH));
    assert_eq!(h.get_by_label("开始办理").rect(), start, "nothing moves");
    h.get_by_label("English").click();
    settle(&mut h);
    assert!(shows(&h, "The network is down"));
    server.restart();
    advance(&mut h, 15);
    assert!(!shows(&h, "The network is down"));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}
