//! The pure transition function. No clock, no I/O: time arrives in `Event::Tick`, results of the
//! platform and the devices arrive as events, and everything to be done leaves as `Effect`s.

use super::ports::{
    BackendError, FeedbackReceipt, FilingError, HandleError, HandlingView, PayError, PaymentView,
    PersonView, PrintOutcome,
};
use super::state::*;
use crate::config::Language;
use crate::domain::phone::is_mainland_mobile;
use crate::domain::receipt::{PaymentReceipt, TestPage};
use crate::domain::{Plate, PrintJob, Receipt};
use crate::privacy::Masked;
use crate::rules::cycle::CyclePreview;
use crate::rules::maintenance::local_time;
use crate::rules::payment::{HandlingState, PaymentWindow, check_payment};
use crate::rules::{EligibilityRequest, decide};

/// Phone numbers: 11 digits (a mainland mobile, `domain::phone`).
const PHONE_LEN: usize = crate::domain::phone::MOBILE_LEN;
/// SMS codes: 6 digits.
const CODE_LEN: usize = 6;
const PIN_MAX: usize = 12;
/// Plate after the province (渝): up to 7 letters and digits (new-energy plates have 6).
const PLATE_TAIL_MAX: usize = 7;

/// One step of the kiosk: the new state and what to do.
pub fn next(state: State, event: Event) -> (State, Vec<Effect>) {
    let mut effects = Vec::new();
    let state = step(state, event, &mut effects);
    (state, effects)
}

/// `card_left`: the card is still on the reader (退出, timeout), so 请取走身份证 stays until
/// `CardRemoved`.
fn wipe(mut ctx: Ctx, message: Message, card_left: bool, effects: &mut Vec<Effect>) -> State {
    ctx.message = Some(message);
    ctx.card_left = card_left;
    ctx.last_input = ctx.now;
    // The next person starts in the kiosk's language and mode, not the ones this person chose.
    ctx.lang = ctx.default_lang;
    ctx.elder = false;
    ctx.staff_call = StaffCallState::None;
    effects.push(Effect::SessionWiped);
    State::Attract {
        ctx,
        page: AttractPage::Welcome,
    }
}

/// What the result `event` carries says about the link: `Some(false)` the platform server could
/// not be reached, `Some(true)` it answered (a result or a refusal), `None` not a platform call.
fn link_state(event: &Event) -> Option<bool> {
    fn b<T>(r: &Result<T, BackendError>) -> bool {
        !matches!(r, Err(BackendError::Offline(_)))
    }
    fn f<T>(r: &Result<T, FilingError>) -> bool {
        !matches!(r, Err(FilingError::Backend(BackendError::Offline(_))))
    }
    Some(match event {
        Event::PersonLoaded(r) => b(r),
        Event::ViolationsLoaded(r) => b(r),
        Event::FilingsLoaded(r) => b(r),
        Event::Unfiled(r) => b(r),
        Event::RegisterCodeSent(r) => b(r),
        Event::Registered(r) => b(r),
        Event::FeedbackSent(r) => !matches!(
            r,
            Err(BackendError::Offline(_)) | Ok(FeedbackReceipt::Queued)
        ),
        Event::Handled(r) => !matches!(r, Err(HandleError::Backend(BackendError::Offline(_)))),
        Event::Paid(r) => !matches!(r, Err(PayError::Backend(BackendError::Offline(_)))),
        Event::FilingChecked(r) => f(r),
        Event::FilingSubmitted(r) => f(r),
        Event::OwnerCodeSent(r) => f(r),
        _ => return None,
    })
}

fn step(state: State, event: Event, fx: &mut Vec<Effect>) -> State {
    // A call that found the server out of reach: the kiosk is offline until a probe or another
    // call finds the link back (the attract screen probes at its next tick).
    // A platform call's answer (or its absence) is the freshest word on the link.
    let mut state = state;
    match link_state(&event) {
        Some(false) => {
            let ctx = state.ctx_mut();
            if ctx.online {
                ctx.online = false;
                ctx.last_probe = None;
            }
        }
        Some(true) => state.ctx_mut().online = true,
        None => {}
    }
    let state = step_event(state, event, fx);
    apply_pending_settings(state, fx)
}

/// Remote settings wait for the attract screen: none is applied while a session (or the
/// operator screen) runs, so a person's timeout, hall or language never change under them.
fn apply_pending_settings(mut state: State, fx: &mut Vec<Effect>) -> State {
    if let State::Attract { ctx, .. } = &mut state
        && let Some(s) = ctx.pending_settings.take()
    {
        let follow = ctx.lang == ctx.default_lang;
        ctx.apply_settings(&s);
        if follow {
            ctx.lang = ctx.default_lang;
        }
        tracing::info!("remote settings applied");
        if s.policy != ctx.remote_policy {
            ctx.remote_policy = s.policy.clone();
            fx.push(Effect::UsePolicy(s.policy.clone()));
        }
        fx.push(Effect::SettingsApplied(s));
    }
    state
}

