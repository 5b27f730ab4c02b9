//! The kiosk's metrics, recorded where the effects run (the worker) and where the driver sees
//! the flow's decisions, never inside the pure `next`. Labels are kinds and reason codes only.

use std::time::Duration;

use super::ports::{BackendError, FilingError, PaperStatus, PayError, PrintOutcome};
use super::{Effect, Event, Message};
use crate::ops::metrics::kiosk;

/// How long the worker may be busy on one effect before the watchdog counts it as stuck: the
/// remote platform's calls take up to 10 s each with their retries, the printer answers in 4 s.
pub const EFFECT_DEADLINE: Duration = Duration::from_secs(60);

/// The effect's kind, a fixed code (also the `op` of the platform-call histogram).
pub fn kind(effect: &Effect) -> &'static str {
    match effect {
        Effect::LoadPerson(_) => "person",
        Effect::VerifyFace(_) => "face",
        Effect::LoadViolations { .. } => "violations",
        Effect::Handle { .. } => "handle",
        Effect::PaymentOrder { .. } => "payment_order",
        Effect::Pay { .. } => "pay",
        Effect::Print(_) => "print",
        Effect::LoadFilings(_) => "filings",
        Effect::CheckFilingQr { .. } => "check_filing_qr",
        Effect::RequestOwnerCode { .. } => "request_owner_code",
        Effect::CheckOwnerCode { .. } => "check_owner_code",
        Effect::SubmitFiling { .. } => "file",
        Effect::Unfile { .. } => "unfile",
        Effect::RequestRegisterCode { .. } => "request_register_code",
        Effect::Register { .. } => "register",
        Effect::Feedback { .. } => "feedback",
        Effect::QueryHealth => "health",
        Effect::ProbeLink => "probe_link",
        Effect::CallStaff(_) => "call_staff",
        Effect::VerifyOperatorPin { .. } => "verify_operator_pin",
        Effect::RecordOperatorEvent { .. } => "operator_event",
        Effect::SessionWiped => "session_wiped",
        Effect::SettingsApplied(_) => "settings_applied",
        Effect::UsePolicy(_) => "use_policy",
    }
}

/// A variant's name in snake case (`AlreadyPaid` → `already_paid`), never its fields.
fn code_of(debug: &str) -> String {
    let name: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn backend(e: &BackendError) -> String {
    code_of(&format!("{e:?}"))
}

/// After the worker ran `effect` (which took `took`) and got `event`.
pub fn effect_done(kind: &'static str, event: Option<&Event>, took: Duration) {
    let m = kiosk();
    let platform = !matches!(
        kind,
        "print" | "face" | "health" | "session_wiped" | "verify_operator_pin" | "call_staff"
    );
    if platform {
        m.platform_call(kind, took);
    }
    let Some(event) = event else { return };
    match event {
        Event::Handled(Ok(_)) => m.task_completed("handle"),
        Event::Paid(Ok(view)) => {
            m.task_completed("pay");
            m.paid(view.amount.as_fen());
        }
        Event::PrintFinished(outcome) => match outcome {
            PrintOutcome::Printed => m.task_completed("print"),
            PrintOutcome::OutOfPaper => {
                m.print_failed("out_of_paper");
                m.paper("out");
            }
            PrintOutcome::Failed(f) => m.print_failed(&code_of(&format!("{:?}", f.kind))),
        },
        Event::FilingSubmitted(Ok(_)) => m.task_completed("file"),
        Event::Unfiled(Ok(())) => m.task_completed("unfile"),
        Event::Registered(Ok(())) => m.task_completed("register"),
        Event::FeedbackSent(Ok(_)) => m.task_completed("feedback"),
        Event::StaffCallAnswered(super::ports::StaffCallOutcome::Delivered) => {
            m.task_completed("call_staff")
        }
        Event::Health(h) => {
            m.device("reader", h.reader.is_ok());
            m.device("scanner", h.scanner.is_ok());
            m.device("printer", h.printer.is_ok());
            m.paper(match h.paper {
                PaperStatus::Ok => "ok",
                PaperStatus::Low => "low",
                PaperStatus::Out => "out",
            });
        }
        _ => {}
    }
}

/// The reason codes of a refusal the person is shown (the rule core's, the payment's, the
/// filing's, the platform's), empty for any other message.
fn refusal_codes(message: &Message) -> Vec<String> {
    match message {
        Message::Refused(decisions) => decisions
            .iter()
            .flat_map(|d| d.reasons.iter().map(|r| r.code().to_string()))
            .collect(),
        Message::PayRefused(r) | Message::Pay(PayError::Refused(r)) => {
            vec![code_of(&format!("{r:?}"))]
        }
        Message::Pay(PayError::Backend(e)) | Message::Backend(e) => match e {
            BackendError::NotRegistered
            | BackendError::WrongCode { .. }
            | BackendError::NotFound
            | BackendError::TryLater { .. } => vec![backend(e)],
            _ => Vec::new(),
        },
        Message::Filing(FilingError::Refused(r)) => vec![code_of(&format!("{r:?}"))],
        Message::Filing(FilingError::Backend(e)) => vec![backend(e)],
        Message::Filing(other) => vec![code_of(&format!("{other:?}"))],
        Message::Maintenance { .. } => vec!["maintenance_window".into()],
        _ => Vec::new(),
    }
}

/// The driver fed `event` to the flow and got `effects`, the message going from `before` to
/// `after`: sessions started and ended, refusals shown (each once, when it appears).
pub fn stepped(
    event_was_tick: bool,
    effects: &[Effect],
    before: Option<&Message>,
    after: Option<&Message>,
) {
    let m = kiosk();
    if let Some(after) = after
        && before != Some(after)
    {
        for code in refusal_codes(after) {
            m.refused(&code);
        }
    }
    for e in effects {
        match e {
            Effect::LoadPerson(_) => {
                m.sessions_started.inc();
            }
            Effect::SessionWiped if event_was_tick => {
                m.sessions_timed_out.inc();
            }
            Effect::SessionWiped => {
                m.sessions_finished.inc();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_code_is_the_variant_name_without_its_fields() {
        assert_eq!(super::code_of("AlreadyPaid"), "already_paid");
        assert_eq!(super::code_of("Unavailable(\"渝A8K2L6\")"), "unavailable");
        assert_eq!(super::code_of("NotRegistered"), "not_registered");
    }
}
