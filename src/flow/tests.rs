//! The flow, driven without a window: every service end to end against the demo platform.

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::demo::{self, DemoBackend, DemoFaceVerifier, DemoPeripherals, Outbox, PrintedReceipts};
use super::ports::*;
use super::*;
use crate::config::KioskConfig;
use crate::domain::{Fen, Plate};
use crate::rules::Reason;
use crate::rules::filing::{FilingMethod, FilingRefusal};
use crate::rules::payment::PaymentRefusal;

/// 10:00 in Chongqing, outside the maintenance window.
const DAY: &str = "2026-11-25T10:00:00+08:00";
/// 23:00 in Chongqing, inside the maintenance window (六.7).
const NIGHT: &str = "2026-11-25T23:00:00+08:00";

struct Kiosk {
    driver: Driver,
    now: Timestamp,
    outbox: Outbox,
    printed: PrintedReceipts,
    out_of_paper: std::sync::Arc<std::sync::Mutex<bool>>,
    face_fail: std::sync::Arc<std::sync::Mutex<bool>>,
}

impl Kiosk {
    fn at(now: &str) -> Self {
        let now: Timestamp = now.parse().unwrap();
        let config = KioskConfig::embedded();
        let backend = DemoBackend::new(now, config.timeouts.payment_window_minutes);
        let outbox = backend.outbox();
        let peripherals = DemoPeripherals::default();
        let printed = peripherals.printed();
        let out_of_paper = peripherals.out_of_paper.clone();
        let face = DemoFaceVerifier::default();
        let face_fail = face.fail_next.clone();
        let driver = Driver::new(
            State::new(&config, now),
            Box::new(backend),
            Box::new(peripherals),
            Box::new(face),
        );
        Kiosk {
            driver,
            now,
            outbox,
            printed,
            out_of_paper,
            face_fail,
        }
    }

    fn ui(&mut self, a: Action) -> &mut Self {
        self.driver.send(Event::Ui(a));
        self
    }

    fn keys(&mut self, s: &str) -> &mut Self {
        for c in s.chars() {
            self.ui(Action::Key(c));
        }
        self
    }

    fn wait(&mut self, secs: i64) -> &mut Self {
        self.now += SignedDuration::from_secs(secs);
        self.driver.send(Event::Tick(self.now));
        self
    }

    /// Card placed, identity shown, face verified: the services menu.
    fn signed_in(now: &str, card: usize) -> Self {
        let mut k = Kiosk::at(now);
        k.driver.send(Event::CardPlaced(demo::demo_card(card)));
        assert_eq!(k.screen(), Screen::Identity);
        k.ui(Action::Continue).ui(Action::StartFace);
        assert_eq!(k.screen(), Screen::Services);
        k
    }

    fn state(&self) -> &State {
        self.driver.state()
    }

    fn screen(&self) -> Screen {
        self.state().session().expect("in a session").screen.clone()
    }

    fn message(&self) -> Option<Message> {
        self.state().ctx().message.clone()
    }

    fn selection(&self) -> Selection {
        match self.screen() {
            Screen::Violations(sel) | Screen::Notices { selection: sel, .. } => *sel,
            other => panic!("not on the violations screen: {other:?}"),
        }
    }

    fn violations_of(&mut self, plate: &str) -> &mut Self {
        self.ui(Action::Open(Service::Violations))
            .ui(Action::ChooseVehicle(Plate::parse(plate).unwrap()));
        assert!(
            matches!(self.screen(), Screen::Violations(_)),
            "{:?}",
            self.message()
        );
        self
    }

    fn last_code(&self) -> String {
        self.outbox.lock().unwrap().last().unwrap().code.clone()
    }

    fn is_attract(&self) -> bool {
        matches!(self.state(), State::Attract { .. })
    }
}

fn reasons_of(sel: &Selection, id: &str) -> Vec<Reason> {
    sel.list
        .violations
        .iter()
        .find(|v| v.facts.id == id)
        .unwrap()
        .decision
        .reasons
        .clone()
}