fn step_event(state: State, event: Event, fx: &mut Vec<Effect>) -> State {
    // Events that mean the same in every state.
    match event {
        Event::LinkChecked(up) => {
            let mut state = state;
            let ctx = state.ctx_mut();
            if ctx.online != up {
                tracing::info!(online = up, "platform link changed");
            }
            ctx.online = up;
            return state;
        }
        Event::Tick(now) => return tick(state, now, fx),
        Event::OperatorPinChecked(right) => return pin_checked(state, right, fx),
        Event::Ui(Action::ToggleLanguage) => {
            let mut state = state;
            let ctx = state.ctx_mut();
            ctx.lang = match ctx.lang {
                Language::ZhCn => Language::En,
                Language::En => Language::ZhCn,
            };
            ctx.last_input = ctx.now;
            return state;
        }
        Event::Ui(Action::CallStaff) => return super::staff::call_staff(state, fx),
        Event::StaffCallAnswered(outcome) => return super::staff::answered(state, outcome),
        Event::Ui(Action::ToggleElder) => {
            let mut state = state;
            let ctx = state.ctx_mut();
            ctx.elder = !ctx.elder;
            ctx.last_input = ctx.now;
            return state;
        }
        Event::Health(h) => {
            let mut state = state;
            state.ctx_mut().health = Some(h);
            return state;
        }
        // Kept until the attract screen (`apply_pending_settings`); a newer one replaces it.
        Event::RemoteSettings(s) => {
            let mut state = state;
            state.ctx_mut().pending_settings = Some(s);
            return state;
        }
        Event::CardRemoved => {
            // Whatever the state, the card is gone: no more 请取走身份证.
            let mut state = state;
            state.ctx_mut().card_left = false;
            return match state {
                State::Session { ctx, session } => in_session(ctx, session, event, fx),
                state => state,
            };
        }
        _ => {}
    }
    match state {
        State::Attract { ctx, page } => attract(ctx, page, event, fx),
        State::Session { ctx, session } => in_session(ctx, session, event, fx),
        State::Operator { ctx } => operator(ctx, event, fx),
    }
}

fn tick(mut state: State, now: jiff::Timestamp, fx: &mut Vec<Effect>) -> State {
    state.ctx_mut().now = now;
    // The attract screen probes the link every LINK_PROBE (and at once after a call found the
    // server out of reach), so its offline notice comes and goes by itself.
    if let State::Attract { ctx, .. } = &mut state
        && ctx.probe_link
        && ctx
            .last_probe
            .is_none_or(|at| now.duration_since(at) >= LINK_PROBE)
    {
        ctx.last_probe = Some(now);
        fx.push(Effect::ProbeLink);
    }
    // The payment screen asks by itself whether the provider confirmed the payment (no
    // 已完成支付 touch); without a QR yet (the order could not be opened), it tries again.
    if let State::Session { ctx, session } = &mut state
        && let Screen::Payment {
            handling,
            qr,
            paying,
            since,
        } = &mut session.screen
        && !*paying
        && now.duration_since(*since) >= PAYMENT_POLL
    {
        let window = PaymentWindow {
            handled_at: handling.handled_at,
            deadline: handling.pay_by,
        };
        *since = now;
        if check_payment(HandlingState::HandledUnpaid, window, ctx.now).is_ok() {
            *paying = true;
            fx.push(payment_call(handling, qr.is_some()));
        }
    }
    let ctx = state.ctx_mut();
    let idle = now.duration_since(ctx.last_input).as_secs() >= i64::from(ctx.idle_limit());
    if !idle {
        return state;
    }
    match state {
        State::Session { ctx, session } => {
            tracing::info!("session timed out; wiped");
            drop(session);
            wipe(ctx, Message::SessionTimedOut, true, fx)
        }
        State::Operator { mut ctx } => {
            ctx.last_input = now;
            State::Attract {
                ctx,
                page: AttractPage::Welcome,
            }
        }
        State::Attract { mut ctx, .. } => {
            // Back to the welcome page; an old message (请取走身份证) is cleared too, and the
            // language returns to the kiosk's for whoever comes next.
            ctx.last_input = now;
            ctx.message = None;
            ctx.lang = ctx.default_lang;
            ctx.elder = false;
            State::Attract {
                ctx,
                page: AttractPage::Welcome,
            }
        }
    }
}

fn start_session(mut ctx: Ctx, card: crate::domain::IdCard, fx: &mut Vec<Effect>) -> State {
    tracing::info!(id = %card.id_number, "card placed; session starts");
    ctx.message = None;
    ctx.card_left = false;
    ctx.last_input = ctx.now;
    ctx.staff_call = StaffCallState::None;
    fx.push(Effect::LoadPerson(card.id_number.clone()));
    State::Session {
        ctx,
        session: Box::new(Session {
            card,
            person: None,
            face_verified: false,
            screen: Screen::LoadingPerson,
            owner_code: None,
        }),
    }
}

fn attract(mut ctx: Ctx, page: AttractPage, event: Event, fx: &mut Vec<Effect>) -> State {
    let keep = |ctx: Ctx, page: AttractPage| State::Attract { ctx, page };
    match event {
        Event::CardPlaced(card) => start_session(ctx, card, fx),
        Event::Ui(action) => {
            ctx.last_input = ctx.now;
            ctx.message = None;
            match (page, action) {
                (AttractPage::OperatorPin { mut entered }, a) => match a {
                    Action::Key(c) if c.is_ascii_digit() => {
                        entered.push(c, PIN_MAX);
                        keep(ctx, AttractPage::OperatorPin { entered })
                    }
                    Action::Backspace => {
                        entered.pop();
                        keep(ctx, AttractPage::OperatorPin { entered })
                    }
                    Action::SubmitCode if ctx.pin_checking || entered.is_empty() => {
                        keep(ctx, AttractPage::OperatorPin { entered })
                    }
                    Action::SubmitCode => {
                        let cleared = AttractPage::OperatorPin {
                            entered: KeyEntry::default(),
                        };
                        match ctx.pin_wait_until.filter(|until| ctx.now < *until) {
                            // Too soon after a wrong PIN, or locked: not even checked, but
                            // recorded.
                            Some(until) => {
                                let locked = ctx.pin_failures >= PIN_LOCKOUT_AFTER;
                                ctx.message = Some(if locked {
                                    Message::PinLocked { until }
                                } else {
                                    Message::PinWait { until }
                                });
                                fx.push(Effect::RecordOperatorEvent {
                                    kind: "operator_pin_refused",
                                    detail: format!(
                                        "PIN not checked: {} until {}",
                                        if locked { "locked" } else { "waiting" },
                                        local_time(until).strftime("%H:%M:%S")
                                    ),
                                });
                                keep(ctx, cleared)
                            }
                            None => {
                                ctx.pin_checking = true;
                                fx.push(Effect::VerifyOperatorPin {
                                    entered: Masked::new(entered.text().to_string()),
                                    secret: ctx.operator_secret.clone(),
                                });
                                keep(ctx, cleared)
                            }
                        }
                    }
                    Action::Back | Action::Exit | Action::Home => keep(ctx, AttractPage::Welcome),
                    _ => keep(ctx, AttractPage::OperatorPin { entered }),
                },
                (_, Action::Start) => keep(ctx, AttractPage::PlaceCard),
                (_, Action::Open(Service::Help)) => keep(ctx, AttractPage::Help),
                (_, Action::Open(Service::DownloadApp)) => keep(ctx, AttractPage::DownloadApp),
                (_, Action::OperatorEntry) => keep(
                    ctx,
                    AttractPage::OperatorPin {
                        entered: KeyEntry::default(),
                    },
                ),
                (_, Action::Back | Action::Home | Action::Exit) => keep(ctx, AttractPage::Welcome),
                (page, _) => keep(ctx, page),
            }
        }
        Event::Scanned(_) => {
            ctx.message = Some(Message::ScanNotExpected);
            keep(ctx, page)
        }
        Event::PrintFinished(outcome) => {
            note_print(&mut ctx, &outcome);
            keep(ctx, page)
        }
        _ => keep(ctx, page),
    }
}

