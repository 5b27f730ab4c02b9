//! Pure tests of [`next`]: no backend, no driver, no thread. The results of effects are fed in
//! as the events the driver would send. The services end to end on the real store are in
//! `crate::app` (flow_tests) and `tests/ui.rs`.

use jiff::{SignedDuration, Timestamp, civil::Date};

use super::*;
use crate::config::KioskConfig;
use crate::domain::{CardType, Gender, IdCard, IdNumber, Nation, Photo, ValidUntil};
use crate::privacy::Masked;

/// 10:00 in Chongqing, outside the maintenance window.
const DAY: &str = "2026-11-25T10:00:00+08:00";

pub(super) fn card() -> IdCard {
    let id = IdNumber::parse("50010619851120002X").unwrap();
    IdCard {
        card_type: CardType::Resident,
        name: Masked::new("李小红".to_string()),
        gender: Gender::Female,
        nation: Nation::parse("01").ok(),
        birth_date: id.birth_date(),
        address: Masked::new("重庆市沙坪坝区".to_string()),
        authority: "重庆市公安局".to_string(),
        valid_from: Date::constant(2016, 11, 20),
        valid_until: ValidUntil::Date(Date::constant(2036, 11, 20)),
        id_number: id,
        photo: Photo::default(),
    }
}

/// The flow alone: events in, state and effects out (also used by `staff`'s tests).
pub(super) struct Pure {
    pub(super) state: Option<State>,
    pub(super) effects: Vec<Effect>,
    pub(super) now: Timestamp,
}

impl Pure {
    pub(super) fn at(now: &str) -> Self {
        let now: Timestamp = now.parse().unwrap();
        Pure {
            state: Some(State::new(&KioskConfig::embedded(), now)),
            effects: Vec::new(),
            now,
        }
    }
    pub(super) fn send(&mut self, e: Event) -> &mut Self {
        let (s, fx) = next(self.state.take().unwrap(), e);
        self.state = Some(s);
        self.effects.extend(fx);
        self
    }
    fn ui(&mut self, a: Action) -> &mut Self {
        self.send(Event::Ui(a))
    }
    pub(super) fn wait(&mut self, secs: i64) -> &mut Self {
        self.now += SignedDuration::from_secs(secs);
        let now = self.now;
        self.send(Event::Tick(now))
    }
    /// Run the PIN check the last effect asks for, as the worker would, and feed its answer.
    fn run_pin_check(&mut self) -> &mut Self {
        let Some(Effect::VerifyOperatorPin { entered, secret }) = self
            .effects
            .iter()
            .rev()
            .find(|e| matches!(e, Effect::VerifyOperatorPin { .. }))
            .cloned()
        else {
            panic!("no PIN check asked for: {:?}", self.effects)
        };
        self.effects.clear();
        self.send(Event::OperatorPinChecked(secret.matches(entered.expose())))
    }
    fn pin(&mut self, pin: &str) -> &mut Self {
        if !matches!(
            self.state(),
            State::Attract {
                page: AttractPage::OperatorPin { .. },
                ..
            }
        ) {
            self.ui(Action::OperatorEntry);
        }
        for c in pin.chars() {
            self.ui(Action::Key(c));
        }
        self.effects.clear();
        self.ui(Action::SubmitCode)
    }
    /// The operator events recorded since the effects were last cleared.
    fn operator_events(&self) -> Vec<(&'static str, String)> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::RecordOperatorEvent { kind, detail } => Some((*kind, detail.clone())),
                _ => None,
            })
            .collect()
    }
    pub(super) fn state(&self) -> &State {
        self.state.as_ref().unwrap()
    }
    pub(super) fn message(&self) -> Option<Message> {
        self.state().ctx().message.clone()
    }
    fn is_attract(&self) -> bool {
        matches!(self.state(), State::Attract { .. })
    }
    fn wiped(&mut self) -> bool {
        let n = self.effects.len();
        self.effects.retain(|e| *e != Effect::SessionWiped);
        self.effects.len() < n
    }
}

