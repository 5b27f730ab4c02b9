//! `kiosk bench soak`: many scripted sessions through the whole kiosk in accelerated time, to find
//! what grows when a kiosk runs for months.
//!
//! It builds a demo city into a temporary SQLite database, assembles the kiosk exactly as `kiosk`
//! does (the flow, its worker, the store, the printer path with the simulated printer), and drives
//! it without a window on a manual clock that jumps 1 to 6 minutes between sessions (so nights,
//! with the 六.7 maintenance window, and 六.2 reverts come round). The sessions, mixed by a seeded
//! generator:
//! - **pay** (55%): card → face → violations → 【阅读并同意】 → handle → the payment arrives →
//!   receipt → card taken (the person is topped up with two fresh violations first, so there is
//!   something to handle);
//! - **browse** (15%): violations looked at, then home, the app-download page, card taken;
//! - **timeout** (15%): card placed and left; the idle timeout wipes the session;
//! - **pull** (10%): the card pulled on the violations screen;
//! - **pull at payment** (5%): handled, then the card pulled before paying (handled-unpaid, which
//!   the 六.2 revert undoes later).
//!
//! Refusals (the maintenance window at night, limits, nothing handleable) come from the rules as
//! they would for a real person and are counted by kind of message. Every 100 sessions the 六.2
//! revert runs. Resident memory, open file descriptors and the database's size (with its WAL) are
//! sampled before the first session, after a warm-up, and at the end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};

use super::{AppError, Assembled, assemble, sim_source};
use crate::config::KioskConfig;
use crate::domain::{IdCard, IdNumber};
use crate::flow::{Action, Event, Message, PAYMENT_POLL, Screen, Service, State};
use crate::store::Platform;
use crate::store::demo::{DemoOptions, add_demo_violations, build_city};
use crate::ui::{Clock, KioskApp};

/// How long one step may wait for the flow's worker.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(30);

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    pub sessions: u32,
    /// Persons in the demo city.
    pub persons: u32,
    pub seed: u64,
}

impl Default for SoakOptions {
    fn default() -> Self {
        SoakOptions {
            sessions: 10_000,
            persons: 2_000,
            seed: 2022,
        }
    }
}

/// One reading of the process and its database.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Sample {
    /// Sessions finished when it was taken.
    pub after_sessions: u32,
    /// Resident memory (VmRSS), KiB.
    pub rss_kib: u64,
    /// Entries of /proc/self/fd.
    pub open_fds: u64,
    /// The database file with its WAL, bytes.
    pub db_bytes: u64,
    /// Receipt images the simulated printer keeps on disk.
    pub receipt_files: u64,
}

/// `kiosk bench soak`'s figures (printed as JSON).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SoakReport {
    pub sessions: u32,
    /// Sessions by script.
    pub scripts: BTreeMap<&'static str, u32>,
    /// Payments recorded and receipts printed.
    pub paid: u32,
    pub printed: u32,
    /// How each script ended (`pay.paid`, `pay.nothing_to_handle`, `pay.not_signed_in`, …).
    pub outcomes: BTreeMap<String, u32>,
    /// Refusals and other messages the sessions met, by kind (each time one appears).
    pub messages: BTreeMap<String, u32>,
    /// Sessions wiped by the idle timeout.
    pub timed_out: u32,
    /// Decisions the 六.2 revert undid.
    pub reverted: u32,
    /// Sessions that did not end on the attract screen (a bug: each is recovered by force).
    pub stuck: u32,
    /// Simulated time covered, in days.
    pub simulated_days: f64,
    pub wall_seconds: f64,
    pub before: Sample,
    /// After the warm-up (a tenth of the sessions, at most 500): caches and pools are full.
    pub start: Sample,
    pub end: Sample,
}

fn soak_error(e: impl std::fmt::Display) -> AppError {
    AppError::Bench(format!("soak: {e}"))
}