#[test]
fn identity_is_shown_masked() {
    let mut k = Kiosk::at(DAY);
    k.ui(Action::Start);
    assert!(matches!(
        k.state(),
        State::Attract {
            page: AttractPage::PlaceCard,
            ..
        }
    ));
    k.driver.send(Event::CardPlaced(demo::demo_card(0)));
    let s = k.state().session().unwrap();
    assert_eq!(s.screen, Screen::Identity);
    assert_eq!(s.masked_name(), "张*");
    assert_eq!(s.masked_id(), "5001**********0017");
    assert!(
        format!("{:?}", k.state())
            .find("500103199003070017")
            .is_none()
    );
}

#[test]
fn violations_flow_end_to_end_handles_pays_and_prints() {
    let mut k = Kiosk::signed_in(DAY, 0);
    k.violations_of("渝A12345");
    let sel = k.selection();
    assert_eq!(sel.list.violations.len(), 5);
    for id in ["V0001", "V0002", "V0003", "V0004", "V0005"] {
        k.ui(Action::ToggleViolation(id.into()));
    }
    let sel = k.selection();
    // V0004 (officer) and V0005 (12 points) cannot be ticked; the rest re-decided together.
    assert_eq!(sel.selected, ["V0001", "V0002", "V0003"]);
    assert!(sel.all_eligible());
    assert_eq!(
        sel.cycle.unwrap().message_zh(),
        "处理后累积记分：7/12分，本记分周期至2027-06-11止"
    );
    k.ui(Action::ToNotices);
    let Screen::Notices { selection, agreed } = k.screen() else {
        panic!("{:?}", k.screen())
    };
    assert!(!agreed);
    let clauses: Vec<&str> = selection
        .notices()
        .iter()
        .map(|n| n.clause.code())
        .collect();
    assert_eq!(clauses, ["六.4", "六.3", "六.5", "七.1"]);
    k.ui(Action::Handle);
    assert_eq!(k.message(), Some(Message::NotAgreed));
    k.ui(Action::SetAgreed(true)).ui(Action::Handle);
    let Screen::Payment { handling, .. } = k.screen() else {
        panic!("{:?} {:?}", k.screen(), k.message())
    };
    assert_eq!(handling.fines, Fen::from_yuan(450));
    // V0003 was decided 30 days ago: 15 surcharged days × 3 % × 150元 = 67.50元.
    assert_eq!(handling.surcharge, Fen(6750));
    assert_eq!(handling.fee.to_string(), "0.00元");
    assert_eq!(handling.total.to_string(), "517.50元");
    k.ui(Action::Home).ui(Action::Back);
    assert!(
        matches!(k.screen(), Screen::Payment { .. }),
        "left the payment screen"
    );
    k.ui(Action::Pay);
    let Screen::Done {
        payment, printed, ..
    } = k.screen()
    else {
        panic!("{:?}", k.screen())
    };
    assert_eq!(printed, PrintOutcome::Printed);
    assert_eq!(payment.amount, Fen(51750));
    let receipts = k.printed.lock().unwrap().clone();
    assert_eq!(receipts.len(), 1);
    assert!(receipts[0].contains("手续费：0.00元"), "{}", receipts[0]);
    assert!(receipts[0].contains("当事人：张*"));
    assert!(!receipts[0].contains("张三"));
    // The handled violations are gone from the list.
    k.ui(Action::Home).violations_of("渝A12345");
    assert_eq!(k.selection().list.violations.len(), 2);
}

#[test]
fn a_failed_face_check_is_explained_and_can_be_retried() {
    let mut k = Kiosk::at(DAY);
    k.driver.send(Event::CardPlaced(demo::demo_card(0)));
    *k.face_fail.lock().unwrap() = true;
    k.ui(Action::Continue).ui(Action::StartFace);
    assert_eq!(k.message(), Some(Message::Face(FaceOutcome::NoMatch)));
    assert!(matches!(k.screen(), Screen::Face { attempts: 1, .. }));
    assert!(!k.state().session().unwrap().face_verified);
    k.ui(Action::Open(Service::Violations));
    assert!(
        matches!(k.screen(), Screen::Face { .. }),
        "no service before the face check"
    );
    k.ui(Action::StartFace);
    assert_eq!(k.screen(), Screen::Services);
}

