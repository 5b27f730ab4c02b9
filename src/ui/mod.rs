//! The egui/eframe UI: draws the flow's state and sends events. It never touches a device or the
//! database: touches become `Event::Ui`, device input arrives through [`KioskApp::event_sender`],
//! and everything else is the flow's `Driver`.

pub mod bench;
pub mod fonts;
pub mod i18n;
mod screens;
mod simulator;

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

use crate::config::KioskConfig;
use crate::flow::demo::{DemoBackend, DemoFaceVerifier, DemoPeripherals};
use crate::flow::{Driver, Event, State};

pub use simulator::{ReceiptImages, SimScan, SimScript, Simulator};

/// Why the kiosk window could not run.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error(
        "kiosk.demo = false needs the platform store and device adapters, which are not wired into the UI yet"
    )]
    NotWired,
    #[error("cannot open the kiosk window: {0}")]
    Window(String),
    #[error("cannot write the benchmark report: {0}")]
    Report(String),
}

/// Where the UI reads the time it sends to the flow as `Event::Tick`.
#[derive(Debug, Clone)]
pub enum Clock {
    /// The system clock, shifted by the simulator's offset (zero outside demo mode).
    System(Arc<Mutex<SignedDuration>>),
    /// A clock the caller sets (tests, screenshots).
    Manual(Arc<Mutex<Timestamp>>),
}

impl Clock {
    pub fn system() -> Self {
        Clock::System(Arc::new(Mutex::new(SignedDuration::ZERO)))
    }
    pub fn manual(at: Timestamp) -> Self {
        Clock::Manual(Arc::new(Mutex::new(at)))
    }
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System(offset) => {
                Timestamp::now() + offset.lock().map(|o| *o).unwrap_or(SignedDuration::ZERO)
            }
            Clock::Manual(t) => t.lock().map(|t| *t).unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }
    /// Move the clock on (manual) or shift it (system, demo only).
    pub fn advance(&self, by: SignedDuration) {
        match self {
            Clock::System(offset) => {
                if let Ok(mut o) = offset.lock() {
                    *o += by;
                }
            }
            Clock::Manual(t) => {
                if let Ok(mut t) = t.lock() {
                    *t += by;
                }
            }
        }
    }
}

/// The kiosk application: the flow's driver, the clock, and in demo mode the simulator panel.
pub struct KioskApp {
    driver: Driver,
    config: KioskConfig,
    clock: Clock,
    sim: Option<Simulator>,
    events_tx: Sender<Event>,
    events_rx: Receiver<Event>,
    face_demo: bool,
    frames: u64,
    /// Set by the benchmark: close requests are honoured and the violation list scrolls.
    pub(crate) bench: Option<bench::BenchProbe>,
}

impl KioskApp {
    /// The demo kiosk: the in-memory demo platform, simulated devices, the simulator panel.
    pub fn demo(config: KioskConfig, clock: Clock) -> Self {
        Self::demo_with(config, clock, |_| {})
    }

    /// The demo kiosk, with a hook to extend the demo platform (the benchmark adds violations).
    pub fn demo_with(
        config: KioskConfig,
        clock: Clock,
        extend: impl FnOnce(&mut DemoBackend),
    ) -> Self {
        let now = clock.now();
        let mut backend = DemoBackend::new(now, config.timeouts.payment_window_minutes);
        extend(&mut backend);
        let peripherals = DemoPeripherals::default();
        let face = DemoFaceVerifier::default();
        let sim = Simulator::new(
            backend.outbox(),
            peripherals.printed(),
            peripherals.out_of_paper.clone(),
            face.fail_next.clone(),
            clock.clone(),
        );
        let driver = Driver::new(
            State::new(&config, now),
            Box::new(backend),
            Box::new(peripherals),
            Box::new(face),
        );
        Self::new(config, driver, clock, Some(sim))
    }

    /// A kiosk over any driver (the lead's adapters to the real store and devices).
    pub fn new(config: KioskConfig, driver: Driver, clock: Clock, sim: Option<Simulator>) -> Self {
        let (events_tx, events_rx) = channel();
        KioskApp {
            face_demo: driver.face_is_demo(),
            driver,
            config,
            clock,
            sim,
            events_tx,
            events_rx,
            frames: 0,
            bench: None,
        }
    }

    /// Device threads send `CardPlaced`, `CardRemoved`, `Scanned` here (then request a repaint).
    pub fn event_sender(&self) -> Sender<Event> {
        self.events_tx.clone()
    }