/// The worker's answer on an operator PIN: a right one opens the operator screen (if the PIN
/// page is still open) and resets the count; a wrong one sets the delay before the next try
/// ([`pin_delay`]), and the 5th in a row locks the screen for [`PIN_LOCKOUT`]. Each is recorded.
fn pin_checked(mut state: State, right: bool, fx: &mut Vec<Effect>) -> State {
    let ctx = state.ctx_mut();
    ctx.pin_checking = false;
    if right {
        let failures = std::mem::take(&mut ctx.pin_failures);
        ctx.pin_wait_until = None;
        fx.push(Effect::RecordOperatorEvent {
            kind: "operator_pin_ok",
            detail: format!("operator screen opened (after {failures} wrong PINs)"),
        });
        return match state {
            State::Attract {
                ctx,
                page: AttractPage::OperatorPin { .. },
            } => {
                tracing::info!("operator screen opened");
                fx.push(Effect::QueryHealth);
                State::Operator { ctx }
            }
            // The page was left meanwhile (a card placed): nothing opens.
            state => state,
        };
    }
    ctx.pin_failures = ctx.pin_failures.saturating_add(1);
    let failures = ctx.pin_failures;
    let until = ctx.now + pin_delay(failures);
    ctx.pin_wait_until = Some(until);
    let locked = failures >= PIN_LOCKOUT_AFTER;
    tracing::warn!(failures, locked, "wrong operator PIN");
    ctx.record_error("wrong operator PIN".into());
    fx.push(Effect::RecordOperatorEvent {
        kind: if locked {
            "operator_pin_locked"
        } else {
            "operator_pin_wrong"
        },
        detail: if locked {
            format!(
                "wrong PIN, {failures} in a row: operator screen locked until {}",
                local_time(until).strftime("%H:%M:%S")
            )
        } else {
            format!("wrong PIN, {failures} in a row")
        },
    });
    if let State::Attract {
        ctx,
        page: AttractPage::OperatorPin { .. },
    } = &mut state
    {
        ctx.message = Some(if locked {
            Message::PinLocked { until }
        } else {
            Message::WrongPin
        });
    }
    state
}

fn note_print(ctx: &mut Ctx, outcome: &PrintOutcome) {
    if *outcome != PrintOutcome::Printed {
        ctx.record_error(format!("printer: {outcome:?}"));
    }
    ctx.last_print = Some(outcome.clone());
}

fn operator(mut ctx: Ctx, event: Event, fx: &mut Vec<Effect>) -> State {
    match event {
        Event::Ui(action) => {
            ctx.last_input = ctx.now;
            match action {
                Action::OperatorTestPrint => {
                    fx.push(Effect::Print(PrintJob::new(Receipt::TestPage(TestPage {
                        kiosk_id: ctx.kiosk_id.clone(),
                        at: ctx.now,
                    }))))
                }
                Action::OperatorReprint => {
                    if let Some(r) = ctx.last_receipt.clone() {
                        tracing::info!(receipt = r.title(), "reprint (补打)");
                        fx.push(Effect::Print(PrintJob::reprint(r, ctx.now)));
                    }
                }
                Action::OperatorRefresh => fx.push(Effect::QueryHealth),
                Action::OperatorClose | Action::Exit | Action::Back => {
                    tracing::info!("operator screen closed");
                    return State::Attract {
                        ctx,
                        page: AttractPage::Welcome,
                    };
                }
                _ => {}
            }
            State::Operator { ctx }
        }
        Event::PrintFinished(outcome) => {
            note_print(&mut ctx, &outcome);
            State::Operator { ctx }
        }
        _ => State::Operator { ctx },
    }
}

/// 缴款凭证 of a paid handling: the person's name only masked; the fee is 七.1's.
/// The payment screen's call: open the order (no QR yet), else ask whether it is paid.
fn payment_call(handling: &HandlingView, ordered: bool) -> Effect {
    let decision = handling.decision.clone();
    if ordered {
        Effect::Pay { decision }
    } else {
        Effect::PaymentOrder { decision }
    }
}

