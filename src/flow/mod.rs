//! The kiosk flow: a pure state machine [`next`]`(state, event) -> (state, effects)` and the thin
//! [`Driver`] that hands the effects to a worker thread executing them against the
//! [ports](ports); their results come back as events. The UI draws [`State`] and sends
//! [`Event::Ui`]; devices send card, scan and print events. The UI thread only ever runs `next`.

mod next;
pub mod observe;
pub mod ports;
mod staff;
mod state;

pub use next::next;
pub use state::*;

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use ports::{FaceVerifier, KioskBackend, Peripherals, StaffCaller};

/// After this long with a call outstanding, the screen shows that it is working (请稍候).
pub const BUSY_AFTER: SignedDuration = SignedDuration::from_millis(300);

/// Wakes the window when a result arrives (the UI asks egui for a repaint).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// The ports the worker executes effects against.
pub struct Ports {
    pub backend: Box<dyn KioskBackend + Send>,
    pub peripherals: Box<dyn Peripherals + Send>,
    pub face: Box<dyn FaceVerifier + Send>,
    /// 呼叫工作人员: who hall staff hear from ([`ports::NoStaffCaller`]: nobody).
    pub staff: Box<dyn StaffCaller + Send>,
}

/// An effect for the worker, tagged with the session generation it belongs to.
struct Job {
    generation: u64,
    now: Timestamp,
    effect: Effect,
}

/// A result from the worker.
struct Done {
    generation: u64,
    event: Option<Event>,
}

/// Runs [`next`] on the caller's thread and hands every effect to one worker thread that
/// executes them in order (FIFO) against the ports, so the caller (the UI thread) never waits
/// on I/O. Results come back through [`Driver::poll`] / [`Driver::settle`]; a result belonging
/// to a session that was wiped meanwhile is dropped.
pub struct Driver {
    state: Option<State>,
    face_demo: bool,
    jobs: Sender<Job>,
    results: Receiver<Done>,
    wake: Arc<Mutex<Option<Wake>>>,
    /// Bumped each time a session is wiped; effects carry the generation they were made in.
    generation: u64,
    /// Effects handed to the worker whose results have not come back yet.
    outstanding: usize,
    /// Of those, the background ones (the link probe): they never make the screen busy.
    background: usize,
    /// When (flow time) the oldest outstanding call started, for the busy state.
    busy_since: Option<Timestamp>,
    /// Set when a batch of effects wiped a session (the UI drops its copies).
    wiped: bool,
    /// Told each time remote settings are applied (the app's configuration hash).
    on_settings: Option<SettingsHook>,
}

/// What the driver calls when the flow applied remote settings.
pub type SettingsHook = Box<dyn Fn(&crate::config::RemoteSettings) + Send>;

impl Driver {
    /// Start the worker thread over `ports`.
    pub fn new(state: State, ports: Ports) -> Self {
        let face_demo = ports.face.is_demo();
        let (jobs, job_rx) = channel::<Job>();
        let (done_tx, results) = channel::<Done>();
        let wake: Arc<Mutex<Option<Wake>>> = Arc::default();
        let worker_wake = wake.clone();
        std::thread::Builder::new()
            .name("flow-worker".into())
            .spawn(move || {
                let mut ports = ports;
                // The watchdog: idle is alive, a call only up to its deadline.
                let heartbeat = crate::ops::watchdog::Heartbeat::register(
                    "flow-worker",
                    crate::ops::watchdog::Mode::OnDemand,
                );
                while let Ok(job) = job_rx.recv() {
                    let kind = observe::kind(&job.effect);
                    let started = Instant::now();
                    let busy = heartbeat.busy(observe::EFFECT_DEADLINE);
                    let event = execute(&mut ports, job.effect, job.now);
                    drop(busy);
                    observe::effect_done(kind, event.as_ref(), started.elapsed());
                    let sent = done_tx.send(Done {
                        generation: job.generation,
                        event,
                    });
                    if sent.is_err() {
                        break;
                    }
                    let wake = worker_wake.lock().ok().and_then(|w| w.clone());
                    if let Some(wake) = wake {
                        wake();
                    }
                }
            })
            .expect("spawn the flow worker thread");
        Driver {
            state: Some(state),
            face_demo,
            jobs,
            results,
            wake,
            generation: 0,
            outstanding: 0,
            background: 0,
            busy_since: None,
            wiped: false,
            on_settings: None,
        }
    }