#[test]
fn out_of_paper_keeps_the_payment_and_the_operator_can_reprint() {
    let mut k = Kiosk::signed_in(DAY, 0);
    *k.out_of_paper.lock().unwrap() = true;
    k.violations_of("渝A12345");
    k.ui(Action::ToggleViolation("V0001".into()))
        .ui(Action::ToNotices)
        .ui(Action::SetAgreed(true))
        .ui(Action::Handle)
        .ui(Action::Pay);
    let Screen::Done { printed, .. } = k.screen() else {
        panic!("{:?}", k.screen())
    };
    assert_eq!(printed, PrintOutcome::OutOfPaper);
    assert!(k.printed.lock().unwrap().is_empty());
    assert!(
        k.state()
            .ctx()
            .recent_errors
            .iter()
            .any(|e| e.contains("OutOfPaper"))
    );
    // Paper refilled: the operator reprints the last receipt.
    k.ui(Action::Exit);
    *k.out_of_paper.lock().unwrap() = false;
    k.ui(Action::OperatorEntry)
        .keys(&KioskConfig::embedded().operator.pin)
        .ui(Action::SubmitCode)
        .ui(Action::OperatorReprint);
    let printed = k.printed.lock().unwrap().clone();
    assert_eq!(printed.len(), 1);
    assert!(printed[0].contains("合计缴款：200.00元"), "{}", printed[0]);
}

#[test]
fn refusals_carry_the_rule_cores_reasons_and_clauses() {
    let cases: [(usize, &str, &str, &[Reason]); 5] = [
        (0, "渝A12345", "V0004", &[Reason::NotCameraRecorded]),
        (
            0,
            "渝A12345",
            "V0005",
            &[Reason::PointsOver6, Reason::PointsWouldReach12],
        ),
        (1, "渝A55555", "V0101", &[Reason::PointsWouldReach12]),
        (2, "渝A66666", "V0201", &[Reason::LicenseStatusBlocked]),
        (4, "渝D22222", "V0402", &[Reason::OutsideRentalPeriod]),
    ];
    for (card, plate, violation, want) in cases {
        let mut k = Kiosk::signed_in(DAY, card);
        k.violations_of(plate);
        assert_eq!(reasons_of(&k.selection(), violation), want, "{violation}");
        k.ui(Action::ToggleViolation(violation.into()));
        assert!(k.selection().selected.is_empty(), "{violation} was ticked");
        let Some(Message::Refused(decisions)) = k.message() else {
            panic!("{violation}: {:?}", k.message())
        };
        let zh = decisions[0].message_zh();
        assert!(zh.starts_with("不能自助处理："), "{zh}");
        assert!(zh.contains(want[0].message_zh()), "{zh}");
        assert!(zh.contains(want[0].clauses()[0].code()), "{zh}");
    }
}

#[test]
fn at_ten_points_the_running_total_is_re_decided_live() {
    let mut k = Kiosk::signed_in(DAY, 1);
    k.violations_of("渝A55555");
    k.ui(Action::ToggleViolation("V0102".into()));
    let sel = k.selection();
    assert_eq!(sel.selected, ["V0102"]);
    assert_eq!(sel.cycle.unwrap().points_after, 11);
    // The renter's in-period violation is allowed (四.4).
    let mut k = Kiosk::signed_in(DAY, 4);
    k.violations_of("渝D22222");
    assert!(reasons_of(&k.selection(), "V0401").is_empty());
}

