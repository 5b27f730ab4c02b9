//! The composition root: builds a running kiosk from `kiosk.toml` — the platform store behind the
//! flow's backend port, the devices behind its peripherals port, device threads feeding events —
//! so that neither the flow nor the UI knows the store or a device.

pub mod device_threads;
pub mod peripherals;
pub mod sim_source;
pub mod store_backend;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use anyhow::Context;

use crate::config::KioskConfig;
use crate::flow::demo::{DemoFaceVerifier, Outbox, PrintedReceipts};
use crate::flow::{Driver, State};
use crate::store::platform::{Platform, SqlitePlatform};
use crate::ui::{Clock, KioskApp};

pub use peripherals::DevicePeripherals;
pub use store_backend::StoreBackend;

/// A kiosk assembled from its configuration, ready to open its window.
pub struct Assembled {
    pub app: KioskApp,
    pub platform: Arc<SqlitePlatform>,
    /// Set to stop the background threads (the periodic revert).
    pub stop: Arc<AtomicBool>,
}

/// Where files that belong next to the database go (the print spool, the simulator's PNGs).
fn beside(db: &Path, name: &str) -> PathBuf {
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.join(name)
}

/// Build the kiosk: open (in demo mode: create) the database, recover what a restart owes
/// (六.2 reverts), open the printer, and put the flow's driver together.
pub fn assemble(config: KioskConfig, clock: Clock) -> anyhow::Result<Assembled> {
    let db = PathBuf::from(&config.database.path);
    if config.kiosk.demo {
        let built = crate::store::demo::ensure_demo_database_with(
            &db,
            u64::from(config.database.demo_persons),
            config.database.demo_seed,
        )
        .with_context(|| format!("cannot create the demo database {}", db.display()))?;
        if built {
            tracing::info!(path = %db.display(), "demo database created");
        }
    }
    let policy = crate::cli::load_policy(None, &config)?;
    let (platform, reverted) = SqlitePlatform::open_and_recover(&db, clock.now())
        .with_context(|| format!("cannot open the database {}", db.display()))?;
    // The store and the screens decide with the same dated policies and payment window.
    let platform =
        platform
            .with_policy(policy.clone())
            .with_payment_window(jiff::SignedDuration::from_mins(i64::from(
                config.timeouts.payment_window_minutes,
            )));
    if !reverted.reverted.is_empty() {
        tracing::info!(
            count = reverted.reverted.len(),
            "unpaid handlings reverted at start-up (六.2)"
        );
    }
    let platform = Arc::new(platform);
    let stop = Arc::new(AtomicBool::new(false));
    let revert_clock = clock.clone();
    crate::store::platform::spawn_periodic_revert(
        platform.clone() as Arc<dyn Platform>,
        Arc::new(move || revert_clock.now()),
        std::time::Duration::from_secs(60),
        stop.clone(),
    );

    let outbox = Outbox::default();
    let printed = PrintedReceipts::default();
    let out_of_paper = Arc::new(Mutex::new(false));
    let backend = StoreBackend::new(
        platform.clone(),
        policy,
        config.kiosk.id.clone(),
        config.kiosk.demo.then(|| outbox.clone()),
    );
    let peripherals = DevicePeripherals::open(
        &config,
        Some(beside(&db, "print-spool")),
        config.kiosk.demo.then(|| beside(&db, "printed-receipts")),
        printed.clone(),
        out_of_paper.clone(),
    )?;
    let face = DemoFaceVerifier::default();
    let images = peripherals.receipt_images();
    let sim = config
        .kiosk
        .demo
        .then(|| {
            crate::ui::Simulator::new(
                outbox.clone(),
                printed.clone(),
                out_of_paper.clone(),
                face.fail_next.clone(),
                clock.clone(),
            )
            .with_script(sim_source::demo_script(platform.clone(), clock.now()))
        })
        .map(|sim| match images {
            Some(images) => sim.with_receipt_images(images),
            None => sim,
        });
    let driver = Driver::new(
        State::new(&config, clock.now()),
        Box::new(backend),
        Box::new(peripherals::PrinterWorker::spawn(peripherals)),
        Box::new(face),
    );
    Ok(Assembled {
        app: KioskApp::new(config, driver, clock, sim),
        platform,
        stop,
    })
}

/// Open the kiosk `kiosk.toml` describes: assemble it, start the device threads, open the window.
/// `KIOSK_BENCH=ui` runs the UI benchmark instead; `KIOSK_WINDOWED=1` opens a normal window.
pub fn run(config: KioskConfig) -> anyhow::Result<i32> {
    if std::env::var("KIOSK_BENCH").is_ok() {
        return crate::ui::run(config);
    }
    let windowed = std::env::var("KIOSK_WINDOWED").as_deref() == Ok("1");
    let reader = config.devices.reader.clone();
    let scanner = config.devices.scanner.clone();
    let suffix = config.devices.scanner_suffix.clone();
    // What `kiosk config` checks, said before the window opens.
    crate::cli::config_check::check(&config, "kiosk.toml")?;
    let Assembled { app, stop, .. } = assemble(config, Clock::system())?;
    let events = app.event_sender();
    let thread_stop = stop.clone();
    let result = crate::ui::open_window_with(app, windowed, move |ctx| {
        let wake = ctx.clone();
        let notify: device_threads::Notify = Arc::new(move || wake.request_repaint());
        let r = device_threads::spawn_reader(
            &reader,
            events.clone(),
            notify.clone(),
            thread_stop.clone(),
        )
        .and_then(|_| {
            device_threads::spawn_scanner(&scanner, &suffix, events, notify, thread_stop)
        });
        if let Err(e) = r {
            tracing::error!(error = %e, "a device in kiosk.toml cannot be used");
        }
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    result?;
    Ok(0)
}
