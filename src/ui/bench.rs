//! `kiosk bench ui`: the probe of a benchmark of the running app, in a real window. The
//! composition root (`crate::app::bench`) assembles the kiosk on the demo database, hands the
//! probe the scripted session and opens the window; the probe measures inside the app's frames.
//!
//! It measures, in one run:
//! 1. the time from process start to the first painted frame;
//! 2. resident memory after a full session (card → violations → handle → pay → receipt → removal);
//! 3. CPU used while idle on the attract screen for 30 s (`KIOSK_BENCH_IDLE_SECS` to change), and
//!    how many frames were painted meanwhile (it must not repaint continuously);
//! 4. frame-time percentiles while scrolling a list of 500 violations.
//!
//! It prints one JSON object on standard output and exits. Linux only (reads `/proc/self`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Clock;
use crate::flow::{Driver, Event, Screen, State};

/// Frames measured while scrolling.
const SCROLL_FRAMES: usize = 300;
const SCROLL_STEP: f32 = 37.0;

/// The figures, printed as JSON.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BenchReport {
    /// Process start to the start of the second frame, i.e. once the first frame was painted
    /// and presented (ms), from `/proc` (10 ms resolution).
    pub first_frame_ms_since_process_start: f64,
    /// `app::bench::run` entry to the same instant (ms).
    pub first_frame_ms_since_run: f64,
    /// VmRSS after a full session (KiB).
    pub rss_kib_after_session: u64,
    /// Seconds idle on the attract screen (measured after 1 s of settling).
    pub idle_seconds: f64,
    /// CPU (user + system) used while idle (ms), and as a percentage of one core.
    pub idle_cpu_ms: f64,
    pub idle_cpu_percent: f64,
    /// Frames painted while idle.
    pub idle_frames: u64,
    /// Frame-to-frame interval while scrolling (ms).
    pub scroll_frames: usize,
    pub scroll_interval_ms_p50: f64,
    pub scroll_interval_ms_p90: f64,
    pub scroll_interval_ms_p99: f64,
    pub scroll_interval_ms_max: f64,
    /// Time spent building each frame in `KioskApp::ui` (ms).
    pub scroll_ui_ms_p50: f64,
    pub scroll_ui_ms_p99: f64,
}

/// What the idle watcher thread measured: seconds, CPU ms, frames painted.
type IdleResult = Arc<Mutex<Option<(f64, f64, u64)>>>;

#[derive(Debug)]
enum Phase {
    FirstFrame,
    /// The first frame was built; the next frame starts once it has been painted.
    FirstPainted,
    Session(usize),
    IdleStart,
    Idle {
        frames: Arc<AtomicU64>,
        result: IdleResult,
    },
    ScrollSetup(usize),
    Scroll {
        frames: usize,
    },
    Finished,
}

/// Measurements taken inside the app's frames.
pub struct BenchProbe {
    run_started: Instant,
    phase: Phase,
    idle: Duration,
    frame_started: Option<Instant>,
    last_frame_end: Option<Instant>,
    intervals: Vec<f64>,
    build: Vec<f64>,
    scroll: f32,
    report: Arc<Mutex<BenchReport>>,
    /// The full session, one event per frame (each sent once the previous one's calls answered).
    session: Vec<Event>,
    /// The events that open the long violation list scrolled in phase 4.
    to_long_list: Vec<Event>,
}

/// CPU time of this process (user + system), ms, from `/proc/self/stat` (USER_HZ = 100).
fn cpu_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based); `rest` starts at field 3.
    (ticks(11) + ticks(12)) * 10.0
}