#[test]
fn dispute_shows_the_authority_and_its_address_instead_of_handling() {
    let mut k = Kiosk::signed_in(DAY, 0);
    k.violations_of("渝A12345");
    k.ui(Action::ShowDispute("V0002".into()));
    let sel = k.selection();
    assert_eq!(sel.dispute.as_deref(), Some("V0002"));
    let n = sel.dispute_notice("V0002").unwrap();
    assert_eq!(n.clause.code(), "六.1");
    assert!(n.zh.contains("成都市公安局交通管理局") && n.zh.contains("草市街"));
    k.ui(Action::CloseDispute);
    assert_eq!(k.selection().dispute, None);
    assert!(k.selection().selected.is_empty());
}

#[test]
fn maintenance_window_closes_handling_and_payment_but_not_look_ups() {
    let mut k = Kiosk::signed_in(NIGHT, 0);
    k.violations_of("渝A12345");
    assert!(reasons_of(&k.selection(), "V0001").contains(&Reason::MaintenanceWindow));
    k.ui(Action::ToggleViolation("V0001".into()));
    let Some(Message::Refused(d)) = k.message() else {
        panic!("{:?}", k.message())
    };
    assert!(d[0].message_zh().contains("六.7"));
    k.ui(Action::ToNotices);
    let reopens: Timestamp = "2026-11-26T01:00:00+08:00".parse().unwrap();
    assert!(matches!(k.screen(), Screen::Violations(_)));
    assert_eq!(k.message(), Some(Message::Maintenance { reopens }));

    // Handled at 21:58, the window opens before paying: payment is refused until 01:00.
    let mut k = Kiosk::signed_in("2026-11-25T21:58:00+08:00", 0);
    k.violations_of("渝A12345");
    k.ui(Action::ToggleViolation("V0001".into()))
        .ui(Action::ToNotices)
        .ui(Action::SetAgreed(true))
        .ui(Action::Handle);
    assert!(matches!(k.screen(), Screen::Payment { .. }));
    k.wait(60).ui(Action::StillHere).wait(60);
    k.ui(Action::Pay);
    assert_eq!(
        k.message(),
        Some(Message::PayRefused(PaymentRefusal::MaintenanceWindow))
    );
    assert!(matches!(k.screen(), Screen::Payment { paying: false, .. }));
    // A selection made before 22:00 that reaches the notices after it is refused at Handle.
    let mut k = Kiosk::signed_in("2026-11-25T21:59:30+08:00", 0);
    k.violations_of("渝A12345");
    k.ui(Action::ToggleViolation("V0001".into()))
        .ui(Action::ToNotices)
        .ui(Action::SetAgreed(true));
    k.wait(40).ui(Action::Handle);
    assert_eq!(k.message(), Some(Message::Maintenance { reopens }));
    assert!(matches!(k.screen(), Screen::Notices { .. }));
}

#[test]
fn idle_timeout_counts_down_then_wipes_the_session() {
    let mut k = Kiosk::signed_in(DAY, 0);
    let idle = i64::from(KioskConfig::embedded().timeouts.idle_seconds);
    let warn = i64::from(KioskConfig::embedded().timeouts.idle_warning_seconds);
    k.wait(idle - warn - 1);
    assert_eq!(k.state().idle_countdown(), None);
    k.wait(1);
    assert_eq!(k.state().idle_countdown(), Some(warn));
    // A touch restarts the count.
    k.ui(Action::StillHere);
    k.wait(idle - 1);
    assert!(!k.is_attract());
    k.wait(1);
    assert!(k.is_attract());
    assert_eq!(k.message(), Some(Message::SessionTimedOut));
    assert!(k.driver.take_wiped());
    assert!(k.state().session().is_none());
    // The notice on the attract screen goes away in turn.
    k.wait(idle);
    assert_eq!(k.message(), None);
}

