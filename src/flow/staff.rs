//! 呼叫工作人员 in the flow: the touch becomes [`Effect::CallStaff`] with the step and a reason
//! code (never personal data), the worker's answer becomes the message strip's honest word —
//! sending, delivered, not delivered — and a second touch while a call is outstanding, or within
//! [`STAFF_CALL_REPEAT_AFTER`] of a delivered one, sends nothing and says so.

use super::ports::{
    BackendError, FaceOutcome, PayError, PrintOutcome, StaffCall, StaffCallOutcome,
    StaffCallReason, StaffCallStep,
};
use super::state::*;

/// The person touched 呼叫工作人员.
pub(super) fn call_staff(mut state: State, fx: &mut Vec<Effect>) -> State {
    let call = StaffCall {
        reason: reason_of(&state),
        step: step_of(&state),
        at: state.ctx().now,
    };
    let ctx = state.ctx_mut();
    ctx.last_input = ctx.now;
    match ctx.staff_call {
        StaffCallState::Sending => {
            ctx.message = Some(Message::StaffCall(StaffCallNotice::Sending));
        }
        StaffCallState::Delivered { at }
            if ctx.now.duration_since(at) < STAFF_CALL_REPEAT_AFTER =>
        {
            ctx.message = Some(Message::StaffCall(StaffCallNotice::AlreadySent));
        }
        _ => {
            tracing::info!(
                reason = call.reason.code(),
                step = call.step.code(),
                "staff called to the kiosk"
            );
            ctx.record_error(format!(
                "staff called (呼叫工作人员): {} at {}",
                call.reason.code(),
                call.step.code()
            ));
            ctx.staff_call = StaffCallState::Sending;
            ctx.message = Some(Message::StaffCall(StaffCallNotice::Sending));
            fx.push(Effect::CallStaff(call));
        }
    }
    state
}

/// The worker's answer.
pub(super) fn answered(mut state: State, outcome: StaffCallOutcome) -> State {
    let ctx = state.ctx_mut();
    if ctx.staff_call != StaffCallState::Sending {
        // The session that called ended meanwhile (the driver drops those answers): nothing to say.
        return state;
    }
    match outcome {
        StaffCallOutcome::Delivered => {
            ctx.staff_call = StaffCallState::Delivered { at: ctx.now };
            ctx.message = Some(Message::StaffCall(StaffCallNotice::Delivered));
        }
        StaffCallOutcome::NotDelivered(why) => {
            ctx.record_error(format!("staff call not delivered: {why}"));
            ctx.staff_call = StaffCallState::NotDelivered;
            ctx.message = Some(Message::StaffCall(StaffCallNotice::NotDelivered));
        }
    }
    state
}

impl Ctx {
    /// The staff call's standing word for the message strip, kept after the next touch clears
    /// the message: calling, told (for [`STAFF_CALL_REPEAT_AFTER`]), or go to the window (until
    /// the session ends or a new call is made).
    pub fn staff_call_notice(&self) -> Option<Message> {
        let n = match self.staff_call {
            StaffCallState::None => return None,
            StaffCallState::Sending => StaffCallNotice::Sending,
            StaffCallState::Delivered { at } => {
                if self.now.duration_since(at) >= STAFF_CALL_REPEAT_AFTER {
                    return None;
                }
                StaffCallNotice::Delivered
            }
            StaffCallState::NotDelivered => StaffCallNotice::NotDelivered,
        };
        Some(Message::StaffCall(n))
    }
}

/// Why staff are needed, from what the screen shows now.
fn reason_of(state: &State) -> StaffCallReason {
    let ctx = state.ctx();
    match &ctx.message {
        Some(Message::Face(FaceOutcome::ServiceUnavailable)) => {
            return StaffCallReason::FaceServiceDown;
        }
        Some(Message::Face(FaceOutcome::NoMatch)) => return StaffCallReason::FaceNoMatch,
        Some(Message::Face(FaceOutcome::Unavailable)) => return StaffCallReason::CameraFailed,
        Some(Message::Refused(_) | Message::Maintenance { .. }) => {
            return StaffCallReason::Refusal;
        }
        Some(
            Message::Offline
            | Message::Backend(BackendError::Offline(_))
            | Message::Pay(PayError::Backend(BackendError::Offline(_))),
        ) => return StaffCallReason::Offline,
        Some(Message::Pay(_) | Message::PayRefused(_)) => return StaffCallReason::PaymentProblem,
        _ => {}
    }
    if !ctx.online {
        return StaffCallReason::Offline;
    }
    let Some(s) = state.session() else {
        return StaffCallReason::Help;
    };
    match &s.screen {
        Screen::Face { attempts, .. } if *attempts > 0 => StaffCallReason::FaceNoMatch,
        Screen::Violations(_) | Screen::Notices { .. } => StaffCallReason::Refusal,
        Screen::Payment { .. } => StaffCallReason::PaymentProblem,
        Screen::Done { printed, .. } if *printed != PrintOutcome::Printed => {
            StaffCallReason::PrinterProblem
        }
        _ => StaffCallReason::Help,
    }
}

/// The step the person is at.
fn step_of(state: &State) -> StaffCallStep {
    let Some(s) = state.session() else {
        return StaffCallStep::Card;
    };
    match &s.screen {
        Screen::LoadingPerson | Screen::Identity | Screen::Unavailable => StaffCallStep::Card,
        Screen::Face { .. } => StaffCallStep::Face,
        Screen::Services | Screen::DownloadApp | Screen::Help => StaffCallStep::Services,
        Screen::ChooseVehicle | Screen::Violations(_) => StaffCallStep::Violations,
        Screen::Notices { .. } => StaffCallStep::Notices,
        Screen::Payment { .. } => StaffCallStep::Payment,
        Screen::Printing { .. } | Screen::Done { .. } => StaffCallStep::Receipt,
        Screen::Filings(_)
        | Screen::FilingEntry(_)
        | Screen::FilingConfirm(_)
        | Screen::FilingSubmitted(_) => StaffCallStep::Filing,
        Screen::Register { .. } => StaffCallStep::Register,
        Screen::Feedback { .. } => StaffCallStep::Feedback,
    }
}

#[cfg(test)]
#[path = "staff_tests.rs"]
mod tests;