/// A small deterministic generator (xorshift64*): the same seed, the same sessions.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn sample(after_sessions: u32, db: &Path, receipts: &Path) -> Sample {
    let rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0);
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let db_bytes = size(db.to_path_buf())
        + size(PathBuf::from(format!("{}-wal", db.display())))
        + size(PathBuf::from(format!("{}-shm", db.display())));
    let receipt_files = std::fs::read_dir(receipts)
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    Sample {
        after_sessions,
        rss_kib,
        open_fds,
        db_bytes,
        receipt_files,
    }
}

/// The kiosk under test and what the report counts.
struct Rig {
    app: KioskApp,
    clock: Clock,
    report: SoakReport,
    /// The person's phone: the embedded default's `[payment] provider = "simulator"` is paid at
    /// the Alipay gateway simulator, the QR on screen, as the simulator panel's button does.
    phone: Option<crate::providers::alipay::sim::SimHandle>,
    /// The message last counted (a message is counted when it appears, not per step).
    last_message: Option<String>,
}

impl Rig {
    fn send(&mut self, e: Event) -> Result<(), AppError> {
        self.app.send(e);
        if self.app.settle(SETTLE) {
            self.note_message();
            Ok(())
        } else {
            Err(soak_error("the flow's worker did not answer within 30 s"))
        }
    }

    fn ui(&mut self, a: Action) -> Result<(), AppError> {
        self.send(Event::Ui(a))
    }

    fn wait(&mut self, by: SignedDuration) -> Result<(), AppError> {
        self.clock.advance(by);
        let now = self.clock.now();
        self.send(Event::Tick(now))
    }

    fn note_message(&mut self) {
        let now = self.app.state().ctx().message.as_ref().map(message_kind);
        if now != self.last_message
            && let Some(kind) = &now
        {
            *self.report.messages.entry(kind.clone()).or_default() += 1;
        }
        self.last_message = now;
    }

    fn outcome(&mut self, script: &str, how: &str) {
        *self
            .report
            .outcomes
            .entry(format!("{script}.{how}"))
            .or_default() += 1;
    }

    fn screen(&self) -> Option<Screen> {
        self.app.state().session().map(|s| s.screen.clone())
    }

    fn is_attract(&self) -> bool {
        matches!(self.app.state(), State::Attract { .. })
    }

    /// Card placed; identity confirmed; face checked: the services menu (or wherever the flow
    /// stopped, e.g. a refusal at night).
    fn sign_in(&mut self, card: IdCard) -> Result<bool, AppError> {
        self.send(Event::CardPlaced(card))?;
        if self.screen() == Some(Screen::Identity) {
            self.ui(Action::Continue)?;
        }
        if matches!(self.screen(), Some(Screen::Face { .. })) {
            self.ui(Action::StartFace)?;
        }
        Ok(self.screen() == Some(Screen::Services))
    }

    /// From the services menu to the violations screen (choosing the first vehicle if asked).
    fn open_violations(&mut self) -> Result<bool, AppError> {
        self.ui(Action::Open(Service::Violations))?;
        if self.screen() == Some(Screen::ChooseVehicle) {
            let plate = match self.app.state().session() {
                Some(s) => s
                    .person
                    .as_ref()
                    .and_then(|p| p.vehicles.iter().max_by_key(|v| v.pending))
                    .map(|v| v.facts.plate.clone()),
                None => None,
            };
            let Some(plate) = plate else {
                return Ok(false);
            };
            self.ui(Action::ChooseVehicle(plate))?;
        }
        Ok(matches!(self.screen(), Some(Screen::Violations(_))))
    }

    /// Handle what is preselected: true when the payment screen opened.
    fn handle(&mut self) -> Result<bool, AppError> {
        let selected = match self.screen() {
            Some(Screen::Violations(sel)) => {
                if sel.selected.is_empty() {
                    // Why nothing could be handled: each violation's decision, by kind.
                    for v in &sel.list.violations {
                        for r in &v.decision.reasons {
                            let kind = format!("refused.{}", kind_of(&format!("{r:?}")));
                            *self.report.messages.entry(kind).or_default() += 1;
                        }
                    }
                }
                !sel.selected.is_empty()
            }
            _ => false,
        };
        if !selected {
            return Ok(false);
        }
        self.ui(Action::ToNotices)?;
        self.ui(Action::Handle)?;
        Ok(matches!(self.screen(), Some(Screen::Payment { .. })))
    }

