//! The kiosk flow: a pure state machine [`next`]`(state, event) -> (state, effects)` and the thin
//! [`Driver`] that executes the effects against the [ports](ports) and feeds the results back as
//! events. The UI draws [`State`] and sends [`Event::Ui`]; devices send card, scan and print events.

pub mod demo;
mod next;
pub mod ports;
mod state;

pub use next::next;
pub use state::*;

use std::collections::VecDeque;

use ports::{FaceVerifier, KioskBackend, Peripherals};

/// Executes effects against the ports, synchronously, feeding each result back into [`next`].
pub struct Driver {
    state: Option<State>,
    backend: Box<dyn KioskBackend + Send>,
    peripherals: Box<dyn Peripherals + Send>,
    face: Box<dyn FaceVerifier + Send>,
    /// Set when the last batch of effects wiped a session (the UI drops its copies).
    wiped: bool,
}

impl Driver {
    pub fn new(
        state: State,
        backend: Box<dyn KioskBackend + Send>,
        peripherals: Box<dyn Peripherals + Send>,
        face: Box<dyn FaceVerifier + Send>,
    ) -> Self {
        Driver {
            state: Some(state),
            backend,
            peripherals,
            face,
            wiped: false,
        }
    }

    pub fn state(&self) -> &State {
        self.state.as_ref().expect("the state is always put back")
    }

    /// True when the face verifier is a demo stand-in (the screen says so).
    pub fn face_is_demo(&self) -> bool {
        self.face.is_demo()
    }

    /// Whether a session was wiped since the last call (and reset the flag).
    pub fn take_wiped(&mut self) -> bool {
        std::mem::take(&mut self.wiped)
    }

    /// Feed one event, and every event its effects produce, through the flow.
    pub fn send(&mut self, event: Event) {
        let mut queue = VecDeque::from([event]);
        while let Some(event) = queue.pop_front() {
            let state = self.state.take().expect("the state is always put back");
            let (state, effects) = next(state, event);
            self.state = Some(state);
            for effect in effects {
                if let Some(result) = self.execute(effect) {
                    queue.push_back(result);
                }
            }
        }
    }

    fn execute(&mut self, effect: Effect) -> Option<Event> {
        let now = self.state().ctx().now;
        let b = &mut self.backend;
        Some(match effect {
            Effect::LoadPerson(id) => Event::PersonLoaded(b.person(&id, now)),
            Effect::VerifyFace(id) => Event::FaceChecked(self.face.verify(&id)),
            Effect::LoadViolations { id, plate } => {
                Event::ViolationsLoaded(b.violations(&id, &plate, now))
            }
            Effect::Handle {
                id,
                plate,
                violations,
                key,
            } => Event::Handled(b.handle(&id, &plate, &violations, &key, now)),
            Effect::Pay { decision } => Event::Paid(b.pay(&decision, now)),
            Effect::Print(doc) => Event::PrintFinished(self.peripherals.print(&doc)),
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
            Effect::Feedback { id, topic } => {
                Event::FeedbackSent(b.feedback(Some(&id), topic, now))
            }
            Effect::QueryHealth => Event::Health(self.peripherals.health()),
            Effect::SessionWiped => {
                self.wiped = true;
                return None;
            }
        })
    }
}

#[cfg(test)]
mod tests;
