//! Pure tests of 呼叫工作人员 in the flow: the effect carries codes only, the message strip says
//! what happened, and a call is not sent twice.

use crate::domain::StatusSet;
use crate::flow::ports::{
    FaceOutcome, PersonView, StaffCallOutcome, StaffCallReason, StaffCallStep,
};
use crate::flow::tests::{Pure, card};
use crate::flow::*;
use crate::privacy::Masked;
use crate::rules::DriverFacts;

const DAY: &str = "2026-11-25T10:00:00+08:00";

fn person() -> PersonView {
    PersonView {
        name: Masked::new("李小红".to_string()),
        phone: Some(Masked::new("13800001111".to_string())),
        registered: true,
        driver: DriverFacts::without_licence(),
        licence_first_issued: None,
        licence_status: StatusSet::default(),
        vehicles: Vec::new(),
    }
}

/// 呼叫工作人员 on the flow alone.
impl Pure {
    /// A session on the face screen whose verification service did not answer.
    fn on_face_with_service_down() -> Pure {
        let mut k = Pure::at(DAY);
        k.send(Event::CardPlaced(card()))
            .send(Event::PersonLoaded(Ok(person())))
            .send(Event::Ui(Action::Continue))
            .send(Event::FaceChecked(FaceOutcome::ServiceUnavailable));
        assert!(matches!(
            k.state().session().unwrap().screen,
            Screen::Face { attempts: 1, .. }
        ));
        k.effects.clear();
        k
    }
    fn call(&mut self) -> &mut Self {
        self.send(Event::Ui(Action::CallStaff))
    }
    /// The staff calls asked for since the effects were last taken.
    fn calls(&mut self) -> Vec<ports::StaffCall> {
        let calls = self
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::CallStaff(c) => Some(*c),
                _ => None,
            })
            .collect();
        self.effects.clear();
        calls
    }
}

#[test]
fn calling_staff_on_the_face_screen_sends_the_step_and_reason_and_says_it_is_calling() {
    let mut k = Pure::on_face_with_service_down();
    k.call();
    let calls = k.calls();
    assert_eq!(calls.len(), 1, "one call");
    assert_eq!(calls[0].reason, StaffCallReason::FaceServiceDown);
    assert_eq!(calls[0].step, StaffCallStep::Face);
    assert_eq!(calls[0].at, k.now);
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::Sending))
    );
    // Nothing personal in what leaves the flow.
    let sent = format!("{calls:?}");
    for personal in ["李小红", "50010619851120002X", "13800001111", "沙坪坝"] {
        assert!(!sent.contains(personal), "{sent}");
    }
    // Still on the face screen: the person can retry while staff come.
    assert!(matches!(
        k.state().session().unwrap().screen,
        Screen::Face { .. }
    ));
}

#[test]
fn a_delivered_call_says_staff_were_told_and_is_not_sent_again_for_two_minutes() {
    let mut k = Pure::on_face_with_service_down();
    k.call();
    assert_eq!(k.calls().len(), 1);
    // Touched again while outstanding: nothing more is sent.
    k.call();
    assert!(
        k.calls().is_empty(),
        "a second call while one is outstanding"
    );
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::Sending))
    );
    k.send(Event::StaffCallAnswered(StaffCallOutcome::Delivered));
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::Delivered))
    );
    // The next touch clears the message; the strip keeps saying staff were told.
    k.send(Event::Ui(Action::StillHere));
    assert_eq!(k.message(), None);
    assert_eq!(
        k.state().ctx().staff_call_notice(),
        Some(Message::StaffCall(StaffCallNotice::Delivered))
    );
    // Within two minutes: said to be sent already, not sent.
    // (a touch in between: the idle timeout would end the session first)
    k.wait(60)
        .send(Event::Ui(Action::StillHere))
        .wait(59)
        .call();
    assert!(k.calls().is_empty(), "a second call within 2 minutes");
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::AlreadySent))
    );
    // After two minutes the standing word goes, and a new call goes out.
    k.wait(1);
    assert_eq!(k.state().ctx().staff_call_notice(), None);
    k.call();
    assert_eq!(k.calls().len(), 1, "a new call after 2 minutes");
}

#[test]
fn a_call_that_did_not_get_through_sends_the_person_to_the_window_and_may_be_tried_again() {
    let mut k = Pure::on_face_with_service_down();
    k.call();
    assert_eq!(k.calls().len(), 1);
    k.send(Event::StaffCallAnswered(StaffCallOutcome::NotDelivered(
        "timeout".into(),
    )));
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::NotDelivered))
    );
    assert!(
        k.state()
            .ctx()
            .recent_errors
            .iter()
            .any(|e| e.contains("staff call not delivered")),
        "{:?}",
        k.state().ctx().recent_errors
    );
    k.call();
    assert_eq!(k.calls().len(), 1, "tried again at once");
}

#[test]
fn a_new_session_may_call_staff_at_once_and_a_late_answer_of_the_old_one_says_nothing() {
    let mut k = Pure::on_face_with_service_down();
    k.call();
    k.send(Event::StaffCallAnswered(StaffCallOutcome::Delivered));
    k.calls();
    k.send(Event::CardRemoved);
    assert_eq!(k.state().ctx().staff_call, StaffCallState::None);
    // An answer arriving on the attract screen changes nothing.
    k.send(Event::StaffCallAnswered(StaffCallOutcome::Delivered));
    assert_eq!(k.message(), Some(Message::SessionEnded));
    // The next person's call goes out within the two minutes.
    k.send(Event::CardPlaced(card()))
        .send(Event::PersonLoaded(Ok(person())));
    k.effects.clear();
    k.call();
    let calls = k.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].step, StaffCallStep::Card);
    assert_eq!(calls[0].reason, StaffCallReason::Help);
}
