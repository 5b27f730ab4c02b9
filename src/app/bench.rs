//! `kiosk bench ui` (or `KIOSK_BENCH=ui kiosk`): the UI benchmark on the real store. It builds the
//! demo city into a temporary SQLite database, adds [`LONG_LIST`] violations to the first demo
//! person's car (through the store's demo builder), assembles the kiosk exactly as `kiosk` does,
//! and lets `crate::ui::bench::BenchProbe` measure it in a real window:
//! 1. the time from process start to the first painted frame;
//! 2. resident memory after a full session (card → violations → handle → pay → receipt → removal);
//! 3. CPU used while idle on the attract screen for 30 s (`KIOSK_BENCH_IDLE_SECS` to change), and
//!    how many frames were painted meanwhile (it must not repaint continuously);
//! 4. frame-time percentiles while scrolling the list of 500 violations.
//!
//! It prints one JSON object on standard output and exits. Linux only (reads `/proc/self`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{AppError, Assembled, StoreBackend, assemble, sim_source};
use crate::config::KioskConfig;
use crate::flow::ports::KioskBackend;
use crate::flow::{Action, Event, Service};
use crate::store::demo::{DEMO_PERSONS, add_demo_violations, ensure_demo_database_with};
use crate::ui::Clock;
use crate::ui::bench::{BenchProbe, BenchReport};

/// Violations added to the long list scrolled in phase 4.
pub const LONG_LIST: usize = 500;

fn bench_error(e: impl std::fmt::Display) -> AppError {
    AppError::Bench(e.to_string())
}

/// The scripted session and the way to the long list, for the first demo person.
fn scripts(
    assembled: &Assembled,
    clock: &Clock,
    toggled: &[String],
) -> Result<(Vec<Event>, Vec<Event>), AppError> {
    let platform = assembled
        .store
        .clone()
        .ok_or_else(|| bench_error("the UI benchmark runs on the local demo store"))?;
    let card = sim_source::demo_cards(&platform)
        .into_iter()
        .next()
        .ok_or_else(|| bench_error("the demo city has no demo person"))?
        .card;
    let policy = crate::rules::PolicyBook::embedded().map_err(bench_error)?;
    let mut backend = StoreBackend::new(platform, policy, "bench".into(), None);
    let person = backend
        .person(&card.id_number, clock.now())
        .map_err(bench_error)?;
    let plate = person
        .vehicles
        .iter()
        .find(|v| v.pending >= LONG_LIST)
        .map(|v| v.facts.plate.clone())
        .ok_or_else(|| bench_error("the long list's vehicle is not the person's"))?;
    let open_list = vec![
        Event::CardPlaced(card),
        Event::Ui(Action::Continue),
        Event::Ui(Action::StartFace),
        Event::Ui(Action::Open(Service::Violations)),
        Event::Ui(Action::ChooseVehicle(plate)),
    ];
    let mut session = open_list.clone();
    session.extend(
        toggled
            .iter()
            .map(|id| Event::Ui(Action::ToggleViolation(id.clone()))),
    );
    session.extend([
        Event::Ui(Action::ToNotices),
        Event::Ui(Action::SetAgreed(true)),
        Event::Ui(Action::Handle),
        Event::Ui(Action::Pay),
        Event::Ui(Action::Home),
        Event::Ui(Action::Open(Service::DownloadApp)),
        Event::CardRemoved,
    ]);
    Ok((session, open_list))
}

/// Run the benchmark in a window and print its report as JSON.
pub fn run(mut config: KioskConfig) -> Result<i32, AppError> {
    let run_started = Instant::now();
    let idle = std::env::var("KIOSK_BENCH_IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30u64);
    // A fresh database of its own, removed afterwards.
    let dir = std::env::temp_dir().join(format!("kiosk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(bench_error)?;
    let db = dir.join("bench-city.sqlite3");
    config.kiosk.demo = true;
    config.database.path = db.display().to_string();
    // The benchmark measures the screens: the instant demo provider pays when asked.
    config.payment.provider = crate::config::PaymentSection::DEMO.into();
    ensure_demo_database_with(
        &db,
        u64::from(config.database.demo_persons),
        config.database.demo_seed,
    )
    .map_err(bench_error)?;
    let clock = Clock::system();
    let added = {
        let mut conn = crate::store::schema::open(&db).map_err(bench_error)?;
        add_demo_violations(&mut conn, DEMO_PERSONS[0].id_number, LONG_LIST, clock.now())
            .map_err(bench_error)?
    };
    let assembled = assemble(config, clock.clone())?;
    let (session, to_long_list) = scripts(&assembled, &clock, &added[..3])?;
    let report = Arc::new(Mutex::new(BenchReport::default()));
    let app = assembled.app.with_bench(BenchProbe::new(
        run_started,
        Duration::from_secs(idle),
        report.clone(),
        session,
        to_long_list,
    ));
    let result = crate::ui::open_window(app, true);
    assembled
        .stop
        .store(true, std::sync::atomic::Ordering::Relaxed);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        tracing::warn!(error = %e, "benchmark database not removed");
    }
    result?;
    let r = report.lock().map(|r| r.clone()).unwrap_or_default();
    let json = serde_json::to_string_pretty(&r).map_err(bench_error)?;
    println!("{json}");
    Ok(if r.scroll_frames > 0 { 0 } else { 1 })
}