fn payment_receipt(ctx: &Ctx, s: &Session, h: &HandlingView, p: &PaymentView) -> Receipt {
    Receipt::Payment(PaymentReceipt {
        kiosk_id: ctx.kiosk_id.clone(),
        decision_number: h.decision.clone(),
        plate: h.plate.clone(),
        // Kept for the operator's reprint after the session ends: only the masked form (李*红).
        payer_name: Masked::new(s.card.name.masked()),
        fine: h.fines,
        surcharge: h.surcharge,
        fee: h.fee,
        method: "扫码支付".into(),
        transaction_number: p.reference.clone(),
        paid_at: p.paid_at,
        sealed_code: p.sealed_code.clone().map(Box::new),
    })
}

fn with(ctx: Ctx, session: Box<Session>) -> State {
    State::Session { ctx, session }
}

fn in_session(mut ctx: Ctx, mut s: Box<Session>, event: Event, fx: &mut Vec<Effect>) -> State {
    let id = s.card.id_number.clone();
    match event {
        Event::CardRemoved => {
            tracing::info!("card removed; session wiped");
            drop(s);
            wipe(ctx, Message::SessionEnded, false, fx)
        }
        Event::CardPlaced(card) => {
            // A different card without a removal in between: the old session ends first.
            drop(s);
            fx.push(Effect::SessionWiped);
            ctx.lang = ctx.default_lang;
            ctx.elder = false;
            start_session(ctx, card, fx)
        }
        Event::Ui(action) => {
            ctx.last_input = ctx.now;
            ctx.message = None;
            session_action(ctx, s, action, fx)
        }
        Event::Scanned(token) => {
            // The filings list takes the owner's code as well: scanning needs no touch first.
            if matches!(
                s.screen,
                Screen::FilingEntry(FilingEntry::Scan) | Screen::Filings(_)
            ) {
                ctx.last_input = ctx.now;
                fx.push(Effect::CheckFilingQr {
                    id,
                    token: token.trim().to_string(),
                });
            } else {
                ctx.message = Some(Message::ScanNotExpected);
            }
            with(ctx, s)
        }
        Event::PersonLoaded(result) => {
            if s.screen != Screen::LoadingPerson {
                return with(ctx, s);
            }
            match result {
                Ok(person) => {
                    s.person = Some(person);
                    s.screen = Screen::Identity;
                }
                Err(e) => {
                    ctx.record_error(format!("platform: {e}"));
                    ctx.message = Some(Message::Backend(e));
                    s.screen = Screen::Unavailable;
                }
            }
            with(ctx, s)
        }
        Event::FaceChecked(outcome) => {
            let Screen::Face { purpose, attempts } = &s.screen else {
                return with(ctx, s);
            };
            let (purpose, attempts) = (purpose.clone(), *attempts);
            if outcome != super::ports::FaceOutcome::Match {
                // The operator's screen lists what failed (a no match is the person's, not the kiosk's).
                match outcome {
                    super::ports::FaceOutcome::Unavailable => {
                        ctx.record_error("face check: camera unavailable".into());
                    }
                    super::ports::FaceOutcome::ServiceUnavailable => {
                        ctx.record_error("face check: verification service unavailable".into());
                    }
                    _ => {}
                }
                ctx.message = Some(Message::Face(outcome));
                s.screen = Screen::Face {
                    purpose,
                    attempts: attempts + 1,
                };
                return with(ctx, s);
            }
            match purpose {
                FacePurpose::Login => {
                    s.face_verified = true;
                    s.screen = Screen::Services;
                }
                FacePurpose::Filing(candidate) => {
                    fx.push(Effect::SubmitFiling {
                        id,
                        candidate: candidate.clone(),
                    });
                    s.screen = Screen::FilingConfirm(candidate);
                }
            }
            with(ctx, s)
        }
        Event::ViolationsLoaded(result) => {
            if s.screen != Screen::ChooseVehicle {
                return with(ctx, s);
            }
            match result {
                Ok(list) => {
                    let mut sel = Box::new(Selection {
                        list,
                        selected: Vec::new(),
                        decisions: Vec::new(),
                        cycle: None,
                        dispute: None,
                    });
                    preselect(&ctx, s.person.as_ref(), &mut sel);
                    s.screen = Screen::Violations(sel);
                }
                Err(e) => {
                    ctx.record_error(format!("platform: {e}"));
                    ctx.message = Some(Message::Backend(e));
                }
            }
            with(ctx, s)
        }
        Event::Handled(result) => {
            let Screen::Notices { selection, .. } = &s.screen else {
                return with(ctx, s);
            };
            match result {
                Ok(handling) => {
                    tracing::info!(decision = %handling.decision, "handled");
                    fx.push(payment_call(&handling, false));
                    s.screen = Screen::Payment {
                        handling,
                        qr: None,
                        paying: true,
                        since: ctx.now,
                    };
                }
                Err(HandleError::Refused(decisions)) => {
                    let mut sel = selection.clone();
                    ctx.message = Some(Message::Refused(
                        decisions.into_iter().filter(|d| !d.eligible()).collect(),
                    ));
                    redecide(&ctx, s.person.as_ref(), &mut sel);
                    s.screen = Screen::Violations(sel);
                }
                Err(HandleError::Backend(e)) => {
                    ctx.record_error(format!("platform: {e}"));
                    ctx.message = Some(Message::Backend(e));
                }
            }
            with(ctx, s)
        }
        Event::PaymentOrdered(result) => {
            let Screen::Payment {
                handling,
                qr,
                paying: true,
                ..
            } = &s.screen
            else {
                return with(ctx, s);
            };
            let handling = handling.clone();
            let mut qr = qr.clone();
            match result {
                Ok(q) | Err(PayError::NotYet(q)) => qr = Some(q),
                Err(e) => {
                    ctx.record_error(format!("payment order: {e}"));
                    ctx.message = Some(match e {
                        PayError::Refused(r) => Message::PayRefused(r),
                        e => Message::Pay(e),
                    });
                }
            }
            s.screen = Screen::Payment {
                handling,
                qr,
                paying: false,
                since: ctx.now,
            };
            with(ctx, s)
        }
        Event::Paid(result) => {
            let Screen::Payment {
                handling,
                qr,
                paying: true,
                ..
            } = &s.screen
            else {
                return with(ctx, s);
            };
            let handling = handling.clone();
            let qr = qr.clone();
            match result {
                Ok(payment) if payment.decision == handling.decision => {
                    tracing::info!(decision = %payment.decision, "paid");
                    let receipt = payment_receipt(&ctx, &s, &handling, &payment);
                    ctx.last_receipt = Some(receipt.clone());
                    fx.push(Effect::Print(PrintJob::new(receipt)));
                    s.screen = Screen::Printing { handling, payment };
                }
                Ok(other) => {
                    ctx.record_error(format!(
                        "payment for {} while paying {}",
                        other.decision, handling.decision
                    ));
                    s.screen = Screen::Payment {
                        handling,
                        qr,
                        paying: false,
                        since: ctx.now,
                    };
                }
                // Not confirmed yet: keep showing the provider's QR (the next order's, when
                // several decisions are paid one after another) and ask again.
                Err(PayError::NotYet(q)) => {
                    s.screen = Screen::Payment {
                        handling,
                        qr: Some(q),
                        paying: false,
                        since: ctx.now,
                    };
                }
                Err(e) => {
                    ctx.record_error(format!("payment: {e}"));
                    ctx.message = Some(Message::Pay(e));
                    s.screen = Screen::Payment {
                        handling,
                        qr,
                        paying: false,
                        since: ctx.now,
                    };
                }
            }
            with(ctx, s)
        }
        Event::PrintFinished(printed) => {
            note_print(&mut ctx, &printed);
            if let Screen::Printing { handling, payment } = &s.screen {
                s.screen = Screen::Done {
                    handling: handling.clone(),
                    payment: payment.clone(),
                    printed,
                };
            }
            with(ctx, s)
        }
        Event::FilingsLoaded(result) => {
            if !matches!(s.screen, Screen::Services | Screen::Filings(_)) {
                return with(ctx, s);
            }
            match result {
                Ok(list) => s.screen = Screen::Filings(list),
                Err(e) => ctx.message = Some(Message::Backend(e)),
            }
            with(ctx, s)
        }
        Event::FilingChecked(result) => {
            // A scan is taken on the filings list too (its 扫码 tile only explains how).
            if !matches!(s.screen, Screen::FilingEntry(_) | Screen::Filings(_)) {
                return with(ctx, s);
            }
            match result {
                Ok(candidate) => s.screen = Screen::FilingConfirm(candidate),
                Err(e) => {
                    // A refused code is cleared for the next try; a burned one asks for a new one.
                    if let Screen::FilingEntry(FilingEntry::Sms { code, sent, .. }) = &mut s.screen
                    {
                        *code = KeyEntry::default();
                        if matches!(&e, FilingError::Backend(b) if code_burned(b)) {
                            *sent = None;
                        }
                    }
                    filing_error(&mut ctx, e)
                }
            }
            with(ctx, s)
        }
        Event::OwnerCodeSent(result) => {
            if let Screen::FilingEntry(FilingEntry::Sms { sent, .. }) = &mut s.screen {
                match result {
                    Ok(v) => {
                        s.owner_code = Some(v.clone());
                        *sent = Some(v);
                    }
                    Err(e) => filing_error(&mut ctx, e),
                }
            }
            with(ctx, s)
        }
        Event::FilingSubmitted(result) => {
            let Screen::FilingConfirm(candidate) = &s.screen else {
                return with(ctx, s);
            };
            match result {
                Ok(f) => s.screen = Screen::FilingSubmitted(f),
                Err(FilingError::Backend(e @ BackendError::WrongCode { .. })) => {
                    // The code was checked at its entry; the filing checks it again and uses
                    // it, and it may have expired since (or been burned): back to its entry,
                    // cleared, with the tries left (burned or expired: back to 发送验证码, the
                    // plate kept).
                    if let Some((plate, sent)) = s.owner_code.clone()
                        && plate == candidate.plate
                    {
                        let tail: String = plate.as_str().chars().skip(1).collect();
                        s.screen = Screen::FilingEntry(FilingEntry::Sms {
                            plate: KeyEntry::from_text(&tail, PLATE_TAIL_MAX),
                            code: KeyEntry::default(),
                            sent: (!code_burned(&e)).then_some((plate, sent)),
                        });
                    }
                    filing_error(&mut ctx, FilingError::Backend(e));
                }
                Err(e) => filing_error(&mut ctx, e),
            }
            with(ctx, s)
        }
        Event::Unfiled(result) => {
            match result {
                Ok(()) => {
                    ctx.message = Some(Message::Unfiled);
                    fx.push(Effect::LoadFilings(id));
                }
                Err(e) => ctx.message = Some(Message::Backend(e)),
            }
            with(ctx, s)
        }
        Event::RegisterCodeSent(result) => {
            if let Screen::Register { sent, .. } = &mut s.screen {
                match result {
                    Ok(v) => *sent = Some(v),
                    Err(e) => ctx.message = Some(Message::Backend(e)),
                }
            }
            with(ctx, s)
        }
        Event::Registered(result) => {
            if let Screen::Register {
                done, code, sent, ..
            } = &mut s.screen
            {
                match result {
                    Ok(()) => *done = true,
                    Err(e) => {
                        // The code is cleared for the next try; a burned or expired one sends the
                        // person back to 发送验证码 (the number stays).
                        *code = KeyEntry::default();
                        if code_burned(&e) {
                            *sent = None;
                        }
                        ctx.message = Some(Message::Backend(e));
                    }
                }
            }
            with(ctx, s)
        }
        Event::FeedbackSent(result) => {
            if let Screen::Feedback { sent } = &mut s.screen {
                match result {
                    Ok(FeedbackReceipt::Recorded) => {
                        *sent = true;
                        ctx.message = Some(Message::FeedbackThanks);
                    }
                    Ok(FeedbackReceipt::Queued) => {
                        *sent = true;
                        ctx.message = Some(Message::FeedbackQueued);
                    }
                    Err(e) => ctx.message = Some(Message::Backend(e)),
                }
            }
            with(ctx, s)
        }
        Event::Tick(_)
        | Event::Health(_)
        | Event::RemoteSettings(_)
        | Event::LinkChecked(_)
        | Event::StaffCallAnswered(_)
        | Event::OperatorPinChecked(_) => with(ctx, s),
    }
}