#[test]
fn a_card_starts_a_session_that_loads_the_person_and_never_shows_the_number() {
    let mut k = Pure::at(DAY);
    k.send(Event::CardPlaced(card()));
    assert_eq!(
        k.effects,
        [Effect::LoadPerson(
            IdNumber::parse("50010619851120002X").unwrap()
        )]
    );
    let s = k.state().session().unwrap();
    assert_eq!(s.screen, Screen::LoadingPerson);
    assert_eq!(s.masked_name(), "李*红");
    assert_eq!(s.masked_id(), "5001**********002X");
    assert!(!format!("{:?}", k.state()).contains("50010619851120002X"));
}

#[test]
fn a_platform_failure_is_shown_and_recorded_for_the_operator() {
    let mut k = Pure::at(DAY);
    k.send(Event::CardPlaced(card()))
        .send(Event::PersonLoaded(Err(ports::BackendError::Unavailable(
            "timeout".into(),
        ))));
    assert_eq!(k.state().session().unwrap().screen, Screen::Unavailable);
    assert!(matches!(k.message(), Some(Message::Backend(_))));
    assert_eq!(k.state().ctx().recent_errors.len(), 1);
}

#[test]
fn idle_timeout_counts_down_then_wipes_the_session() {
    let mut k = Pure::at(DAY);
    k.send(Event::CardPlaced(card()));
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
    assert!(k.wiped());
    assert!(k.state().session().is_none());
    // The notice on the attract screen goes away in turn.
    k.wait(idle);
    assert_eq!(k.message(), None);
}

#[test]
fn exit_and_card_removal_wipe_the_session_even_while_a_call_is_outstanding() {
    for end in [Event::CardRemoved, Event::Ui(Action::Exit)] {
        let mut k = Pure::at(DAY);
        // LoadPerson is outstanding: the person has not come back yet.
        k.send(Event::CardPlaced(card())).send(end.clone());
        assert!(k.is_attract(), "{end:?}");
        assert_eq!(k.message(), Some(Message::SessionEnded));
        assert!(k.wiped());
    }
}

/// 请取走身份证 while the card is still on the reader after 退出 or the timeout, until it is
/// removed; never once the card is gone.
#[test]
fn take_your_card_shows_while_the_card_is_on_the_reader_and_only_then() {
    let idle = i64::from(KioskConfig::embedded().timeouts.idle_seconds);
    for end in ["exit", "timeout"] {
        let mut k = Pure::at(DAY);
        k.send(Event::CardPlaced(card()));
        match end {
            "exit" => k.ui(Action::Exit),
            _ => k.wait(idle),
        };
        assert!(k.is_attract() && k.wiped(), "{end}");
        assert!(k.state().ctx().card_left, "{end}");
        // A touch and the attract screen's own timeout do not take the reminder away.
        k.ui(Action::Start).wait(idle);
        assert_eq!(k.message(), None, "{end}");
        assert!(k.state().ctx().card_left, "{end}");
        k.send(Event::CardRemoved);
        assert!(!k.state().ctx().card_left, "{end}");
    }
    // The session ended because the card was removed: nothing to take.
    let mut k = Pure::at(DAY);
    k.send(Event::CardPlaced(card())).send(Event::CardRemoved);
    assert!(k.is_attract());
    assert!(!k.state().ctx().card_left);
    // The next card clears it too.
    let mut k = Pure::at(DAY);
    k.send(Event::CardPlaced(card())).ui(Action::Exit);
    k.send(Event::CardPlaced(card()));
    assert!(!k.state().ctx().card_left);
}