#[test]
fn card_removal_wipes_the_session_from_any_screen() {
    let screens: [&[Action]; 4] = [
        &[],
        &[Action::Open(Service::Violations)],
        &[Action::Open(Service::Register), Action::Key('1')],
        &[Action::Open(Service::Filing), Action::FilingScan],
    ];
    for actions in screens {
        let mut k = Kiosk::signed_in(DAY, 0);
        for a in actions {
            k.ui(a.clone());
        }
        k.driver.send(Event::CardRemoved);
        assert!(k.is_attract(), "{actions:?}");
        assert_eq!(k.message(), Some(Message::TakeYourCard));
        assert!(k.driver.take_wiped());
    }
}

#[test]
fn filing_by_the_owners_qr_then_face_then_review_then_unfile() {
    let mut k = Kiosk::signed_in(DAY, 0);
    k.ui(Action::Open(Service::Filing));
    assert_eq!(k.screen(), Screen::Filings(vec![]));
    k.ui(Action::FilingScan);
    let qr = demo::vehicle_qr(demo::DEMO_FILING_PLATE, k.now + demo::QR_VALIDITY);
    k.driver.send(Event::Scanned(format!("{qr}\r\n")));
    let Screen::FilingConfirm(c) = k.screen() else {
        panic!("{:?}", k.message())
    };
    assert_eq!((c.owner.as_str(), c.method), ("赵*", FilingMethod::OwnerQr));
    k.ui(Action::ConfirmFiling);
    assert!(matches!(k.screen(), Screen::Face { .. }));
    k.ui(Action::StartFace);
    let Screen::FilingSubmitted(f) = k.screen() else {
        panic!("{:?}", k.message())
    };
    assert_eq!(f.status, FilingStatus::PendingReview);
    k.ui(Action::Back);
    let Screen::Filings(list) = k.screen() else {
        panic!()
    };
    assert_eq!(list.len(), 1);
    k.ui(Action::Unfile(list[0].id.clone()));
    assert_eq!(k.screen(), Screen::Filings(vec![]));
    assert_eq!(k.message(), Some(Message::Unfiled));
}

#[test]
fn bad_vehicle_qr_codes_are_refused_with_a_reason() {
    let cases = [
        (
            demo::tampered_vehicle_qr(
                demo::DEMO_FILING_PLATE,
                "2026-11-25T10:10:00+08:00".parse().unwrap(),
            ),
            Message::Filing(FilingError::TokenInvalid),
        ),
        (
            demo::vehicle_qr(
                demo::DEMO_FILING_PLATE,
                "2026-11-25T09:59:00+08:00".parse().unwrap(),
            ),
            Message::Filing(FilingError::TokenExpired),
        ),
        (
            "garbage\u{0}|||".to_string(),
            Message::Filing(FilingError::TokenInvalid),
        ),
        (
            demo::vehicle_qr("渝B99999", "2026-11-25T10:10:00+08:00".parse().unwrap()),
            Message::Filing(FilingError::Refused(FilingRefusal::VehicleLimitReached)),
        ),
        (
            demo::vehicle_qr("渝A12345", "2026-11-25T10:10:00+08:00".parse().unwrap()),
            Message::Filing(FilingError::Refused(FilingRefusal::OwnVehicle)),
        ),
    ];
    for (token, want) in cases {
        let mut k = Kiosk::signed_in(DAY, 0);
        k.ui(Action::Open(Service::Filing)).ui(Action::FilingScan);
        k.driver.send(Event::Scanned(token.clone()));
        assert_eq!(k.message(), Some(want), "{token}");
        assert_eq!(k.screen(), Screen::FilingEntry(FilingEntry::Scan));
    }
}

#[test]
fn the_three_filings_limit_is_explained() {
    let mut k = Kiosk::signed_in(DAY, 5);
    k.ui(Action::Open(Service::Filing));
    let Screen::Filings(list) = k.screen() else {
        panic!()
    };
    assert_eq!(list.len(), 3);
    k.ui(Action::FilingScan);
    let qr = demo::vehicle_qr(demo::DEMO_FILING_PLATE, k.now + demo::QR_VALIDITY);
    k.driver.send(Event::Scanned(qr));
    assert_eq!(
        k.message(),
        Some(Message::Filing(FilingError::Refused(
            FilingRefusal::UserLimitReached
        )))
    );
    // Un-filing one frees a slot at once.
    k.ui(Action::Back).ui(Action::Unfile("F0001".into()));
    k.ui(Action::FilingScan);
    let qr = demo::vehicle_qr(demo::DEMO_FILING_PLATE, k.now + demo::QR_VALIDITY);
    k.driver.send(Event::Scanned(qr));
    assert!(matches!(k.screen(), Screen::FilingConfirm(_)));
}