/// The SMS code can no longer be used (burned after wrong tries, or expired): a new one must be
/// requested.
fn code_burned(e: &BackendError) -> bool {
    matches!(
        e,
        BackendError::WrongCode {
            tries_left: Some(0)
        }
    )
}

fn filing_error(ctx: &mut Ctx, e: FilingError) {
    if let FilingError::Backend(b) = &e {
        ctx.record_error(format!("platform: {b}"));
    }
    ctx.message = Some(Message::Filing(e));
}

/// The vehicle to open without asking: the person's only vehicle, or the only one with pending
/// violations.
fn auto_vehicle(p: &PersonView) -> Option<Plate> {
    if let [only] = p.vehicles.as_slice() {
        return Some(only.facts.plate.clone());
    }
    let mut pending = p.vehicles.iter().filter(|v| v.pending > 0);
    match (pending.next(), pending.next()) {
        (Some(one), None) => Some(one.facts.plate.clone()),
        _ => None,
    }
}

/// Tick every violation that can be handled, in list order, as long as they can all be handled
/// together (the rule core decides the selection, e.g. the 12-point limit of 四.3).
fn preselect(ctx: &Ctx, person: Option<&PersonView>, sel: &mut Selection) {
    let ids: Vec<String> = sel
        .list
        .violations
        .iter()
        .filter(|v| v.decision.eligible())
        .map(|v| v.facts.id.clone())
        .collect();
    // Maintenance window: nothing can be handled now; nothing is ticked.
    if ctx.maintenance_notice().is_some() {
        redecide(ctx, person, sel);
        return;
    }
    for id in ids {
        sel.selected.push(id.clone());
        redecide(ctx, person, sel);
        if !sel.all_eligible() {
            sel.selected.retain(|x| *x != id);
        }
    }
    redecide(ctx, person, sel);
}