#[test]
fn operator_pin_opens_the_operator_screen() {
    let mut k = Pure::at(DAY);
    k.ui(Action::OperatorEntry);
    k.pin("1111");
    // Checked on the worker, not in `next`: nothing opens yet.
    assert!(k.is_attract());
    assert!(k.state().ctx().pin_checking);
    k.run_pin_check();
    assert_eq!(k.message(), Some(Message::WrongPin));
    assert_eq!(k.state().ctx().recent_errors.len(), 1);
    k.wait(1);
    k.pin(&KioskConfig::embedded().operator.pin).run_pin_check();
    assert!(matches!(k.state(), State::Operator { .. }));
    assert!(k.effects.contains(&Effect::QueryHealth));
    assert_eq!(k.state().ctx().pin_failures, 0);
    k.ui(Action::OperatorClose);
    assert!(k.is_attract());
}

#[test]
fn a_wrong_pin_delays_the_next_try_more_each_time_and_five_lock_the_operator_screen() {
    let mut k = Pure::at(DAY);
    k.ui(Action::OperatorEntry);
    for (n, delay) in [(1u32, 1i64), (2, 2), (3, 4), (4, 8)] {
        k.pin("2580").run_pin_check();
        assert_eq!(k.state().ctx().pin_failures, n);
        // A try inside the delay is not checked at all.
        k.pin("2580");
        assert!(
            !k.effects
                .iter()
                .any(|e| matches!(e, Effect::VerifyOperatorPin { .. })),
            "try {n}: checked during the delay"
        );
        assert!(matches!(k.message(), Some(Message::PinWait { .. })), "{n}");
        k.wait(delay - 1);
        k.pin("2580");
        assert!(matches!(k.message(), Some(Message::PinWait { .. })), "{n}");
        k.wait(1);
    }
    // The 5th wrong PIN in a row locks the screen for 15 minutes: even the right PIN waits.
    k.pin("2580").run_pin_check();
    let until = k.now + PIN_LOCKOUT;
    assert_eq!(k.message(), Some(Message::PinLocked { until }));
    k.wait(14 * 60);
    k.pin(&KioskConfig::embedded().operator.pin);
    assert!(matches!(k.message(), Some(Message::PinLocked { .. })));
    assert!(k.is_attract());
    k.wait(60);
    k.pin(&KioskConfig::embedded().operator.pin).run_pin_check();
    assert!(matches!(k.state(), State::Operator { .. }));
}

#[test]
fn after_a_lockout_each_wrong_pin_locks_again_until_a_right_one() {
    let mut k = Pure::at(DAY);
    k.ui(Action::OperatorEntry);
    for _ in 0..5 {
        k.pin("2580").run_pin_check();
        k.wait(16 * 60);
    }
    assert_eq!(k.state().ctx().pin_failures, 5);
    k.pin("2580").run_pin_check();
    assert!(matches!(k.message(), Some(Message::PinLocked { .. })));
    assert_eq!(k.state().ctx().pin_wait_until, Some(k.now + PIN_LOCKOUT));
}

#[test]
fn every_pin_try_is_recorded_for_the_audit_and_never_its_digits() {
    let mut k = Pure::at(DAY);
    k.ui(Action::OperatorEntry);
    k.pin("2580").run_pin_check();
    let wrong = k.operator_events();
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert_eq!(wrong[0].0, "operator_pin_wrong");
    // Too soon: refused, and recorded as such.
    k.pin("3690");
    let refused = k.operator_events();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "operator_pin_refused");
    for _ in 0..4 {
        k.wait(20);
        k.pin("2580").run_pin_check();
    }
    let locked = k.operator_events();
    assert_eq!(locked[0].0, "operator_pin_locked", "{locked:?}");
    k.wait(16 * 60);
    k.pin(&KioskConfig::embedded().operator.pin).run_pin_check();
    let ok = k.operator_events();
    assert_eq!(ok[0].0, "operator_pin_ok", "{ok:?}");
    for (kind, detail) in wrong.iter().chain(&refused).chain(&locked).chain(&ok) {
        for digits in ["2580", "3690", "246810"] {
            assert!(!detail.contains(digits), "{kind}: {detail}");
        }
    }
    // The effect carrying the PIN masks it in Debug (logs).
    k.ui(Action::OperatorClose)
        .ui(Action::OperatorEntry)
        .pin("2580");
    let shown = format!("{:?}", k.effects);
    assert!(!shown.contains("2580"), "{shown}");
}