#[test]
fn filing_a_units_vehicle_by_sms_to_its_manager() {
    let mut k = Kiosk::signed_in(DAY, 0);
    k.ui(Action::Open(Service::Filing)).ui(Action::FilingSms);
    k.keys("c11111").ui(Action::SendCode);
    let Screen::FilingEntry(FilingEntry::Sms {
        sent: Some((plate, sent)),
        ..
    }) = k.screen()
    else {
        panic!("{:?}", k.message())
    };
    assert_eq!(plate.as_str(), demo::DEMO_UNIT_PLATE);
    assert!(sent.to_unit_manager);
    assert_eq!(sent.to_masked, "137****2222");
    // A wrong code first, then the right one.
    k.keys("000000").ui(Action::SubmitCode);
    let code = k.last_code();
    if code != "000000" {
        assert_eq!(
            k.message(),
            Some(Message::Filing(FilingError::Backend(
                BackendError::WrongCode
            )))
        );
    }
    for _ in 0..6 {
        k.ui(Action::Backspace);
    }
    k.keys(&code).ui(Action::SubmitCode);
    let Screen::FilingConfirm(c) = k.screen() else {
        panic!("{:?}", k.message())
    };
    assert_eq!(c.method, FilingMethod::UnitManagerSms);
}

#[test]
fn register_with_phone_and_sms_code() {
    let mut k = Kiosk::signed_in(DAY, 2);
    k.ui(Action::Open(Service::Register));
    k.keys("1391234").ui(Action::SendCode);
    assert_eq!(k.message(), Some(Message::BadEntry));
    k.keys("5678").ui(Action::SendCode);
    let code = k.last_code();
    assert_eq!(k.outbox.lock().unwrap().last().unwrap().to, "139****5678");
    k.keys(&code).ui(Action::SubmitCode);
    assert!(matches!(k.screen(), Screen::Register { done: true, .. }));
}

#[test]
fn feedback_help_and_app_download() {
    let mut k = Kiosk::signed_in(DAY, 0);
    k.ui(Action::Open(Service::Feedback))
        .ui(Action::Feedback(FeedbackTopic::HardToUse));
    assert_eq!(k.screen(), Screen::Feedback { sent: true });
    assert_eq!(k.message(), Some(Message::FeedbackThanks));
    for (service, screen) in [
        (Service::Help, Screen::Help),
        (Service::DownloadApp, Screen::DownloadApp),
    ] {
        k.ui(Action::Back).ui(Action::Open(service));
        assert_eq!(k.screen(), screen);
    }
    k.ui(Action::Exit);
    assert!(k.is_attract());
    // Help is open without a card too.
    k.ui(Action::Open(Service::Help));
    assert!(matches!(
        k.state(),
        State::Attract {
            page: AttractPage::Help,
            ..
        }
    ));
}

#[test]
fn operator_pin_opens_the_operator_screen() {
    let mut k = Kiosk::at(DAY);
    k.ui(Action::OperatorEntry)
        .keys("1111")
        .ui(Action::SubmitCode);
    assert_eq!(k.message(), Some(Message::WrongPin));
    assert_eq!(k.state().ctx().recent_errors.len(), 1);
    k.keys(&KioskConfig::embedded().operator.pin)
        .ui(Action::SubmitCode);
    assert!(matches!(k.state(), State::Operator { .. }));
    assert!(k.state().ctx().health.is_some());
    k.ui(Action::OperatorTestPrint);
    assert_eq!(k.state().ctx().last_print, Some(PrintOutcome::Printed));
    k.ui(Action::OperatorClose);
    assert!(k.is_attract());
}

