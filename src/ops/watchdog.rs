//! The systemd watchdog. Each thread that must keep moving holds a [`Heartbeat`]: the UI loop
//! (periodic: it must beat within [`Supervisor`]'s staleness bound; the supervisor pokes it, i.e.
//! asks for a repaint, at each check so an idle screen still draws a frame), the flow worker
//! (on demand: idle is alive; busy on a call is alive up to that call's own deadline), the device
//! threads (periodic: they loop on 2 s reads). The supervisor thread checks every
//! `WatchdogSec / 3` and sends `WATCHDOG=1` only when every live heartbeat is alive; a frozen UI
//! or a stuck worker stops the pings and systemd restarts the kiosk. `READY=1` goes once, after
//! the first painted frame ([`ready`]). Without `NOTIFY_SOCKET` / `WATCHDOG_USEC` nothing is sent.
//!
//! Heartbeats register themselves in a process-wide list of weak references: a thread that ended
//! drops its heartbeat and leaves the list.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Once, Weak};
use std::time::{Duration, Instant};

/// The process's monotonic origin of every heartbeat time.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
static REGISTRY: Mutex<Vec<Weak<Heartbeat>>> = Mutex::new(Vec::new());
static READY: Once = Once::new();

fn now_ms() -> u64 {
    u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX)
}

const IDLE: u64 = u64::MAX;

/// How a heartbeat shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Must beat within the supervisor's staleness bound (a loop: the UI, a device thread).
    Periodic,
    /// Waiting for work is alive; a call in progress is alive up to its deadline (the worker).
    OnDemand,
}

/// Asks a periodic thread to show progress (the UI: request a repaint).
pub type Poke = Box<dyn Fn() + Send + Sync>;

/// One thread's sign of life. Its name is a thread kind (`ui`, `flow-worker`, `id-card-reader`),
/// never anything about a person.
pub struct Heartbeat {
    name: &'static str,
    mode: Mode,
    /// When it last beat (ms since [`EPOCH`]).
    last: AtomicU64,
    /// While busy: the instant (ms) after which it counts as stuck; [`IDLE`] otherwise.
    busy_until: AtomicU64,
    poke: Mutex<Option<Poke>>,
}

impl std::fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heartbeat")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .finish()
    }
}

impl Heartbeat {
    /// A new heartbeat, registered with the supervisor (as long as the returned `Arc` lives).
    pub fn register(name: &'static str, mode: Mode) -> Arc<Heartbeat> {
        let hb = Arc::new(Self::unregistered(name, mode));
        if let Ok(mut r) = REGISTRY.lock() {
            r.retain(|w| w.strong_count() > 0);
            r.push(Arc::downgrade(&hb));
        }
        hb
    }

    /// A heartbeat the supervisor does not see (tests of the rule).
    pub fn unregistered(name: &'static str, mode: Mode) -> Heartbeat {
        Heartbeat {
            name,
            mode,
            last: AtomicU64::new(now_ms()),
            busy_until: AtomicU64::new(IDLE),
            poke: Mutex::new(None),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Progress.
    pub fn beat(&self) {
        self.last.store(now_ms(), Ordering::Relaxed);
    }

    /// Busy on one call that answers within `deadline`: alive until then, stuck after. Idle (and
    /// a beat) again when the guard drops.
    pub fn busy(&self, deadline: Duration) -> Busy<'_> {
        let until = now_ms().saturating_add(u64::try_from(deadline.as_millis()).unwrap_or(IDLE));
        self.busy_until
            .store(until.min(IDLE - 1), Ordering::Relaxed);
        Busy(self)
    }

    /// How the supervisor asks this thread to show progress (the UI's repaint request).
    pub fn set_poke(&self, poke: Poke) {
        if let Ok(mut p) = self.poke.lock() {
            *p = Some(poke);
        }
    }

    fn poke(&self) {
        if let Ok(p) = self.poke.lock()
            && let Some(p) = p.as_ref()
        {
            p();
        }
    }

    /// Alive at `now_ms`: busy within its deadline, or (periodic) beat within `stale_after`, or
    /// (on demand) idle.
    fn alive_at(&self, now: u64, stale_after: Duration) -> bool {
        let busy_until = self.busy_until.load(Ordering::Relaxed);
        if busy_until != IDLE {
            return now <= busy_until;
        }
        match self.mode {
            Mode::OnDemand => true,
            Mode::Periodic => {
                let stale = u64::try_from(stale_after.as_millis()).unwrap_or(IDLE);
                now.saturating_sub(self.last.load(Ordering::Relaxed)) <= stale
            }
        }
    }

    /// Alive now (see [`Supervisor`]).
    pub fn alive(&self, stale_after: Duration) -> bool {
        self.alive_at(now_ms(), stale_after)
    }
}

/// A call in progress on a heartbeat's thread (see [`Heartbeat::busy`]).
pub struct Busy<'a>(&'a Heartbeat);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy_until.store(IDLE, Ordering::Relaxed);
        self.0.beat();
    }
}

/// The heartbeats that are not alive among `beats` (their names).
pub fn stuck(beats: &[Arc<Heartbeat>], stale_after: Duration) -> Vec<&'static str> {
    let now = now_ms();
    beats
        .iter()
        .filter(|b| !b.alive_at(now, stale_after))
        .map(|b| b.name)
        .collect()
}

/// Every registered heartbeat still held by its thread.
pub fn registered() -> Vec<Arc<Heartbeat>> {
    REGISTRY
        .lock()
        .map(|r| r.iter().filter_map(Weak::upgrade).collect())
        .unwrap_or_default()
}