#[test]
fn with_a_pin_hash_the_worker_checks_the_hash_and_the_plain_pin_is_ignored() {
    let now: Timestamp = DAY.parse().unwrap();
    let mut config = KioskConfig::embedded();
    config.operator.pin_hash = crate::config::operator::hash_pin("802413", &[1u8; 16]).unwrap();
    let mut k = Pure {
        state: Some(State::new(&config, now)),
        effects: Vec::new(),
        now,
    };
    k.pin(&config.operator.pin).run_pin_check();
    assert_eq!(k.message(), Some(Message::WrongPin));
    k.wait(1);
    k.pin("802413");
    assert!(
        k.effects.iter().any(|e| matches!(
            e,
            Effect::VerifyOperatorPin {
                secret: PinSecret::Hash(_),
                ..
            }
        )),
        "{:?}",
        k.effects
    );
    k.run_pin_check();
    assert!(matches!(k.state(), State::Operator { .. }));
}

#[test]
fn a_pin_answer_after_the_page_was_left_opens_nothing() {
    let mut k = Pure::at(DAY);
    k.ui(Action::OperatorEntry);
    k.pin(&KioskConfig::embedded().operator.pin);
    k.send(Event::CardPlaced(card()));
    k.run_pin_check();
    assert!(matches!(k.state(), State::Session { .. }));
    assert!(!k.state().ctx().pin_checking);
}

#[test]
fn language_toggles_on_every_state() {
    let mut k = Pure::at(DAY);
    k.ui(Action::ToggleLanguage);
    assert_eq!(k.state().ctx().lang, crate::config::Language::En);
    k.send(Event::CardPlaced(card()));
    k.ui(Action::ToggleLanguage);
    assert_eq!(k.state().ctx().lang, crate::config::Language::ZhCn);
}

#[test]
fn the_language_returns_to_the_kiosk_default_when_a_session_ends() {
    use crate::config::Language;
    // Both defaults: English must not stay on for the next person, nor Chinese when the kiosk
    // is configured in English.
    for default in [Language::ZhCn, Language::En] {
        let other = match default {
            Language::ZhCn => Language::En,
            Language::En => Language::ZhCn,
        };
        let mut config = KioskConfig::embedded();
        config.kiosk.language = default;
        let idle = i64::from(config.timeouts.idle_seconds);
        let ends: [(&str, &[Event]); 4] = [
            ("exit", &[Event::Ui(Action::Exit)]),
            ("card removed", &[Event::CardRemoved]),
            ("another card", &[Event::CardPlaced(card())]),
            ("idle timeout", &[]),
        ];
        for (what, end) in ends {
            let mut k = Pure::at(DAY);
            k.state = Some(State::new(&config, k.now));
            assert_eq!(k.state().ctx().lang, default);
            k.send(Event::CardPlaced(card())).ui(Action::ToggleLanguage);
            assert_eq!(k.state().ctx().lang, other, "{what}");
            if end.is_empty() {
                k.wait(idle);
                assert!(k.is_attract(), "{what}");
            }
            for e in end {
                k.send(e.clone());
            }
            assert!(k.wiped(), "{what}");
            assert_eq!(k.state().ctx().lang, default, "{what}: after the session");
        }
        // Chosen on the attract screen and left there: back to the default after the idle time.
        let mut k = Pure::at(DAY);
        k.state = Some(State::new(&config, k.now));
        k.ui(Action::Start).ui(Action::ToggleLanguage);
        assert_eq!(k.state().ctx().lang, other);
        k.wait(idle);
        assert_eq!(k.state().ctx().lang, default, "attract idle");
    }
}

