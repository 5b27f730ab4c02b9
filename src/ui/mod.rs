//! The egui/eframe UI: draws the flow's state and sends events. It never touches a device or the
//! database and never waits on I/O: touches become `Event::Ui`, device input arrives through
//! [`KioskApp::event_sender`], and the flow's `Driver` runs the calls on its worker thread. The
//! kiosk itself is wired by the composition root (`crate::app`), never here.

pub mod bench;
pub mod fonts;
pub mod i18n;
mod screens;
mod simulator;
pub mod theme;

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

use crate::config::KioskConfig;
use crate::flow::{Driver, Event, State};
use crate::voice::{Prompter, Voice};

pub use screens::Regions;
pub use simulator::{
    Outbox, Pager, PhonePay, PrintedReceipts, ReceiptImages, SimScan, SimScript, Simulator,
    SmsMessage, payment_qr_on_screen,
};

/// Why the kiosk window could not run.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("cannot open the kiosk window: {0}")]
    Window(String),
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
    /// The worker's wake-up is wired to this window's repaint (on the first frame).
    wake_set: bool,
    frames: u64,
    /// Set by the benchmark: close requests are honoured and the violation list scrolls.
    pub(crate) bench: Option<bench::BenchProbe>,
    /// Voice guidance, when on: told the prompt of each new step (never waits).
    voice: Option<Box<dyn Voice>>,
    prompter: Prompter,
    /// The attract screen's card-placement animation runs (never on a CPU renderer), from when.
    animation: Option<std::time::Instant>,
    /// The UI loop's sign of life for the systemd watchdog (`crate::ops::watchdog`).
    heartbeat: Arc<crate::ops::watchdog::Heartbeat>,
}

/// One cycle of the card-placement animation.
const ANIMATION_CYCLE_SECS: f32 = 2.4;
/// The animation repaints at most this often: 10 frames a second.
pub const ANIMATION_FRAME_SECS: f32 = 0.1;