    /// Wait on the payment screen until the payment arrives and the receipt is printed.
    fn pay(&mut self) -> Result<&'static str, AppError> {
        // Several decisions are paid one order after another: a poll for each.
        for _ in 0..24 {
            let Some(Screen::Payment { qr, .. }) = self.screen() else {
                break;
            };
            // Nothing to collect (a warning): no QR, the next poll settles it.
            if let (Some(phone), Some(qr)) = (&self.phone, qr)
                && !qr.qr.is_empty()
            {
                phone
                    .pay(&qr.qr, crate::providers::alipay::sim::Notify::Post)
                    .map_err(soak_error)?;
            }
            self.wait(PAYMENT_POLL)?;
        }
        if let Some(Screen::Done { printed, .. }) = self.screen() {
            self.report.paid += 1;
            if printed == crate::flow::ports::PrintOutcome::Printed {
                self.report.printed += 1;
                return Ok("paid");
            }
            return Ok("paid_not_printed");
        }
        // 六.7: the session ran into the maintenance window, which closes payment.
        if crate::rules::maintenance::in_maintenance_window(self.clock.now()) {
            return Ok("closed_for_maintenance");
        }
        Ok("not_paid")
    }

    /// The card taken; then back to the attract screen whatever happened (a stuck session is
    /// counted and wiped by the idle timeout).
    fn leave(&mut self) -> Result<(), AppError> {
        self.send(Event::CardRemoved)?;
        if !self.is_attract() {
            let limit = self.app.state().ctx().idle_limit();
            self.wait(SignedDuration::from_secs(i64::from(limit) + 1))?;
        }
        if !self.is_attract() {
            self.report.stuck += 1;
            let limit = self.app.state().ctx().idle_limit();
            self.wait(SignedDuration::from_secs(2 * i64::from(limit) + 2))?;
        }
        Ok(())
    }
}

fn message_kind(m: &Message) -> String {
    kind_of(&format!("{m:?}"))
}

/// The variant names at the head of a `Debug` form (at most three levels): never the data inside.
fn kind_of(debug: &str) -> String {
    // The variant and, for refusals, the reason's variant: never the data inside.
    let mut kind = String::new();
    for (i, part) in debug.split('(').enumerate() {
        let word: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if word.is_empty() || !word.starts_with(|c: char| c.is_ascii_uppercase()) {
            break;
        }
        if i > 0 {
            kind.push('.');
        }
        kind.push_str(&word);
        if i == 2 {
            break;
        }
    }
    kind
}

/// A person of the demo city, as the card reader would give them.
struct Person {
    id: IdNumber,
    card: IdCard,
}

fn persons(db: &Path) -> Result<Vec<Person>, AppError> {
    let conn = crate::store::schema::open(db).map_err(soak_error)?;
    let mut stmt = conn
        .prepare(
            "SELECT p.id_number, p.name, p.address FROM persons p
             WHERE EXISTS (SELECT 1 FROM vehicles v WHERE v.owner_person_id = p.id)
             ORDER BY p.id",
        )
        .map_err(soak_error)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(soak_error)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, address) = row.map_err(soak_error)?;
        if let Ok(id) = IdNumber::parse(&id) {
            let card = sim_source::person_card(&id, &name, &address);
            out.push(Person { id, card });
        }
    }
    if out.is_empty() {
        return Err(soak_error("the demo city has no vehicle owner"));
    }
    Ok(out)
}

/// Run the soak and return its figures.
pub fn run(opts: &SoakOptions) -> Result<SoakReport, AppError> {
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("kiosk-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(soak_error)?;
    let result = soak_in(opts, &dir, started);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        tracing::warn!(error = %e, "soak directory not removed");
    }
    result
}

