//! The composition root: builds a running kiosk from `kiosk.toml` — the platform store behind the
//! flow's backend port, the devices behind its peripherals port, device threads feeding events —
//! so that neither the flow nor the UI knows the store or a device.

pub mod bench;
mod demo_face;
pub mod device_threads;
pub mod heartbeat;
pub mod outbox;
pub mod peripherals;
pub mod remote_config;
pub mod sim_source;
pub mod soak;
pub mod staff_call;
pub mod store_backend;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::config::KioskConfig;
use crate::flow::{Driver, Ports, State};
use crate::rules::PolicyBook;
use crate::store::StoreError;
use crate::store::platform::{Platform, SqlitePlatform};
use crate::ui::{Clock, KioskApp, Outbox, PrintedReceipts};

pub use demo_face::DemoFaceVerifier;

#[cfg(test)]
mod flow_tests;
pub use peripherals::DevicePeripherals;
pub use store_backend::StoreBackend;

/// Why a kiosk could not be assembled or run.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot create the demo database {path}: {source}")]
    DemoDatabase {
        path: String,
        source: crate::store::demo::DemoError,
    },
    #[error("cannot open the database {path}: {source}")]
    Database { path: String, source: StoreError },
    #[error(transparent)]
    Policy(#[from] PolicyLoadError),
    #[error(transparent)]
    Peripherals(#[from] peripherals::PeripheralsError),
    #[error("kiosk.toml {key} = {uri:?}: {source}")]
    DeviceUri {
        key: &'static str,
        uri: String,
        source: crate::devices::UriError,
    },
    #[error(transparent)]
    Window(#[from] crate::ui::UiError),
    /// `[face]` names a verifier that cannot be built (the key at fault).
    #[error("kiosk.toml {0}")]
    Face(crate::providers::ProvidersError),
    #[error("benchmark: {0}")]
    Bench(String),
    /// `[qr]`: the published keys the kiosk verifies vehicle QR tokens with cannot be used.
    #[error("kiosk.toml {0}")]
    QrKeys(crate::providers::ProvidersError),
    /// `[platform]` names a server that cannot be used (the URL, the key file).
    #[error("kiosk.toml [platform]: {0}")]
    Platform(String),
    /// `kiosk.demo = false` with demo parts or a guessable operator PIN: the kiosk refuses to
    /// start, naming each key at fault (`KioskConfig::production_refusals`).
    #[error("{}", crate::config::refusal_message("kiosk.toml", .0))]
    DemoParts(Vec<crate::config::Refusal>),
    /// A provider section names no provider this build has.
    #[error("kiosk.toml {0}")]
    Providers(String),
    /// `[audit] key_file` cannot be used.
    #[error("kiosk.toml audit.key_file: {0}")]
    AuditKey(String),
}

/// Why the dated policies could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("policy file {path}: {source}")]
    Parse {
        path: String,
        source: crate::rules::policy::PolicyError,
    },
    #[error("the embedded policy: {0}")]
    Embedded(crate::rules::policy::PolicyError),
}

/// The dated policies in force: an explicit file, the one kiosk.toml names, or the embedded one.
pub fn load_policy(
    explicit: Option<&Path>,
    config: &KioskConfig,
) -> Result<PolicyBook, PolicyLoadError> {
    let path = explicit
        .map(Path::to_path_buf)
        .or_else(|| (!config.policy.file.is_empty()).then(|| PathBuf::from(&config.policy.file)));
    match path {
        Some(p) => {
            let path = p.display().to_string();
            let text = std::fs::read_to_string(&p).map_err(|source| PolicyLoadError::Read {
                path: path.clone(),
                source,
            })?;
            PolicyBook::parse(&text).map_err(|source| PolicyLoadError::Parse { path, source })
        }
        None => PolicyBook::embedded().map_err(PolicyLoadError::Embedded),
    }
}

/// A kiosk assembled from its configuration, ready to open its window.
pub struct Assembled {
    pub app: KioskApp,
    /// The platform behind the flow: the local store, or a `kiosk serve` server.
    pub platform: Arc<dyn Platform>,
    /// The local store (None when `[platform] url` names a server).
    pub store: Option<Arc<SqlitePlatform>>,
    /// Set to stop the background threads (the periodic revert).
    pub stop: Arc<AtomicBool>,
    /// Demo mode: what the simulator panel shows, for tests.
    pub demo: Option<DemoHandles>,
    /// A server's terminal: the local outbox of feedback and kiosk events (None: local store).
    pub outbox: Option<Arc<outbox::Outbox>>,
    /// The configuration hash the heartbeat reports (changes when remote settings are applied).
    pub config_hash: heartbeat::SharedHash,
    /// The voice's volume in percent (`voice.volume`, then the applied remote `voice_volume`).
    pub voice_volume: Arc<std::sync::atomic::AtomicU8>,
    /// How long the reader may take to read a card it found (`timeouts.card_read_ms`, then the
    /// applied remote `card_read_ms`): the reader thread reads it before each wait.
    pub card_read_ms: Arc<std::sync::atomic::AtomicU32>,
}

/// The demo devices' handles (the simulator panel plays them; tests read and set them).
#[derive(Clone)]
pub struct DemoHandles {
    /// SMS the platform sent (the panel's outbox).
    pub outbox: Outbox,
    /// Receipts the simulated printer printed, as text.
    pub printed: PrintedReceipts,
    /// The simulated printer's paper switch.
    pub out_of_paper: Arc<Mutex<bool>>,
    /// Make the next face verification fail.
    pub face_fail: Arc<Mutex<bool>>,
    /// `[payment] provider = "simulator"`: the Alipay gateway simulator the kiosk's store pays
    /// through; the panel's phone pays the QR on screen with it (None: another provider).
    pub phone: Option<crate::providers::alipay::sim::SimHandle>,
    /// The staff calls the demo's pager received (`[staff_call] provider = "demo"`).
    pub pager: crate::ui::Pager,
}

/// How often the outbox delivery thread tries the queue.
pub const OUTBOX_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

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
pub fn assemble(config: KioskConfig, clock: Clock) -> Result<Assembled, AppError> {
    // With demo = false nothing demo may run: each key that would is named, before any file is
    // created or any device opened.
    let refusals = config.production_refusals();
    if !refusals.is_empty() {
        return Err(AppError::DemoParts(refusals));
    }
    // The face verifier `[face]` names (its camera listed, its API key read).
    let face_fail = Arc::new(Mutex::new(false));
    let face = face_verifier(&config, face_fail.clone())?;
    let db = PathBuf::from(&config.database.path);
    let policy = load_policy(None, &config)?;
    // The kiosk checks a scanned vehicle QR token with the published keys of its own `[qr]`
    // before any filing call (a server's terminal trusts no key the server hands it).
    let qr_verifier = crate::providers::qr::keys(&config.qr, crate::providers::qr::Role::Verifier)
        .map_err(AppError::QrKeys)?;
    if qr_verifier.vehicle_keys().is_empty() {
        return Err(AppError::QrKeys(crate::providers::ProvidersError::Config {
            key: "qr.public_keys",
            message: "no published vehicle-QR key: every scanned vehicle QR code would be refused"
                .into(),
        }));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (platform, store, phone): (Arc<dyn Platform>, Option<Arc<SqlitePlatform>>, _) =
        match config.platform.remote_url() {
            // A terminal of the city's platform server: no local record; the server runs the
            // 六.2 revert.
            Some(url) => (Arc::new(remote_platform(&config, url)?), None, None),
            None => {
                let (store, phone) = open_local_store(&config, &db, &policy, &clock, &stop)?;
                (store.clone(), Some(store), phone)
            }
        };

    let handles = DemoHandles {
        outbox: Outbox::default(),
        printed: PrintedReceipts::default(),
        out_of_paper: Arc::new(Mutex::new(false)),
        face_fail,
        phone,
        pager: crate::ui::Pager::default(),
    };
    let demo = config.kiosk.demo;
    let backend = StoreBackend::new(
        platform.clone(),
        policy,
        config.kiosk.id.clone(),
        demo.then(|| handles.outbox.clone()),
    )
    .with_qr_verifier(qr_verifier);
    // A server's terminal keeps feedback and its own events in a local outbox until the link
    // takes them (delivered exactly once); a local store records its events directly.
    let (backend, mailbox, events, staff) = match config.platform.remote_url() {
        Some(url) => {
            let courier = remote_platform(&config, url)?
                .with_retries(0, std::time::Duration::from_millis(100))
                .with_deadline(std::time::Duration::from_secs(5));
            let path = beside(&db, "outbox.sqlite3");
            let mailbox = Arc::new(
                outbox::Outbox::open(&path, Arc::new(courier))
                    .map_err(|e| AppError::Platform(e.to_string()))?,
            );
            outbox::spawn_delivery(mailbox.clone(), OUTBOX_EVERY, stop.clone());
            let events = outbox::KioskEvents::outbox(config.kiosk.id.clone(), mailbox.clone());
            let staff = staff_call::staff_caller(
                &config,
                platform.clone(),
                Some((remote_platform(&config, url)?, mailbox.clone())),
                &handles.pager,
            )?;
            (
                backend.with_outbox(mailbox.clone(), events.clone()),
                Some(mailbox),
                events,
                staff,
            )
        }
        None => (
            backend,
            None,
            outbox::KioskEvents::local(config.kiosk.id.clone(), platform.clone()),
            staff_call::staff_caller(&config, platform.clone(), None, &handles.pager)?,
        ),
    };
    let config_hash: heartbeat::SharedHash = Arc::new(Mutex::new(heartbeat::config_hash(&config)));
    heartbeat::spawn(
        events.clone(),
        clock.clone(),
        config_hash.clone(),
        stop.clone(),
    );
    // Remote configuration: only from a server, and only what the configured key signed.
    let remote_config = match (
        config.platform.remote_url(),
        config.platform.config_public_key.trim(),
    ) {
        (Some(_), published) if !published.is_empty() => Some(
            remote_config::ConfigVerifier::parse(published)
                .map_err(|e| AppError::Platform(format!("config_public_key: {e}")))?,
        ),
        _ => None,
    };
    let peripherals = DevicePeripherals::open(
        &config,
        Some(beside(&db, "print-spool")),
        demo.then(|| beside(&db, "printed-receipts")),
        handles.printed.clone(),
        handles.out_of_paper.clone(),
    )?;
    let images = peripherals.receipt_images();
    let sim = demo
        .then(|| {
            crate::ui::Simulator::new(
                handles.outbox.clone(),
                handles.printed.clone(),
                handles.out_of_paper.clone(),
                handles.face_fail.clone(),
                clock.clone(),
            )
            .with_script(match &store {
                Some(store) => sim_source::demo_script(store.clone(), clock.now()),
                None => sim_source::demo_script_remote(platform.clone(), clock.now()),
            })
            .with_pager(
                (config.staff_call.provider == crate::config::StaffCallSection::DEMO)
                    .then(|| handles.pager.clone()),
            )
            .with_phone(handles.phone.clone().map(|phone| -> crate::ui::PhonePay {
                Arc::new(move |qr: &str| {
                    phone
                        .pay(qr, crate::providers::alipay::sim::Notify::Post)
                        .map(|o| {
                            format!(
                                "已支付 / paid {}元 ({})",
                                crate::providers::alipay::protocol::yuan(o.amount),
                                o.trade_no.unwrap_or_default()
                            )
                        })
                })
            }))
        })
        .map(|sim| match images {
            Some(images) => sim.with_receipt_images(images),
            None => sim,
        });
    let mut driver = Driver::new(
        State::new(&config, clock.now()),
        Ports {
            backend: Box::new(backend),
            peripherals: Box::new(peripherals::Recording::new(
                peripherals::PrinterWorker::spawn(peripherals),
                events,
                clock.clone(),
            )),
            face,
            staff,
        },
    );
    // Applied remote settings change the hash the heartbeat reports, the voice's volume and the
    // reader's read deadline.
    let voice_volume = Arc::new(std::sync::atomic::AtomicU8::new(
        u8::try_from(config.voice.volume.min(100)).unwrap_or(100),
    ));
    let card_read_ms = Arc::new(std::sync::atomic::AtomicU32::new(
        config.timeouts.card_read_ms,
    ));
    {
        let base = config.clone();
        let hash = config_hash.clone();
        let volume = voice_volume.clone();
        let card_read = card_read_ms.clone();
        driver.on_settings_applied(Box::new(move |s| {
            // Checked against kiosk.toml's range before it was accepted; kept in it regardless.
            let ms = s
                .card_read_ms
                .unwrap_or(base.timeouts.card_read_ms)
                .clamp(100, 600_000);
            card_read.store(ms, std::sync::atomic::Ordering::Relaxed);
            if let Ok(mut h) = hash.lock() {
                *h = remote_config::effective_hash(&base, s);
            }
            let muted = s.voice_enabled == Some(false);
            if let Some(v) = s.voice_volume.and_then(|v| u8::try_from(v.min(100)).ok()) {
                let v = if muted { 0 } else { v };
                volume.store(v, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    let app = KioskApp::new(config.clone(), driver, clock, sim);
    if let Some(verifier) = remote_config {
        remote_config::spawn(
            platform.clone(),
            verifier,
            config,
            app.event_sender(),
            stop.clone(),
        );
    }
    Ok(Assembled {
        app,
        config_hash,
        voice_volume,
        card_read_ms,
        platform,
        store,
        stop,
        demo: demo.then_some(handles),
        outbox: mailbox,
    })
}

/// The face verifier `[face] provider` names: `demo` (demo mode only; `fail_next` is the
/// simulator panel's switch) or `http` (the camera and the verification service).
fn face_verifier(
    config: &KioskConfig,
    fail_next: Arc<Mutex<bool>>,
) -> Result<Box<dyn crate::flow::ports::FaceVerifier + Send>, AppError> {
    use crate::providers::ProvidersError;
    match config.face.provider.as_str() {
        "demo" if config.kiosk.demo => Ok(Box::new(DemoFaceVerifier { fail_next })),
        "demo" => Err(AppError::Face(ProvidersError::Config {
            key: "face.provider",
            message: "the demo verifier runs only with kiosk.demo = true".into(),
        })),
        "http" => Ok(Box::new(
            crate::providers::face_http::from_section(&config.face, &config.kiosk.id)
                .map_err(AppError::Face)?,
        )),
        other => Err(AppError::Face(ProvidersError::Config {
            key: "face.provider",
            message: format!("unknown provider {other:?} (demo or http)"),
        })),
    }
}

/// The platform named by `[platform]`: a server, called with this kiosk's key (or the demo
/// identity when no key file is configured, which only a demo server accepts).
fn remote_platform(
    config: &KioskConfig,
    url: &str,
) -> Result<crate::remote::RemotePlatform, AppError> {
    use crate::wire::auth::KioskIdentity;
    let identity = match config.platform.key_file.trim() {
        "" => KioskIdentity::demo(),
        file => KioskIdentity::from_key_file(config.kiosk.id.clone(), Path::new(file))
            .map_err(|e| AppError::Platform(e.to_string()))?,
    };
    crate::remote::RemotePlatform::new(url, identity).map_err(|e| AppError::Platform(e.to_string()))
}

/// Open (in demo mode: create) the local store, run the start-up revert it owes (六.2) and its
/// periodic revert. With `[payment] provider = "simulator"` (demo mode only) the Alipay gateway
/// simulator is started in this process and its handle (the demo's phone) returned.
fn open_local_store(
    config: &KioskConfig,
    db: &Path,
    policy: &PolicyBook,
    clock: &Clock,
    stop: &Arc<AtomicBool>,
) -> Result<
    (
        Arc<SqlitePlatform>,
        Option<crate::providers::alipay::sim::SimHandle>,
    ),
    AppError,
> {
    let path = db.display().to_string();
    if config.kiosk.demo {
        let built = crate::store::demo::ensure_demo_database_with(
            db,
            u64::from(config.database.demo_persons),
            config.database.demo_seed,
        )
        .map_err(|source| AppError::DemoDatabase {
            path: path.clone(),
            source,
        })?;
        if built {
            tracing::info!(path = %db.display(), "demo database created");
        }
    }
    // The providers `[payment]`, `[sms]`, `[qr]` name, and the audit key of `[audit]`. The
    // store asks `[payment]`'s provider directly (no notification route): "simulator" is the real
    // Alipay adapter against the gateway simulator started here (demo mode only).
    let (payments, phone): (Box<dyn crate::store::payment::PaymentProvider>, _) = if config
        .payment
        .provider
        == crate::config::PaymentSection::SIMULATOR
    {
        if !config.kiosk.demo {
            return Err(AppError::DemoParts(crate::config::demo_provider_refusals(
                &[("payment.provider", config.payment.provider.as_str())],
            )));
        }
        let (provider, phone) = crate::providers::start_payment_simulator()
            .map_err(|e| AppError::Providers(e.to_string()))?;
        tracing::info!(gateway = %phone.gateway(), "demo payments through the Alipay gateway simulator");
        (Box::new(provider), Some(phone))
    } else {
        (
            crate::providers::payment_provider(&config.payment)
                .map_err(|e| AppError::Providers(e.to_string()))?,
            None,
        )
    };
    let parts = crate::providers::platform_parts_with(payments, &config.sms, &config.qr)
        .map_err(|e| AppError::Providers(e.to_string()))?;
    let audit = match config.audit.key_path() {
        Some(file) => crate::store::audit::AuditKey::from_file(file)
            .map_err(|e| AppError::AuditKey(e.to_string()))?,
        None => crate::store::audit::AuditKey::demo(),
    };
    let conn = crate::store::schema::open(db).map_err(|e| AppError::Database {
        path: path.clone(),
        source: e.into(),
    })?;
    let platform = SqlitePlatform::new(conn, policy.clone(), parts.qr, parts.sms, parts.payments)
        .with_audit_key(audit);
    let reverted = platform
        .revert_due(clock.now())
        .map_err(|source| AppError::Database { path, source })?;
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
    if let Some(phone) = &phone {
        reopen_at_simulator(&platform, phone, clock.now());
    }
    let revert_clock = clock.clone();
    crate::store::platform::spawn_periodic_revert(
        platform.clone() as Arc<dyn Platform>,
        Arc::new(move || revert_clock.now()),
        std::time::Duration::from_secs(60),
        stop.clone(),
    );
    Ok((platform, phone))
}

/// A fresh gateway simulator knows no order: the store's open orders (opened by an earlier
/// run's simulator: the same app id and order number give the same QR code) are opened at it
/// again, so the phone can pay a handling left unpaid before a restart.
fn reopen_at_simulator(
    platform: &SqlitePlatform,
    phone: &crate::providers::alipay::sim::SimHandle,
    now: jiff::Timestamp,
) {
    use crate::store::payment::{OrderRequest, PaymentProvider as _};
    let open = platform.with_connection_ref(|c| {
        let mut s = c.prepare(
            "SELECT out_trade_no, amount_fen FROM payment_orders WHERE state = 'open' AND provider = 'alipay'",
        )?;
        let rows = s.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    });
    let adapter = crate::providers::simulator_adapter(phone);
    for (out_trade_no, fen) in open.unwrap_or_default() {
        let order = OrderRequest {
            out_trade_no,
            amount: crate::domain::Fen(fen),
            subject: "交通违法罚款".into(),
            expires: now + jiff::SignedDuration::from_hours(2),
        };
        if let Err(e) = adapter.create_order(&order, now) {
            tracing::warn!(order = %order.out_trade_no, error = %e, "not reopened at the Alipay gateway simulator");
        }
    }
}

/// Open the kiosk `kiosk.toml` describes: assemble it, start the device threads, open the window.
/// `KIOSK_BENCH=ui` runs the UI benchmark instead; `KIOSK_WINDOWED=1` opens a normal window.
pub fn run(config: KioskConfig) -> Result<i32, AppError> {
    if std::env::var("KIOSK_BENCH").as_deref() == Ok("ui") {
        return bench::run(config);
    }
    let windowed = std::env::var("KIOSK_WINDOWED").as_deref() == Ok("1");
    let reader = config.devices.reader.clone();
    let scanner = config.devices.scanner.clone();
    let suffix = config.devices.scanner_suffix.clone();
    // A device URI that cannot be used is a configuration error, said before the window opens.
    for (key, uri) in [("devices.reader", &reader), ("devices.scanner", &scanner)] {
        uri.parse::<crate::devices::DeviceUri>()
            .map_err(|source| AppError::DeviceUri {
                key,
                uri: uri.clone(),
                source,
            })?;
    }
    let voice = config.voice.clone();
    let metrics = config.metrics.listen_addr();
    let Assembled {
        app,
        stop,
        voice_volume,
        card_read_ms,
        ..
    } = assemble(config, Clock::system())?;
    // Operations: the Prometheus endpoint and the systemd watchdog, each on a thread of its own.
    if let Some(Ok(addr)) = metrics
        && let Err(e) = crate::ops::metrics::serve(addr)
    {
        tracing::error!(%addr, error = %e, "metrics endpoint not started");
    }
    crate::ops::watchdog::spawn_if_enabled(stop.clone());
    // Voice guidance on its own thread; without an audio device or espeak-ng it logs once and
    // stays silent.
    // Its volume follows the applied remote configuration (`voice_volume`; `voice_enabled =
    // false` mutes it); a voice off in kiosk.toml is turned on only by a restart.
    let app = if voice.enabled {
        app.with_voice(Box::new(crate::voice::SpeakingVoice::start_shared(
            crate::voice::Engine::new(&voice.recordings),
            voice_volume,
        )))
    } else {
        tracing::info!("voice guidance off (voice.enabled = false)");
        app
    };
    let events = app.event_sender();
    let thread_stop = stop.clone();
    let result = crate::ui::open_window_with(app, windowed, move |ctx| {
        let wake = ctx.clone();
        let notify: device_threads::Notify = Arc::new(move || wake.request_repaint());
        let r = device_threads::spawn_reader(
            &reader,
            card_read_ms,
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