/// Seconds since this process started.
fn process_age_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r).to_string();
    let start_ticks = rest
        .split_whitespace()
        .nth(19)
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0);
    let uptime = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    (uptime - start_ticks / 100.0) * 1000.0
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl BenchProbe {
    /// A probe that plays `session` (phase 2) and `to_long_list` (phase 4), idles for `idle`
    /// and writes its figures to `report`.
    pub fn new(
        run_started: Instant,
        idle: Duration,
        report: Arc<Mutex<BenchReport>>,
        session: Vec<Event>,
        to_long_list: Vec<Event>,
    ) -> Self {
        BenchProbe {
            session,
            to_long_list,
            run_started,
            phase: Phase::FirstFrame,
            idle,
            frame_started: None,
            last_frame_end: None,
            intervals: Vec::new(),
            build: Vec::new(),
            scroll: 0.0,
            report,
        }
    }

    /// Called before drawing: where the violation list is scrolled to, while scrolling.
    pub(super) fn scroll_step(&mut self) -> Option<f32> {
        let now = Instant::now();
        self.frame_started = Some(now);
        if matches!(self.phase, Phase::FirstPainted) {
            let since_run = now.duration_since(self.run_started).as_secs_f64() * 1000.0;
            let since_start = process_age_ms();
            self.with_report(|r| {
                r.first_frame_ms_since_run = since_run;
                r.first_frame_ms_since_process_start = since_start;
            });
            self.phase = Phase::Session(0);
        }
        matches!(self.phase, Phase::Scroll { .. }).then_some(self.scroll)
    }

    fn with_report(&self, f: impl FnOnce(&mut BenchReport)) {
        if let Ok(mut r) = self.report.lock() {
            f(&mut r);
        }
    }

    /// Called after each frame: advances the script and takes the measurements.
    pub(super) fn after_frame(&mut self, ctx: &egui::Context, driver: &mut Driver, clock: &Clock) {
        let _ = clock;
        let end = Instant::now();
        match &mut self.phase {
            Phase::FirstFrame => {
                self.phase = Phase::FirstPainted;
                ctx.request_repaint();
            }
            Phase::FirstPainted => ctx.request_repaint(),
            Phase::Session(_) if driver.outstanding() > 0 => {}
            Phase::Session(i) => {
                if let Some(e) = self.session.get(*i).cloned() {
                    driver.send(e);
                    *i += 1;
                    ctx.request_repaint();
                } else {
                    let rss = rss_kib();
                    self.with_report(|r| r.rss_kib_after_session = rss);
                    self.phase = Phase::IdleStart;
                    ctx.request_repaint();
                }
            }
            Phase::IdleStart => {
                // From here on nothing asks for a repaint but the app itself. A watcher thread
                // lets the screen settle for a second, then measures the process for `idle`.
                let frames = Arc::new(AtomicU64::new(0));
                let result: IdleResult = Arc::new(Mutex::new(None));
                let (f, r, wake, idle) = (frames.clone(), result.clone(), ctx.clone(), self.idle);
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(1));
                    let (t0, c0, f0) = (Instant::now(), cpu_ms(), f.load(Ordering::SeqCst));
                    std::thread::sleep(idle);
                    let (c1, f1) = (cpu_ms(), f.load(Ordering::SeqCst));
                    if let Ok(mut r) = r.lock() {
                        *r = Some((t0.elapsed().as_secs_f64(), c1 - c0, f1 - f0));
                    }
                    wake.request_repaint();
                });
                self.phase = Phase::Idle { frames, result };
            }
            Phase::Idle { frames, result } => {
                frames.fetch_add(1, Ordering::SeqCst);
                tracing::debug!(causes = ?ctx.repaint_causes(), "frame while idle");
                let done = result.lock().ok().and_then(|r| *r);
                if let Some((secs, cpu_used, idle_frames)) = done {
                    self.with_report(|r| {
                        r.idle_seconds = secs;
                        r.idle_cpu_ms = cpu_used;
                        r.idle_cpu_percent = cpu_used / (secs * 1000.0) * 100.0;
                        r.idle_frames = idle_frames;
                    });
                    self.phase = Phase::ScrollSetup(0);
                    ctx.request_repaint();
                }
            }
            Phase::ScrollSetup(_) if driver.outstanding() > 0 => {}
            Phase::ScrollSetup(i) => {
                if let Some(e) = self.to_long_list.get(*i).cloned() {
                    driver.send(e);
                    *i += 1;
                } else {
                    self.phase = Phase::Scroll { frames: 0 };
                    self.last_frame_end = None;
                }
                ctx.request_repaint();
            }
            Phase::Scroll { frames } => {
                if let Some(start) = self.frame_started {
                    self.build
                        .push(end.duration_since(start).as_secs_f64() * 1000.0);
                }
                if let Some(last) = self.last_frame_end {
                    self.intervals
                        .push(end.duration_since(last).as_secs_f64() * 1000.0);
                }
                self.last_frame_end = Some(end);
                self.scroll += SCROLL_STEP;
                *frames += 1;
                if *frames >= SCROLL_FRAMES {
                    let on_list = matches!(
                        driver.state(),
                        State::Session { session, .. } if matches!(session.screen, Screen::Violations(_))
                    );
                    let mut iv = self.intervals.clone();
                    iv.sort_by(f64::total_cmp);
                    let mut b = self.build.clone();
                    b.sort_by(f64::total_cmp);
                    self.with_report(|r| {
                        r.scroll_frames = if on_list { iv.len() } else { 0 };
                        r.scroll_interval_ms_p50 = percentile(&iv, 0.5);
                        r.scroll_interval_ms_p90 = percentile(&iv, 0.9);
                        r.scroll_interval_ms_p99 = percentile(&iv, 0.99);
                        r.scroll_interval_ms_max = iv.last().copied().unwrap_or(0.0);
                        r.scroll_ui_ms_p50 = percentile(&b, 0.5);
                        r.scroll_ui_ms_p99 = percentile(&b, 0.99);
                    });
                    self.phase = Phase::Finished;
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                } else {
                    ctx.request_repaint();
                }
            }
            Phase::Finished => {}
        }
    }
}