    pub fn state(&self) -> &State {
        self.driver.state()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn simulator(&self) -> Option<&Simulator> {
        self.sim.as_ref()
    }

    /// Frames drawn so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Send an event to the flow directly (tests, the benchmark).
    pub fn send(&mut self, event: Event) {
        self.driver.send(event);
    }

    /// Style for a touch kiosk: large text, generous spacing.
    pub fn setup(ctx: &egui::Context) {
        fonts::install(ctx);
        ctx.set_theme(egui::ThemePreference::Dark);
        ctx.all_styles_mut(|style| {
            use egui::{FontId, TextStyle};
            style.text_styles = [
                (TextStyle::Heading, FontId::proportional(34.0)),
                (TextStyle::Body, FontId::proportional(22.0)),
                (TextStyle::Button, FontId::proportional(24.0)),
                (TextStyle::Small, FontId::proportional(16.0)),
                (TextStyle::Monospace, FontId::monospace(18.0)),
            ]
            .into();
            style.spacing.item_spacing = egui::vec2(12.0, 12.0);
            style.spacing.button_padding = egui::vec2(16.0, 10.0);
        });
    }

    /// Draw one frame. eframe's `App::ui` and the tests call this.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.frames += 1;
        let ctx = ui.ctx().clone();
        while let Ok(e) = self.events_rx.try_recv() {
            self.driver.send(e);
        }
        self.driver.send(Event::Tick(self.clock.now()));
        if self.driver.take_wiped() {
            // Drop anything egui keeps between frames (scroll positions, widget state).
            ctx.memory_mut(|m| m.data.clear());
        }
        if self.bench.is_none() && ctx.input(|i| i.viewport().close_requested()) {
            tracing::info!("close request ignored");
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
        }

        let mut events: Vec<Event> = Vec::new();
        if let Some(sim) = &mut self.sim {
            sim.show(ui, &mut events);
        }
        let view = screens::View {
            lang: self.driver.state().ctx().lang,
            touch: touch_points(&ctx, &self.config),
            face_demo: self.face_demo,
            demo: self.config.kiosk.demo,
            scroll_to: self.bench.as_mut().and_then(|b| b.scroll_step()),
        };
        egui::CentralPanel::default_margins().show(ui, |ui| {
            screens::draw(ui, self.driver.state(), &view, &mut events);
        });

        let changed = !events.is_empty();
        for e in events {
            self.driver.send(e);
        }
        if let Some(b) = &mut self.bench {
            b.after_frame(&ctx, &mut self.driver, &self.clock);
        }
        if changed {
            ctx.request_repaint();
        } else {
            self.schedule_repaint(&ctx);
        }
    }

    /// Repaint only when something on screen will change: the idle countdown, the clock's minute.
    fn schedule_repaint(&self, ctx: &egui::Context) {
        let now = self.clock.now();
        let secs_to_minute = 60.0 - now.as_second().rem_euclid(60) as f32;
        let next = self
            .driver
            .state()
            .next_deadline_in()
            .map_or(secs_to_minute, |d| d.min(secs_to_minute));
        ctx.request_repaint_after_secs(next.max(0.05));
    }
}

/// Points for `screen.min_touch_mm` on the configured screen: the viewport spans
/// `screen.width_mm`.
pub fn touch_points(ctx: &egui::Context, config: &KioskConfig) -> f32 {
    let width = ctx.content_rect().width();
    let per_mm = width / config.screen.width_mm;
    (config.screen.min_touch_mm * per_mm).max(1.0)
}

struct EframeApp(KioskApp);

impl eframe::App for EframeApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.0.ui(ui);
    }

    /// A walk-up user has no keyboard; a plugged one must not reach the desktop or egui.
    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw: &mut egui::RawInput) {
        raw.events.retain(|e| {
            !matches!(
                e,
                egui::Event::Key { .. }
                    | egui::Event::Text(_)
                    | egui::Event::Copy
                    | egui::Event::Cut
                    | egui::Event::Paste(_)
            )
        });
    }

    fn persist_egui_memory(&self) -> bool {
        false
    }
}

/// Open the kiosk window. Returns the process exit code.
///
/// `KIOSK_BENCH=ui` runs the benchmark instead (see [`bench`]); `KIOSK_WINDOWED=1` opens a
/// normal window for development.
pub fn run(config: crate::config::KioskConfig) -> anyhow::Result<i32> {
    if std::env::var("KIOSK_BENCH").as_deref() == Ok("ui") {
        return Ok(bench::run(config)?);
    }
    if !config.kiosk.demo {
        return Err(UiError::NotWired.into());
    }
    let windowed = std::env::var("KIOSK_WINDOWED").as_deref() == Ok("1");
    let app = KioskApp::demo(config, Clock::system());
    open_window(app, windowed)?;
    Ok(0)
}

pub(crate) fn open_window(app: KioskApp, windowed: bool) -> Result<(), UiError> {
    open_window_with(app, windowed, |_| {})
}

/// Open the window; `on_start` gets the egui context once (device threads keep it to wake the
/// window when a card or a scan arrives).
pub fn open_window_with(
    app: KioskApp,
    windowed: bool,
    on_start: impl FnOnce(&egui::Context) + 'static,
) -> Result<(), UiError> {
    let viewport = egui::ViewportBuilder::default()
        .with_title("kiosk")
        .with_inner_size([1600.0, 900.0])
        .with_fullscreen(!windowed)
        .with_decorations(windowed);
    let options = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    eframe::run_native(
        "kiosk",
        options,
        Box::new(move |cc| {
            KioskApp::setup(&cc.egui_ctx);
            on_start(&cc.egui_ctx);
            Ok(Box::new(EframeApp(app)))
        }),
    )
    .map_err(|e| UiError::Window(e.to_string()))
}