/// Tell systemd the kiosk is up (`READY=1`), once per process. Without `NOTIFY_SOCKET`: nothing.
pub fn ready() {
    READY.call_once(
        || match sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
            Ok(()) => tracing::info!("READY=1 sent to the service manager"),
            Err(e) => tracing::warn!(error = %e, "READY=1 not sent"),
        },
    );
}

/// Whether [`ready`] was sent.
pub fn is_ready() -> bool {
    READY.is_completed()
}

/// The thread that pings systemd while every heartbeat is alive.
#[derive(Debug, Clone, Copy)]
pub struct Supervisor {
    /// How often it checks and pings: `WatchdogSec / 3`.
    pub every: Duration,
    /// A periodic heartbeat older than this is stuck: 1.5 × `every` (one poke and its answer).
    pub stale_after: Duration,
}

impl Supervisor {
    /// From systemd's `WATCHDOG_USEC` (and `WATCHDOG_PID`); `None` when no watchdog is asked.
    /// `WATCHDOG_PID` may name this process or its parent: under `cage` (kiosk.service) systemd's
    /// main process is the compositor, which runs the kiosk as its child.
    pub fn from_env() -> Option<Self> {
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
        let pid_ok = match std::env::var("WATCHDOG_PID") {
            Err(_) => true,
            Ok(p) => p
                .trim()
                .parse::<u32>()
                .is_ok_and(|p| p == std::process::id() || p == std::os::unix::process::parent_id()),
        };
        (pid_ok && usec > 0).then(|| Self::for_watchdog(Duration::from_micros(usec)))
    }

    pub fn for_watchdog(timeout: Duration) -> Self {
        let every = (timeout / 3).max(Duration::from_millis(10));
        Supervisor {
            every,
            stale_after: every + every / 2,
        }
    }

    /// One check: the stuck heartbeats' names (empty: healthy, and `WATCHDOG=1` was sent when
    /// the kiosk is ready); then every heartbeat is poked for the next check.
    pub fn check(&self) -> Vec<&'static str> {
        let beats = registered();
        let stuck = stuck(&beats, self.stale_after);
        if stuck.is_empty() {
            if is_ready()
                && let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Watchdog])
            {
                tracing::warn!(error = %e, "WATCHDOG=1 not sent");
            }
        } else {
            tracing::error!(stuck = ?stuck, "no progress: watchdog pings withheld");
        }
        for b in &beats {
            b.poke();
        }
        stuck
    }

    /// Start the supervisor thread (until `stop`).
    pub fn spawn(self, stop: Arc<AtomicBool>) -> std::io::Result<std::thread::JoinHandle<()>> {
        tracing::info!(
            every_ms = self.every.as_millis() as u64,
            "systemd watchdog on"
        );
        std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = self.check();
                    let until = Instant::now() + self.every;
                    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(self.every.min(Duration::from_millis(100)));
                    }
                }
            })
    }
}

/// Start the supervisor when systemd asked for a watchdog (`WATCHDOG_USEC`); else nothing.
pub fn spawn_if_enabled(stop: Arc<AtomicBool>) -> Option<std::thread::JoinHandle<()>> {
    let sup = Supervisor::from_env()?;
    match sup.spawn(stop) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the watchdog thread");
            None
        }
    }
}

/// Fault injection for the bench: `KIOSK_HANG_UI_AFTER_SECS=N` makes the UI loop hang for good
/// N seconds after start (so the pings stop and systemd restarts the kiosk). Read once.
pub fn hang_ui_if_asked() {
    static AFTER: LazyLock<Option<Duration>> = LazyLock::new(|| {
        std::env::var("KIOSK_HANG_UI_AFTER_SECS")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    });
    if let Some(after) = *AFTER
        && EPOCH.elapsed() >= after
    {
        tracing::error!("KIOSK_HANG_UI_AFTER_SECS: the UI loop hangs now (fault injection)");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE: Duration = Duration::from_millis(100);

    #[test]
    fn a_periodic_heartbeat_goes_stale_without_beats() {
        let ui = Arc::new(Heartbeat::unregistered("ui", Mode::Periodic));
        assert!(stuck(std::slice::from_ref(&ui), STALE).is_empty());
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(stuck(std::slice::from_ref(&ui), STALE), vec!["ui"]);
        ui.beat();
        assert!(stuck(&[ui], STALE).is_empty());
    }

    #[test]
    fn an_idle_worker_is_alive_and_a_busy_one_only_up_to_its_deadline() {
        let w = Arc::new(Heartbeat::unregistered("flow-worker", Mode::OnDemand));
        std::thread::sleep(Duration::from_millis(150));
        assert!(
            stuck(std::slice::from_ref(&w), STALE).is_empty(),
            "idle is alive"
        );
        {
            let _call = w.busy(Duration::from_millis(300));
            std::thread::sleep(Duration::from_millis(150));
            assert!(
                stuck(std::slice::from_ref(&w), STALE).is_empty(),
                "within its deadline"
            );
            std::thread::sleep(Duration::from_millis(250));
            assert_eq!(stuck(std::slice::from_ref(&w), STALE), vec!["flow-worker"]);
        }
        assert!(stuck(&[w], STALE).is_empty(), "answered: alive again");
    }

    #[test]
    fn the_check_interval_is_a_third_of_the_watchdog() {
        let s = Supervisor::for_watchdog(Duration::from_secs(30));
        assert_eq!(s.every, Duration::from_secs(10));
        assert_eq!(s.stale_after, Duration::from_secs(15));
    }
}