/// Re-decide the ticked violations together with the rule core, and the cycle preview.
fn redecide(ctx: &Ctx, person: Option<&PersonView>, sel: &mut Selection) {
    let facts = sel
        .list
        .violations
        .iter()
        .filter(|v| sel.selected.contains(&v.facts.id))
        .map(|v| v.facts.clone())
        .collect();
    let req = EligibilityRequest {
        now: ctx.now,
        violations: facts,
        ..sel.list.request.clone()
    };
    sel.decisions = decide(&req);
    let points_after = sel
        .decisions
        .iter()
        .filter(|d| d.eligible())
        .map(|d| d.points_after)
        .next_back()
        .unwrap_or(req.driver.cycle_points + req.driver.pending_points);
    sel.cycle = person
        .and_then(|p| p.licence_first_issued)
        .map(|first| CyclePreview::new(points_after, first, local_time(ctx.now).date()));
}

fn session_action(
    mut ctx: Ctx,
    mut s: Box<Session>,
    action: Action,
    fx: &mut Vec<Effect>,
) -> State {
    let id = s.card.id_number.clone();
    // Leaving is possible from every screen.
    match action {
        Action::Exit => {
            drop(s);
            return wipe(ctx, Message::SessionEnded, true, fx);
        }
        Action::StillHere => return with(ctx, s),
        // 帮助 in the header, on every screen but while a call decides the screen or a payment
        // is open (a handled decision stays on its payment screen until paid or left).
        Action::Open(Service::Help)
            if !matches!(
                s.screen,
                Screen::LoadingPerson
                    | Screen::Payment { .. }
                    | Screen::Printing { .. }
                    | Screen::Face { .. }
                    | Screen::ChooseVehicle
                    | Screen::Notices { .. }
            ) =>
        {
            s.screen = Screen::Help;
            return with(ctx, s);
        }
        Action::Home if s.face_verified => {
            // A handled decision stays on its payment screen until paid or the person leaves;
            // after that it is payable from the vehicle's 待缴款 list until the 六.2 revert.
            if !matches!(s.screen, Screen::Payment { .. } | Screen::Printing { .. }) {
                s.screen = Screen::Services;
            }
            return with(ctx, s);
        }
        _ => {}
    }
    let screen = std::mem::replace(&mut s.screen, Screen::Services);
    s.screen = match (screen, action) {
        // One touch confirms the identity and starts the face check (fewer touches, issue 13).
        (Screen::Identity, Action::Continue) => {
            fx.push(Effect::VerifyFace(id));
            Screen::Face {
                purpose: FacePurpose::Login,
                attempts: 0,
            }
        }
        (Screen::Face { purpose, attempts }, Action::StartFace) => {
            fx.push(Effect::VerifyFace(id));
            Screen::Face { purpose, attempts }
        }
        (
            Screen::Face {
                purpose: FacePurpose::Filing(c),
                ..
            },
            Action::Back,
        ) => Screen::FilingConfirm(c),
        (Screen::Services, Action::Open(service)) => match service {
            Service::Violations => {
                // One vehicle is chosen for you: the only one, or the only one with pending
                // violations.
                if let Some(plate) = s.person.as_ref().and_then(auto_vehicle) {
                    fx.push(Effect::LoadViolations { id, plate });
                }
                Screen::ChooseVehicle
            }
            Service::Filing => {
                fx.push(Effect::LoadFilings(id));
                Screen::Filings(Vec::new())
            }
            Service::Register => Screen::Register {
                phone: KeyEntry::default(),
                code: KeyEntry::default(),
                sent: None,
                done: false,
            },
            Service::Feedback => Screen::Feedback { sent: false },
            Service::DownloadApp => Screen::DownloadApp,
            Service::Help => Screen::Help,
        },
        (Screen::ChooseVehicle, Action::ChooseVehicle(plate)) => {
            fx.push(Effect::LoadViolations { id, plate });
            Screen::ChooseVehicle
        }
        (Screen::ChooseVehicle, Action::Back) => Screen::Services,
        (Screen::Violations(mut sel), action) => match action {
            Action::ToggleViolation(v) => {
                let eligible_alone = sel
                    .list
                    .violations
                    .iter()
                    .find(|x| x.facts.id == v)
                    .map(|x| x.decision.eligible());
                match eligible_alone {
                    Some(_) if sel.selected.contains(&v) => sel.selected.retain(|x| *x != v),
                    Some(true) => {
                        sel.selected.push(v);
                        let order: Vec<String> = sel
                            .list
                            .violations
                            .iter()
                            .map(|x| x.facts.id.clone())
                            .filter(|x| sel.selected.contains(x))
                            .collect();
                        sel.selected = order;
                    }
                    Some(false) => {
                        if let Some(x) = sel.list.violations.iter().find(|x| x.facts.id == v) {
                            ctx.message = Some(Message::Refused(vec![x.decision.clone()]));
                        }
                    }
                    None => {}
                }
                redecide(&ctx, s.person.as_ref(), &mut sel);
                Screen::Violations(sel)
            }
            Action::ShowDispute(v) => {
                sel.dispute = Some(v);
                Screen::Violations(sel)
            }
            Action::CloseDispute => {
                sel.dispute = None;
                Screen::Violations(sel)
            }
            Action::ToNotices => {
                redecide(&ctx, s.person.as_ref(), &mut sel);
                if let Some(m) = ctx.maintenance_notice() {
                    ctx.message = Some(m);
                    Screen::Violations(sel)
                } else if sel.selected.is_empty() {
                    ctx.message = Some(Message::NothingSelected);
                    Screen::Violations(sel)
                } else if !sel.all_eligible() {
                    ctx.message = Some(Message::Refused(
                        sel.decisions
                            .iter()
                            .filter(|d| !d.eligible())
                            .cloned()
                            .collect(),
                    ));
                    Screen::Violations(sel)
                } else {
                    // Paper-out must be said before paying: ask the devices now.
                    fx.push(Effect::QueryHealth);
                    Screen::Notices {
                        selection: sel,
                        agreed: false,
                    }
                }
            }
            Action::PayUnpaid(decision) => {
                match sel.list.unpaid.iter().find(|h| h.decision == decision) {
                    Some(handling) => {
                        // The same payment screen as right after handling; paper-out is said first.
                        fx.push(Effect::QueryHealth);
                        fx.push(payment_call(handling, false));
                        Screen::Payment {
                            handling: handling.clone(),
                            qr: None,
                            paying: true,
                            since: ctx.now,
                        }
                    }
                    None => Screen::Violations(sel),
                }
            }
            // Back to the vehicles only when there was a choice to make.
            Action::Back if s.person.as_ref().and_then(auto_vehicle).is_some() => Screen::Services,
            Action::Back => Screen::ChooseVehicle,
            _ => Screen::Violations(sel),
        },
        (Screen::Notices { selection, agreed }, action) => match action {
            Action::SetAgreed(a) => Screen::Notices {
                selection,
                agreed: a,
            },
            // 【阅读并同意】: the touch that agrees is the touch that handles (one step).
            Action::Handle => {
                let agreed = true;
                if let Some(m) = ctx.maintenance_notice() {
                    ctx.message = Some(m);
                } else {
                    ctx.seq += 1;
                    fx.push(Effect::Handle {
                        id,
                        plate: selection.list.plate.clone(),
                        violations: selection.selected.clone(),
                        key: format!("{}-{}-{}", ctx.kiosk_id, ctx.now.as_millisecond(), ctx.seq),
                    });
                }
                Screen::Notices { selection, agreed }
            }
            Action::Back => Screen::Violations(selection),
            _ => Screen::Notices { selection, agreed },
        },
        (
            Screen::Payment {
                handling,
                qr,
                paying,
                since,
            },
            action,
        ) => match action {
            // 已完成支付: ask now (records nothing by itself: only the provider's word does).
            Action::Pay if !paying => {
                let window = PaymentWindow {
                    handled_at: handling.handled_at,
                    deadline: handling.pay_by,
                };
                match check_payment(HandlingState::HandledUnpaid, window, ctx.now) {
                    Ok(()) => {
                        fx.push(payment_call(&handling, qr.is_some()));
                        Screen::Payment {
                            handling,
                            qr,
                            paying: true,
                            since,
                        }
                    }
                    Err(r) => {
                        ctx.message = Some(Message::PayRefused(r));
                        Screen::Payment {
                            handling,
                            qr,
                            paying,
                            since,
                        }
                    }
                }
            }
            _ => Screen::Payment {
                handling,
                qr,
                paying,
                since,
            },
        },
        (Screen::Done { .. } | Screen::Printing { .. }, Action::Back) => Screen::Services,
        (Screen::Filings(list), action) => match action {
            Action::FilingScan => Screen::FilingEntry(FilingEntry::Scan),
            Action::FilingSms => Screen::FilingEntry(FilingEntry::Sms {
                plate: KeyEntry::default(),
                code: KeyEntry::default(),
                sent: None,
            }),
            Action::Unfile(f) => {
                fx.push(Effect::Unfile { id, filing: f });
                Screen::Filings(list)
            }
            Action::Back => Screen::Services,
            _ => Screen::Filings(list),
        },
        (Screen::FilingEntry(entry), action) => filing_entry(&mut ctx, id, entry, action, fx),
        // Confirming starts the face check at once.
        (Screen::FilingConfirm(c), Action::ConfirmFiling) => {
            fx.push(Effect::VerifyFace(id));
            Screen::Face {
                purpose: FacePurpose::Filing(c),
                attempts: 0,
            }
        }
        (Screen::FilingConfirm(_) | Screen::FilingSubmitted(_), Action::Back) => {
            fx.push(Effect::LoadFilings(id));
            Screen::Filings(Vec::new())
        }
        (
            Screen::Register {
                mut phone,
                mut code,
                sent,
                done,
            },
            action,
        ) => {
            if done {
                return with_screen(
                    ctx,
                    s,
                    if action == Action::Back {
                        Screen::Services
                    } else {
                        Screen::Register {
                            phone,
                            code,
                            sent,
                            done,
                        }
                    },
                );
            }
            // A full code has been submitted: the keypad waits for the answer, which clears it
            // if it was wrong.
            let submitted = code.len() == CODE_LEN;
            match action {
                Action::Key(c) if c.is_ascii_digit() => {
                    if sent.is_none() {
                        phone.push(c, PHONE_LEN);
                        // Said as soon as the 11th digit is in, before anything is sent.
                        if phone.len() == PHONE_LEN && !is_mainland_mobile(phone.text()) {
                            ctx.message = Some(Message::NotAMobile);
                        }
                    } else if !submitted {
                        code.push(c, CODE_LEN);
                        // The 6th digit submits the code: no 确定 to find.
                        if code.len() == CODE_LEN {
                            fx.push(Effect::Register {
                                id,
                                phone: Masked::new(phone.text().to_string()),
                                code: code.text().to_string(),
                            });
                        }
                    }
                }
                Action::Backspace => {
                    if sent.is_none() {
                        phone.pop();
                    } else if !submitted {
                        code.pop();
                    }
                }
                Action::SendCode => {
                    if is_mainland_mobile(phone.text()) {
                        fx.push(Effect::RequestRegisterCode {
                            id,
                            phone: Masked::new(phone.text().to_string()),
                        });
                    } else if phone.len() == PHONE_LEN {
                        ctx.message = Some(Message::NotAMobile);
                    } else {
                        ctx.message = Some(Message::BadEntry);
                    }
                }
                // No 确定 on the screen any more (the 6th digit submits); a short code is said.
                Action::SubmitCode if sent.is_some() && !submitted => {
                    ctx.message = Some(Message::BadEntry);
                }
                Action::Back => return with_screen(ctx, s, Screen::Services),
                _ => {}
            }
            Screen::Register {
                phone,
                code,
                sent,
                done,
            }
        }
        (Screen::Feedback { sent }, action) => match action {
            Action::Feedback(topic) if !sent => {
                fx.push(Effect::Feedback { id, topic });
                Screen::Feedback { sent }
            }
            Action::Back => Screen::Services,
            _ => Screen::Feedback { sent },
        },
        // Before face verification there is no menu to go back to.
        (Screen::DownloadApp | Screen::Help, Action::Back) if !s.face_verified => Screen::Identity,
        (Screen::DownloadApp | Screen::Help, Action::Back) => Screen::Services,
        (screen, _) => screen,
    };
    with(ctx, s)
}