#[test]
fn clause_6_7_the_attract_screen_carries_the_maintenance_notice_before_any_card() {
    let reopens: Timestamp = "2026-11-26T01:00:00+08:00".parse().unwrap();
    let k = Pure::at("2026-11-25T22:30:00+08:00");
    assert!(k.is_attract());
    assert_eq!(
        k.state().ctx().maintenance_notice(),
        Some(Message::Maintenance { reopens })
    );
    // Outside the window there is none; the window opens on a tick at 22:00 and closes at 01:00.
    let mut k = Pure::at("2026-11-25T21:59:30+08:00");
    assert_eq!(k.state().ctx().maintenance_notice(), None);
    k.wait(30);
    assert_eq!(
        k.state().ctx().maintenance_notice(),
        Some(Message::Maintenance { reopens })
    );
    k.wait(3 * 3600);
    assert_eq!(k.state().ctx().maintenance_notice(), None);
}

fn probes(k: &mut Pure) -> usize {
    let n = k
        .effects
        .iter()
        .filter(|e| **e == Effect::ProbeLink)
        .count();
    k.effects.clear();
    n
}

#[test]
fn the_attract_screen_probes_the_link_every_15_s_and_at_once_after_an_offline_call() {
    // A local store is never probed.
    let mut local = Pure::at(DAY);
    local.wait(1).wait(15).wait(15);
    assert_eq!(probes(&mut local), 0);
    let mut config = KioskConfig::embedded();
    config.platform.url = "http://127.0.0.1:9".into();
    let now: Timestamp = DAY.parse().unwrap();
    let mut k = Pure {
        state: Some(State::new(&config, now)),
        effects: Vec::new(),
        now,
    };
    // (seconds waited, probes asked for)
    let steps: [(i64, usize); 4] = [(1, 1), (10, 0), (5, 1), (14, 0)];
    for (secs, want) in steps {
        k.wait(secs);
        assert_eq!(probes(&mut k), want, "after {secs} s");
    }
    assert!(k.state().ctx().offline_notice().is_none());
    k.send(Event::LinkChecked(false));
    assert_eq!(k.state().ctx().offline_notice(), Some(Message::Offline));
    k.send(Event::LinkChecked(true));
    assert_eq!(k.state().ctx().offline_notice(), None);
    // A session's call finds the server gone: offline at once; no probe inside the session,
    // and the attract screen probes at its first tick.
    k.send(Event::CardPlaced(card()))
        .send(Event::PersonLoaded(Err(ports::BackendError::Offline(
            "connection refused".into(),
        ))));
    assert_eq!(k.state().ctx().offline_notice(), Some(Message::Offline));
    k.effects.clear();
    k.wait(1);
    assert_eq!(probes(&mut k), 0, "no probe in a session");
    k.ui(Action::Exit);
    k.effects.clear();
    k.wait(1);
    assert_eq!(probes(&mut k), 1, "the attract screen probes at once");
}

#[test]
fn calls_that_fail_for_other_reasons_do_not_say_offline() {
    let cases: [(ports::BackendError, bool); 3] = [
        (ports::BackendError::Offline("refused".into()), true),
        (ports::BackendError::Unavailable("disk".into()), false),
        (ports::BackendError::NotRegistered, false),
    ];
    for (e, offline) in cases {
        let mut k = Pure::at(DAY);
        k.send(Event::CardPlaced(card()))
            .send(Event::PersonLoaded(Err(e.clone())));
        assert_eq!(!k.state().ctx().online, offline, "{e:?}");
    }
}

#[test]
fn an_answered_call_in_a_session_clears_the_offline_notice() {
    let mut k = Pure::at(DAY);
    k.send(Event::LinkChecked(false));
    assert_eq!(k.state().ctx().offline_notice(), Some(Message::Offline));
    k.send(Event::CardPlaced(card()))
        .send(Event::PersonLoaded(Err(ports::BackendError::NotRegistered)));
    assert_eq!(k.state().ctx().offline_notice(), None);
}