    /// Call `hook` each time the flow applies remote settings.
    pub fn on_settings_applied(&mut self, hook: SettingsHook) {
        self.on_settings = Some(hook);
    }

    pub fn state(&self) -> &State {
        self.state.as_ref().expect("the state is always put back")
    }

    /// True when the face verifier is a demo stand-in (the screen says so).
    pub fn face_is_demo(&self) -> bool {
        self.face_demo
    }

    /// Called by the worker after each result (the UI passes a repaint request).
    pub fn set_wake(&self, wake: Wake) {
        if let Ok(mut w) = self.wake.lock() {
            *w = Some(wake);
        }
    }

    /// Whether a session was wiped since the last call (and reset the flag).
    pub fn take_wiped(&mut self) -> bool {
        std::mem::take(&mut self.wiped)
    }

    /// Calls handed to the worker and not answered yet.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// A call has been outstanding for [`BUSY_AFTER`] or longer at `now` (flow time).
    pub fn busy(&self, now: Timestamp) -> bool {
        self.busy_since
            .is_some_and(|since| now.duration_since(since) >= BUSY_AFTER)
    }

    /// How long until [`Driver::busy`] turns true, while a call is outstanding.
    pub fn busy_in(&self, now: Timestamp) -> Option<SignedDuration> {
        self.busy_since
            .map(|since| (BUSY_AFTER - now.duration_since(since)).max(SignedDuration::ZERO))
    }

    /// Feed one event through the flow; its effects go to the worker. Never blocks.
    pub fn send(&mut self, event: Event) {
        let state = self.state.take().expect("the state is always put back");
        let tick = matches!(event, Event::Tick(_));
        let before = state.ctx().message.clone();
        let (state, effects) = next(state, event);
        observe::stepped(
            tick,
            &effects,
            before.as_ref(),
            state.ctx().message.as_ref(),
        );
        self.state = Some(state);
        for effect in effects {
            self.dispatch(effect);
        }
    }

    fn dispatch(&mut self, effect: Effect) {
        if effect == Effect::SessionWiped {
            self.generation += 1;
            self.wiped = true;
            return;
        }
        if let Effect::SettingsApplied(s) = &effect {
            if let Some(f) = &self.on_settings {
                f(s);
            }
            return;
        }
        let now = self.state().ctx().now;
        // The link probe and a staff call never make the screen busy (a staff call says
        // 正在呼叫工作人员… in the message strip instead).
        let background = matches!(effect, Effect::ProbeLink | Effect::CallStaff(_));
        let job = Job {
            generation: self.generation,
            now,
            effect,
        };
        if self.jobs.send(job).is_err() {
            tracing::error!("the flow worker stopped; effect dropped");
            return;
        }
        if background {
            self.background += 1;
        } else if self.outstanding == self.background {
            self.busy_since = Some(now);
        }
        self.outstanding += 1;
    }

    /// Take the results that have arrived, without waiting.
    pub fn poll(&mut self) {
        loop {
            match self.results.try_recv() {
                Ok(done) => self.receive(done),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    self.worker_gone();
                    return;
                }
            }
        }
    }

    /// Wait until every call handed to the worker (and every call their results lead to) has
    /// answered, or `timeout` passed. Returns whether everything answered. Tests and the
    /// benchmark use it instead of sleeping.
    pub fn settle(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.outstanding > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.results.recv_timeout(left) {
                Ok(done) => self.receive(done),
                Err(RecvTimeoutError::Timeout) => return false,
                Err(RecvTimeoutError::Disconnected) => {
                    self.worker_gone();
                    return false;
                }
            }
        }
        true
    }

    fn worker_gone(&mut self) {
        if self.outstanding > 0 {
            tracing::error!("the flow worker stopped with calls outstanding");
        }
        self.outstanding = 0;
        self.background = 0;
        self.busy_since = None;
    }

    fn receive(&mut self, done: Done) {
        self.outstanding = self.outstanding.saturating_sub(1);
        let background = matches!(
            done.event,
            Some(Event::LinkChecked(_) | Event::StaffCallAnswered(_))
        );
        if background {
            self.background = self.background.saturating_sub(1);
        }
        let now = self.state().ctx().now;
        if self.outstanding == self.background {
            self.busy_since = None;
        } else if !background {
            self.busy_since = Some(now);
        }
        // A print's outcome, the devices' health and the link's state hold no personal data and belong to the
        // operator's record: they are kept. Anything else from a wiped session is dropped.
        let Some(event) = done.event else { return };
        let keep = matches!(
            event,
            Event::PrintFinished(_)
                | Event::Health(_)
                | Event::LinkChecked(_)
                | Event::OperatorPinChecked(_)
        );
        if done.generation != self.generation && !keep {
            tracing::debug!("result of a wiped session dropped");
            return;
        }
        self.send(event);
    }
}