fn soak_in(opts: &SoakOptions, dir: &Path, started: Instant) -> Result<SoakReport, AppError> {
    let db = dir.join("soak-city.sqlite3");
    let anchor: Timestamp = "2026-11-25T09:00:00+08:00".parse().map_err(soak_error)?;
    {
        let mut conn = crate::store::schema::open(&db).map_err(soak_error)?;
        build_city(
            &mut conn,
            &DemoOptions {
                persons: u64::from(opts.persons),
                seed: opts.seed,
                anchor,
            },
        )
        .map_err(soak_error)?;
    }
    let people = persons(&db)?;
    let mut topper = crate::store::schema::open(&db).map_err(soak_error)?;

    let mut config = KioskConfig::embedded();
    config.kiosk.demo = true;
    config.database.path = db.display().to_string();
    config.voice.enabled = false;
    config.metrics.listen = String::new();
    let clock = Clock::manual(anchor + SignedDuration::from_hours(1));
    let Assembled {
        app,
        store,
        stop,
        demo,
        ..
    } = assemble(config, clock.clone())?;
    let store = store.ok_or_else(|| soak_error("the soak runs on the local store"))?;
    let receipts = dir.join("printed-receipts");
    let mut rig = Rig {
        app,
        clock: clock.clone(),
        report: SoakReport::default(),
        phone: demo.and_then(|d| d.phone),
        last_message: None,
    };
    rig.report.before = sample(0, &db, &receipts);
    let warmup = (opts.sessions / 10).min(500);
    let mut dice = Dice(opts.seed | 1);
    let first = clock.now();
    let result = (|| -> Result<(), AppError> {
        for n in 0..opts.sessions {
            if n == warmup {
                rig.report.start = sample(n, &db, &receipts);
            }
            rig.wait(SignedDuration::from_secs(60 + 60 * dice.below(6) as i64))?;
            if n % 100 == 99 {
                let reverted = store.revert_due(clock.now()).map_err(soak_error)?;
                rig.report.reverted += reverted.reverted.len() as u32;
            }
            let person = &people[dice.below(people.len() as u64) as usize];
            let roll = dice.below(100);
            let script = match roll {
                0..55 => "pay",
                55..70 => "browse",
                70..85 => "timeout",
                85..95 => "pull",
                _ => "pull_at_payment",
            };
            *rig.report.scripts.entry(script).or_default() += 1;
            if matches!(script, "pay" | "pull_at_payment") {
                add_demo_violations(&mut topper, person.id.expose(), 2, clock.now())
                    .map_err(soak_error)?;
            }
            let card = person.card.clone();
            match script {
                "timeout" => {
                    rig.send(Event::CardPlaced(card))?;
                    if rig.screen() == Some(Screen::Identity) {
                        rig.ui(Action::Continue)?;
                    }
                    let limit = rig.app.state().ctx().idle_limit();
                    rig.wait(SignedDuration::from_secs(i64::from(limit) + 1))?;
                    if rig.is_attract() {
                        rig.report.timed_out += 1;
                    }
                    rig.leave()?;
                }
                "browse" => {
                    if rig.sign_in(card)? && rig.open_violations()? {
                        rig.ui(Action::Home)?;
                        rig.ui(Action::Open(Service::DownloadApp))?;
                        rig.ui(Action::Home)?;
                    }
                    rig.leave()?;
                }
                "pull" => {
                    if rig.sign_in(card)? {
                        rig.open_violations()?;
                    }
                    rig.leave()?;
                }
                "pull_at_payment" => {
                    if rig.sign_in(card)? && rig.open_violations()? {
                        rig.handle()?;
                    }
                    rig.leave()?;
                }
                _ => {
                    let how = if !rig.sign_in(card)? {
                        "not_signed_in"
                    } else if !rig.open_violations()? {
                        "no_violations_screen"
                    } else if !rig.handle()? {
                        "nothing_handled"
                    } else {
                        rig.pay()?
                    };
                    rig.outcome(script, how);
                    rig.leave()?;
                }
            }
            rig.report.sessions += 1;
        }
        Ok(())
    })();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    result?;
    rig.report.end = sample(rig.report.sessions, &db, &receipts);
    if warmup >= rig.report.sessions {
        rig.report.start = rig.report.before;
    }
    rig.report.simulated_days = clock.now().duration_since(first).as_secs_f64() / 86_400.0;
    rig.report.wall_seconds = started.elapsed().as_secs_f64();
    Ok(rig.report)
}