fn with_screen(ctx: Ctx, mut s: Box<Session>, screen: Screen) -> State {
    s.screen = screen;
    with(ctx, s)
}

fn filing_entry(
    ctx: &mut Ctx,
    id: crate::domain::IdNumber,
    entry: FilingEntry,
    action: Action,
    fx: &mut Vec<Effect>,
) -> Screen {
    match entry {
        FilingEntry::Scan => match action {
            Action::Back => {
                fx.push(Effect::LoadFilings(id));
                Screen::Filings(Vec::new())
            }
            _ => Screen::FilingEntry(FilingEntry::Scan),
        },
        FilingEntry::Sms {
            mut plate,
            mut code,
            sent,
        } => {
            // A full code has been submitted: the keypad waits for the answer.
            let submitted = code.len() == CODE_LEN;
            match action {
                Action::Key(c) if c.is_ascii_alphanumeric() => {
                    if sent.is_none() {
                        plate.push(c.to_ascii_uppercase(), PLATE_TAIL_MAX);
                    } else if c.is_ascii_digit() && !submitted {
                        code.push(c, CODE_LEN);
                        // The 6th digit submits the code: no 确定 to find.
                        if let Some((p, _)) = &sent
                            && code.len() == CODE_LEN
                        {
                            fx.push(Effect::CheckOwnerCode {
                                id,
                                plate: p.clone(),
                                code: code.text().to_string(),
                            });
                        }
                    }
                }
                Action::Backspace => {
                    if sent.is_none() {
                        plate.pop();
                    } else if !submitted {
                        code.pop();
                    }
                }
                Action::SendCode => match Plate::parse(&format!("渝{}", plate.text())) {
                    Ok(p) => fx.push(Effect::RequestOwnerCode { id, plate: p }),
                    Err(_) => ctx.message = Some(Message::BadEntry),
                },
                // No 确定 on the screen any more (the 6th digit submits); a short code is said.
                Action::SubmitCode if !submitted => ctx.message = Some(Message::BadEntry),
                Action::Back => {
                    fx.push(Effect::LoadFilings(id));
                    return Screen::Filings(Vec::new());
                }
                _ => {}
            }
            Screen::FilingEntry(FilingEntry::Sms { plate, code, sent })
        }
    }
}