/// Remote configuration: settings arriving during a session change nothing under the person;
/// they are applied once the session ends (the attract screen), and on the attract screen at
/// once.
#[test]
fn remote_settings_wait_for_the_end_of_the_session() {
    let mut k = Pure::at(DAY);
    let base = KioskConfig::embedded();
    let idle = i64::from(base.timeouts.idle_seconds);
    let new_idle = base.timeouts.idle_seconds + 100;
    let settings = crate::config::RemoteSettings {
        idle_seconds: Some(new_idle),
        hall_name: Some("渝中区车管所大厅".into()),
        ..Default::default()
    };
    k.send(Event::CardPlaced(card()));
    k.send(Event::RemoteSettings(settings.clone()));
    // Still the kiosk's own values during the session, and the session still times out on them.
    let ctx = k.state().ctx();
    assert_eq!(ctx.idle_seconds, base.timeouts.idle_seconds);
    assert_eq!(ctx.hall_name, base.kiosk.hall_name);
    assert!(ctx.pending_settings.is_some());
    assert!(
        !k.effects
            .iter()
            .any(|e| matches!(e, Effect::SettingsApplied(_)))
    );
    k.wait(idle - 1);
    assert!(!k.is_attract());
    assert_eq!(k.state().ctx().hall_name, base.kiosk.hall_name);
    // The session ends (timed out): the settings apply.
    k.wait(1);
    assert!(k.is_attract());
    let ctx = k.state().ctx();
    assert_eq!(ctx.idle_seconds, new_idle);
    assert_eq!(ctx.hall_name, "渝中区车管所大厅");
    assert!(ctx.pending_settings.is_none());
    assert!(k.effects.contains(&Effect::SettingsApplied(settings)));
    // The next session runs on them.
    k.send(Event::CardPlaced(card()));
    k.wait(idle);
    assert!(!k.is_attract(), "the new idle_seconds is longer");
    k.wait(i64::from(new_idle) - idle);
    assert!(k.is_attract());

    // On the attract screen, at once; the next person starts in the new language.
    let mut k = Pure::at(DAY);
    k.effects.clear();
    let en = crate::config::RemoteSettings {
        language: Some(crate::config::Language::En),
        ..Default::default()
    };
    k.send(Event::RemoteSettings(en.clone()));
    assert_eq!(k.state().ctx().lang, crate::config::Language::En);
    assert_eq!(k.state().ctx().default_lang, crate::config::Language::En);
    assert_eq!(k.effects, [Effect::SettingsApplied(en)]);
}

/// A remote policy goes to the worker (`Effect::UsePolicy`) when the settings apply, only when it
/// changed; settings without one put the kiosk's own policy back.
#[test]
fn a_remote_policy_is_handed_to_the_worker_when_it_changes() {
    let mut k = Pure::at(DAY);
    k.effects.clear();
    let relief = crate::config::RemoteSettings {
        policy: Some("[[epidemic_relief]]\n".into()),
        ..Default::default()
    };
    k.send(Event::RemoteSettings(relief.clone()));
    assert_eq!(
        k.effects,
        [
            Effect::UsePolicy(relief.policy.clone()),
            Effect::SettingsApplied(relief.clone())
        ]
    );
    k.effects.clear();
    k.send(Event::RemoteSettings(relief.clone()));
    assert_eq!(k.effects, [Effect::SettingsApplied(relief)]);
    k.effects.clear();
    let own = crate::config::RemoteSettings::default();
    k.send(Event::RemoteSettings(own.clone()));
    assert_eq!(
        k.effects,
        [Effect::UsePolicy(None), Effect::SettingsApplied(own)]
    );
}

/// A session already on the registration screen, the code sent to 139****5678.
fn on_register_code() -> Pure {
    let mut k = Pure::at(DAY);
    let ctx = k.state().ctx().clone();
    k.state = Some(State::Session {
        ctx,
        session: Box::new(Session {
            card: card(),
            person: None,
            face_verified: true,
            screen: Screen::Register {
                phone: KeyEntry::from_text("13912345678", 11),
                code: KeyEntry::default(),
                sent: Some(ports::SmsSent {
                    to_masked: "139****5678".into(),
                    to_unit_manager: false,
                }),
                done: false,
            },
            owner_code: None,
        }),
    });
    k
}