impl KioskApp {
    /// A kiosk over a driver the composition root (`crate::app::assemble`) put together.
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
            wake_set: false,
            frames: 0,
            bench: None,
            voice: None,
            prompter: Prompter::default(),
            animation: None,
            heartbeat: crate::ops::watchdog::Heartbeat::register(
                "ui",
                crate::ops::watchdog::Mode::Periodic,
            ),
        }
    }

    /// Animate the card placement on the attract screen (at most 10 frames a second). The
    /// window turns it on only when the graphics adapter is not a CPU renderer.
    pub fn set_animation(&mut self, on: bool) {
        self.animation = on.then(std::time::Instant::now);
    }

    /// The animation's phase (0 to 1) when it runs on the current screen.
    fn animation_phase(&self) -> Option<f32> {
        let start = self.animation?;
        let welcome = matches!(
            self.driver.state(),
            State::Attract {
                page: crate::flow::AttractPage::Welcome,
                ..
            }
        );
        welcome.then(|| (start.elapsed().as_secs_f32() / ANIMATION_CYCLE_SECS).fract())
    }

    /// Speak each new step's prompt through `voice` (`voice::SpeakingVoice` on a kiosk).
    pub fn with_voice(mut self, voice: Box<dyn Voice>) -> Self {
        self.voice = Some(voice);
        self
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

    /// Feed the flow what device threads (and the remote configuration) sent through
    /// [`KioskApp::event_sender`]; each frame does it first. Never blocks.
    pub fn take_sent_events(&mut self) {
        while let Ok(e) = self.events_rx.try_recv() {
            self.driver.send(e);
        }
    }

    /// Send an event to the flow directly (tests, the benchmark). Never blocks.
    pub fn send(&mut self, event: Event) {
        self.driver.send(event);
    }

    /// Wait until every call the flow handed to its worker has answered (or `timeout` passed),
    /// feeding the results through the flow. Returns whether everything answered. Tests use it
    /// instead of sleeping; the window itself never calls it.
    pub fn settle(&mut self, timeout: std::time::Duration) -> bool {
        self.driver.settle(timeout)
    }

    /// Calls handed to the flow's worker that have not answered yet (tests wait on this
    /// condition instead of counting frames).
    pub fn outstanding(&self) -> usize {
        self.driver.outstanding()
    }

    /// A call has been outstanding for `flow::BUSY_AFTER` or longer: the screen says 请稍候.
    pub fn busy(&self) -> bool {
        self.driver.busy(self.clock.now())
    }

    /// Measure this app's frames (the benchmark).
    pub fn with_bench(mut self, probe: bench::BenchProbe) -> Self {
        self.bench = Some(probe);
        self
    }

    /// Style for a touch kiosk: the light public-service theme (`theme`); sizes are set per
    /// frame from the panel's millimetres.
    pub fn setup(ctx: &egui::Context) {
        fonts::install(ctx);
        ctx.set_theme(egui::ThemePreference::Light);
        ctx.all_styles_mut(|style| {
            use egui::{FontId, TextStyle};
            style.text_styles = [
                (TextStyle::Heading, FontId::proportional(34.0)),
                (TextStyle::Body, FontId::proportional(24.0)),
                (TextStyle::Button, FontId::proportional(24.0)),
                (TextStyle::Small, FontId::proportional(24.0)),
                (TextStyle::Monospace, FontId::monospace(20.0)),
            ]
            .into();
            style.spacing.item_spacing = egui::vec2(12.0, 12.0);
            style.spacing.button_padding = egui::vec2(16.0, 10.0);
            style.spacing.scroll.bar_width = 14.0;
            style.visuals.panel_fill = theme::BG;
            style.visuals.window_fill = theme::SURFACE;
            style.visuals.override_text_color = Some(theme::TEXT);
            // egui's debug-build overlay ("Unaligned") is not part of the kiosk screen. The field
            // exists only in debug builds (`cargo run --release` does not have it).
            #[cfg(debug_assertions)]
            {
                style.debug.show_unaligned = false;
            }
        });
    }

    /// Draw one frame. eframe's `App::ui` and the tests call this.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let frame_started = std::time::Instant::now();
        crate::ops::watchdog::hang_ui_if_asked();
        self.heartbeat.beat();
        self.frames += 1;
        let ctx = ui.ctx().clone();
        if !self.wake_set {
            let wake = ctx.clone();
            self.driver
                .set_wake(Arc::new(move || wake.request_repaint()));
            // The watchdog asks for a frame at each check, so an idle screen still shows life.
            let poke = ctx.clone();
            self.heartbeat
                .set_poke(Box::new(move || poke.request_repaint()));
            self.wake_set = true;
            // A second frame right away: READY=1 goes once the first one was painted.
            ctx.request_repaint();
        } else {
            crate::ops::watchdog::ready();
        }
        self.driver.poll();
        self.take_sent_events();
        self.driver.send(Event::Tick(self.clock.now()));
        if self.driver.take_wiped() {
            // Drop anything egui keeps between frames (scroll positions, widget state).
            ctx.memory_mut(|m| m.data.clear());
        }
        // A new step's prompt, once (`say` only hands it to the voice thread).
        if let Some(voice) = &mut self.voice
            && let Some((prompt, lang)) = self.prompter.on_frame(self.driver.state())
        {
            voice.say(prompt, lang);
        }
        if self.bench.is_none() && ctx.input(|i| i.viewport().close_requested()) {
            tracing::info!("close request ignored");
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
        }

        let mut events: Vec<Event> = Vec::new();
        if let Some(sim) = &mut self.sim {
            sim.show(ui, self.driver.state(), &mut events);
        }
        let state_ctx = self.driver.state().ctx();
        let view = screens::View {
            lang: state_ctx.lang,
            m: metrics(&ctx, &self.config, state_ctx.elder),
            face_demo: self.face_demo,
            demo: self.config.kiosk.demo,
            scroll_to: self.bench.as_mut().and_then(|b| b.scroll_step()),
            busy: self.driver.busy(self.clock.now()),
            animation: self.animation_phase(),
        };
        egui::CentralPanel::no_frame().show(ui, |ui| {
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
        crate::ops::metrics::kiosk()
            .frame_build_seconds
            .observe(frame_started.elapsed().as_secs_f64());
    }

    /// Repaint only when something on screen will change: the idle countdown, the clock's minute.
    fn schedule_repaint(&self, ctx: &egui::Context) {
        let now = self.clock.now();
        let secs_to_minute = 60.0 - now.as_second().rem_euclid(60) as f32;
        let mut next = self
            .driver
            .state()
            .next_deadline_in()
            .map_or(secs_to_minute, |d| d.min(secs_to_minute));
        // While a call is outstanding: the frame where 请稍候 appears.
        if let Some(busy_in) = self.driver.busy_in(now)
            && !busy_in.is_zero()
        {
            next = next.min(busy_in.as_secs_f32());
        }
        if self.animation_phase().is_some() {
            next = next.min(ANIMATION_FRAME_SECS);
        }
        ctx.request_repaint_after_secs(next.max(0.05));
    }
}

/// Points per millimetre on the configured panel: the viewport spans `screen.width_mm`.
pub fn points_per_mm(ctx: &egui::Context, config: &KioskConfig) -> f32 {
    (ctx.content_rect().width() / config.screen.width_mm).max(0.1)
}

/// This frame's sizes: the panel's millimetres, and 长辈模式 when the flow says it is on.
pub fn metrics(ctx: &egui::Context, config: &KioskConfig, elder: bool) -> theme::Metrics {
    theme::Metrics::new(
        points_per_mm(ctx, config),
        elder,
        config.screen.min_touch_mm,
    )
}

struct EframeApp(KioskApp, bool);

/// Whether the window is drawn by a CPU renderer (wgpu's adapter type, or the GL renderer's
/// name: llvmpipe, softpipe, SwiftShader); unknown counts as one.
fn cpu_renderer(frame: &eframe::Frame) -> (bool, String) {
    if let Some(rs) = frame.wgpu_render_state() {
        let info = rs.adapter.get_info();
        return (
            info.device_type == eframe::wgpu::DeviceType::Cpu,
            format!("wgpu {:?} {}", info.device_type, info.name),
        );
    }
    if let Some(gl) = frame.gl() {
        use eframe::glow::HasContext;
        // SAFETY: a plain string query on the context eframe made current for this frame.
        let name = unsafe { gl.get_parameter_string(eframe::glow::RENDERER) };
        let lower = name.to_lowercase();
        let cpu = ["llvmpipe", "softpipe", "swiftshader", "software"]
            .iter()
            .any(|s| lower.contains(s));
        return (cpu, format!("glow {name}"));
    }
    (true, "unknown".into())
}

impl eframe::App for EframeApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        if !self.1 {
            self.1 = true;
            let (mut cpu, adapter) = cpu_renderer(frame);
            // The benchmark measures the animation's cost where it is normally off.
            match std::env::var("KIOSK_ANIMATION").as_deref() {
                Ok("on") => cpu = false,
                Ok("off") => cpu = true,
                _ => {}
            }
            tracing::info!(
                adapter,
                cpu,
                "graphics adapter; the attract animation is {}",
                if cpu { "off (CPU renderer)" } else { "on" }
            );
            self.0.set_animation(!cpu);
        }
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

/// The eframe renderer: `KIOSK_RENDERER=wgpu` or `glow` (the benchmark compares them), else the
/// default chosen by measuring `kiosk bench ui` without a GPU (ARCHITECTURE.md).
pub fn renderer() -> eframe::Renderer {
    match std::env::var("KIOSK_RENDERER").as_deref() {
        Ok("glow") => eframe::Renderer::Glow,
        Ok("wgpu") => eframe::Renderer::Wgpu,
        _ => DEFAULT_RENDERER,
    }
}

/// The renderer that drew this UI cheaper on a CPU-only machine (see `renderer`).
pub const DEFAULT_RENDERER: eframe::Renderer = eframe::Renderer::Glow;

pub fn open_window(app: KioskApp, windowed: bool) -> Result<(), UiError> {
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
    let renderer = renderer();
    tracing::info!(?renderer, "renderer");
    let options = eframe::NativeOptions {
        viewport,
        renderer,
        ..Default::default()
    };
    eframe::run_native(
        "kiosk",
        options,
        Box::new(move |cc| {
            KioskApp::setup(&cc.egui_ctx);
            on_start(&cc.egui_ctx);
            Ok(Box::new(EframeApp(app, false)))
        }),
    )
    .map_err(|e| UiError::Window(e.to_string()))
}