/// Execute one effect against the ports (on the worker thread).
fn execute(p: &mut Ports, effect: Effect, now: Timestamp) -> Option<Event> {
    let b = &mut p.backend;
    Some(match effect {
        Effect::LoadPerson(id) => Event::PersonLoaded(b.person(&id, now)),
        Effect::VerifyFace(id) => Event::FaceChecked(p.face.verify(&id)),
        Effect::LoadViolations { id, plate } => {
            Event::ViolationsLoaded(b.violations(&id, &plate, now))
        }
        Effect::Handle {
            id,
            plate,
            violations,
            key,
        } => Event::Handled(b.handle(&id, &plate, &violations, &key, now)),
        Effect::PaymentOrder { decision } => Event::PaymentOrdered(b.payment_order(&decision, now)),
        Effect::Pay { decision } => Event::Paid(b.pay(&decision, now)),
        Effect::Print(doc) => Event::PrintFinished(p.peripherals.print(&doc)),
        Effect::LoadFilings(id) => Event::FilingsLoaded(b.filings(&id, now)),
        Effect::CheckFilingQr { id, token } => {
            Event::FilingChecked(b.check_filing_qr(&id, &token, now))
        }
        Effect::RequestOwnerCode { id, plate } => Event::OwnerCodeSent(
            b.request_owner_code(&id, &plate, now)
                .map(|sent| (plate.clone(), sent)),
        ),
        Effect::CheckOwnerCode { id, plate, code } => {
            Event::FilingChecked(b.check_owner_code(&id, &plate, &code, now))
        }
        Effect::SubmitFiling { id, candidate } => {
            Event::FilingSubmitted(b.submit_filing(&id, &candidate, now))
        }
        Effect::Unfile { id, filing } => Event::Unfiled(b.unfile(&id, &filing, now)),
        Effect::RequestRegisterCode { id, phone } => {
            Event::RegisterCodeSent(b.request_register_code(&id, phone.expose(), now))
        }
        Effect::Register { id, phone, code } => {
            Event::Registered(b.register(&id, phone.expose(), &code, now))
        }
        Effect::Feedback { id, topic } => Event::FeedbackSent(b.feedback(Some(&id), topic, now)),
        Effect::QueryHealth => Event::Health(p.peripherals.health()),
        Effect::ProbeLink => Event::LinkChecked(b.link_up(now)),
        Effect::CallStaff(call) => {
            Event::StaffCallAnswered(p.staff.call(&call, ports::STAFF_CALL_DEADLINE))
        }
        Effect::VerifyOperatorPin { entered, secret } => {
            Event::OperatorPinChecked(secret.matches(entered.expose()))
        }
        Effect::RecordOperatorEvent { kind, detail } => {
            b.record_event(kind, &detail, now);
            return None;
        }
        Effect::UsePolicy(text) => {
            match text.as_deref().map(crate::rules::PolicyBook::parse) {
                None => b.use_policy(None),
                Some(Ok(book)) => b.use_policy(Some(book)),
                // Checked when the settings were accepted; kept as it was if not.
                Some(Err(e)) => {
                    tracing::error!(error = %e, "remote policy not applied");
                }
            }
            return None;
        }
        // Handled by the driver itself; never reaches the worker.
        Effect::SessionWiped | Effect::SettingsApplied(_) => return None,
    })
}

#[cfg(test)]
mod tests;