fn register_calls(k: &Pure) -> Vec<String> {
    k.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Register { code, .. } => Some(code.clone()),
            _ => None,
        })
        .collect()
}

fn entered_code(k: &Pure) -> String {
    match &k.state().session().unwrap().screen {
        Screen::Register { code, .. } => code.text().to_string(),
        s => panic!("{s:?}"),
    }
}

/// The 6th digit submits the code once; until the answer the keypad takes nothing more (a 7th
/// digit, 删除), so a code is never submitted twice or changed while it is checked.
#[test]
fn a_submitted_code_holds_the_keypad_until_its_answer() {
    let mut k = on_register_code();
    for c in "12345".chars() {
        k.ui(Action::Key(c));
    }
    assert!(
        register_calls(&k).is_empty(),
        "submitted before the 6th digit"
    );
    k.ui(Action::Key('6'));
    assert_eq!(register_calls(&k), ["123456"]);
    k.ui(Action::Key('7'))
        .ui(Action::Backspace)
        .ui(Action::Key('8'));
    assert_eq!(register_calls(&k), ["123456"], "submitted twice");
    assert_eq!(entered_code(&k), "123456");
    // The answer: offline. The code is cleared for the next try, the code step stays.
    k.send(Event::Registered(Err(ports::BackendError::Offline(
        "down".into(),
    ))));
    assert_eq!(entered_code(&k), "");
    assert!(matches!(
        k.state().session().unwrap().screen,
        Screen::Register { sent: Some(_), .. }
    ));
    for c in "654321".chars() {
        k.ui(Action::Key(c));
    }
    assert_eq!(register_calls(&k), ["123456", "654321"]);
}

/// A wrong code says the tries left and stays on the code step; a burned one (0 left) returns
/// to 发送验证码 with the number kept.
#[test]
fn a_wrong_code_says_the_tries_left_and_a_burned_one_asks_for_a_new_code() {
    let mut k = on_register_code();
    for c in "000000".chars() {
        k.ui(Action::Key(c));
    }
    let wrong = |n| {
        Event::Registered(Err(ports::BackendError::WrongCode {
            tries_left: Some(n),
        }))
    };
    k.send(wrong(2));
    assert_eq!(
        k.message(),
        Some(Message::Backend(ports::BackendError::WrongCode {
            tries_left: Some(2)
        }))
    );
    assert_eq!(entered_code(&k), "");
    for c in "000000".chars() {
        k.ui(Action::Key(c));
    }
    k.send(wrong(0));
    let Screen::Register { phone, sent, .. } = &k.state().session().unwrap().screen else {
        panic!()
    };
    assert_eq!((phone.text(), sent.is_none()), ("13912345678", true));
}

/// 11 digits that are not a mainland mobile are said at the 11th digit; nothing is sent by
/// itself, and 发送验证码 refuses them.
#[test]
fn eleven_digits_that_are_not_a_mobile_are_said_at_once_and_never_sent() {
    let mut k = on_register_code();
    if let Some(State::Session { session, .. }) = &mut k.state {
        session.screen = Screen::Register {
            phone: KeyEntry::default(),
            code: KeyEntry::default(),
            sent: None,
            done: false,
        };
    }
    for c in "1234567890".chars() {
        k.ui(Action::Key(c));
    }
    assert_eq!(k.message(), None);
    k.ui(Action::Key('1'));
    assert_eq!(k.message(), Some(Message::NotAMobile));
    k.ui(Action::SendCode);
    assert_eq!(k.message(), Some(Message::NotAMobile));
    assert!(
        !k.effects
            .iter()
            .any(|e| matches!(e, Effect::RequestRegisterCode { .. })),
        "{:?}",
        k.effects
    );
}