#[test]
fn language_toggles_on_every_state() {
    let mut k = Kiosk::at(DAY);
    k.ui(Action::ToggleLanguage);
    assert_eq!(k.state().ctx().lang, crate::config::Language::En);
    k.driver.send(Event::CardPlaced(demo::demo_card(0)));
    k.ui(Action::ToggleLanguage);
    assert_eq!(k.state().ctx().lang, crate::config::Language::ZhCn);
}

#[test]
fn demo_persons_are_valid_and_the_first_is_the_documented_one() {
    for i in 0..demo::DEMO_CARDS {
        let c = demo::demo_card(i);
        assert_eq!(c.name.expose(), demo::DEMO_IDS[i].0);
    }
    assert_eq!(demo::demo_card(0).id_number.expose(), "500103199003070017");
}

/// A touch or device event plausible on the current screen, picked by `choice`.
fn monkey(state: &State, choice: u8, last_payment: &Option<PaymentView>) -> Event {
    let mut pool = vec![
        Event::Tick(state.ctx().now + SignedDuration::from_secs(20)),
        Event::Ui(Action::Back),
        Event::Ui(Action::Pay),
        Event::Ui(Action::Pay),
    ];
    if let Some(p) = last_payment {
        pool.push(Event::Paid(Ok(p.clone())));
    }
    match state.session().map(|s| &s.screen) {
        None => pool.push(Event::CardPlaced(demo::demo_card(0))),
        Some(Screen::Identity) => pool.push(Event::Ui(Action::Continue)),
        Some(Screen::Face { .. }) => pool.push(Event::Ui(Action::StartFace)),
        Some(Screen::Services) => pool.push(Event::Ui(Action::Open(Service::Violations))),
        Some(Screen::ChooseVehicle) => pool.push(Event::Ui(Action::ChooseVehicle(
            Plate::parse("渝A12345").unwrap(),
        ))),
        Some(Screen::Violations(sel)) => {
            for v in &sel.list.violations {
                pool.push(Event::Ui(Action::ToggleViolation(v.facts.id.clone())));
            }
            pool.push(Event::Ui(Action::ToNotices));
        }
        Some(Screen::Notices { .. }) => {
            pool.push(Event::Ui(Action::SetAgreed(true)));
            pool.push(Event::Ui(Action::Handle));
        }
        Some(_) => {
            pool.push(Event::Ui(Action::Home));
            pool.push(Event::Ui(Action::Exit));
            pool.push(Event::CardRemoved);
        }
    }
    pool.swap_remove(usize::from(choice) % pool.len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// 六.3: no event sequence reaches a paid state twice for one decision.
    #[test]
    fn no_event_sequence_pays_a_decision_twice(choices in proptest::collection::vec(any::<u8>(), 1..200)) {
        let mut k = Kiosk::at(DAY);
        let mut paid: std::collections::HashMap<String, u32> = Default::default();
        let mut last_payment = None;
        let mut was_paid_for: Option<String> = None;
        for c in choices {
            let e = monkey(k.state(), c, &last_payment);
            k.driver.send(e);
            let now_paid_for = match k.state().session().map(|s| &s.screen) {
                Some(Screen::Printing { payment, .. }) | Some(Screen::Done { payment, .. }) => {
                    last_payment = Some(payment.clone());
                    Some(payment.decision.clone())
                }
                _ => None,
            };
            if let Some(d) = &now_paid_for && was_paid_for.as_ref() != Some(d) {
                *paid.entry(d.clone()).or_default() += 1;
            }
            was_paid_for = now_paid_for;
        }
        for (d, n) in &paid {
            prop_assert_eq!(*n, 1, "decision {} reached paid {} times", d, n);
        }
        let printed = k.printed.lock().unwrap().len();
        prop_assert_eq!(printed, paid.len());
    }
}
