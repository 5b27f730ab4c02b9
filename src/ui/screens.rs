//! The kiosk screen. Every frame has the same fixed regions, so nothing moves under the finger:
//!
//! ```text
//! ┌ header: hall · time ····························· 帮助 · 长辈模式 · English · 退出 ┐
//! │ steps: ① 读卡 → ② 核验 → ③ 选择 → ④ 缴款 → ⑤ 凭条   (or the service's name)            │
//! │ message strip (reserved, empty when there is nothing to say; the idle countdown here) │
//! │ content (scrolls inside its region)                                                  │
//! └ action bar: 返回 · 首页 ······································· the one primary ┘
//! ```
//!
//! Each state's screen draws its content and returns its [`Bar`]; the bar, the header and the
//! strip are drawn in rectangles computed from the panel size alone, never from the content.
//! Every size comes from [`Metrics`] (millimetres on the configured panel, ×1.4 in 长辈模式).

use egui::{Align, Align2, Color32, FontId, Layout, Pos2, Rect, RichText, Sense, Stroke, Ui, vec2};

use super::i18n::{self, T, tr};
use super::theme::{self, Metrics};
use crate::config::Language;
use crate::domain::Fen;
use crate::flow::ports::{FeedbackTopic, PrintOutcome, VehicleView, ViolationView};
use crate::flow::*;
use crate::rules::Relation;
use crate::rules::maintenance::local_time;

/// What every screen needs besides the state.
pub(super) struct View {
    pub lang: Language,
    /// Sizes on the configured panel, in this mode.
    pub m: Metrics,
    pub face_demo: bool,
    pub demo: bool,
    /// Benchmark only: where the content is scrolled to.
    pub scroll_to: Option<f32>,
    /// A call has been outstanding for a while: say so (请稍候).
    pub busy: bool,
    /// The attract screen's card-placement animation: its phase (0 to 1), when it runs.
    pub animation: Option<f32>,
}

/// The bottom action bar of a screen: back (and menu) on the left, the one primary action on
/// the right. Absent buttons leave their place empty; the others keep theirs.
#[derive(Default)]
struct Bar {
    /// The left button: its label and action (usually 返回 → `Action::Back`).
    back: Option<(String, Action)>,
    /// 首页 beside it.
    home: bool,
    primary: Option<Primary>,
}

struct Primary {
    label: String,
    action: Action,
    enabled: bool,
}

impl Bar {
    fn back(v: &View) -> Self {
        Bar {
            back: Some((v.t(T::Back).into(), Action::Back)),
            ..Bar::default()
        }
    }
    fn with_home(mut self, home: bool) -> Self {
        self.home = home;
        self
    }
    fn primary(mut self, label: impl Into<String>, action: Action, enabled: bool) -> Self {
        self.primary = Some(Primary {
            label: label.into(),
            action,
            enabled,
        });
        self
    }
}

/// How a button looks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The one primary action: accent fill, white text.
    Primary,
    /// Everything else: white, accent border and text.
    Secondary,
    /// In the header, on the accent colour: white fill, accent text.
    Header,
}

impl View {
    fn t(&self, key: T) -> &'static str {
        tr(self.lang, key)
    }

    fn rich(&self, text: impl Into<String>, size: f32, colour: Color32) -> RichText {
        let mut text: String = text.into();
        // Clause codes in English texts: 六.2 → §6.2.
        if self.lang == Language::En
            && let std::borrow::Cow::Owned(en) = i18n::english_clauses(&text)
        {
            text = en;
        }
        RichText::new(text)
            .size(size)
            .color(colour)
            .line_height(Some(self.m.line(size)))
    }

    /// Body text, wrapping.
    fn body(&self, ui: &mut Ui, text: impl Into<String>) -> egui::Response {
        ui.add(egui::Label::new(self.rich(text, self.m.body(), theme::TEXT)).wrap())
    }

    /// Body text, strong.
    fn strong(&self, ui: &mut Ui, text: impl Into<String>) -> egui::Response {
        ui.add(egui::Label::new(self.rich(text, self.m.body(), theme::TEXT).strong()).wrap())
    }

    /// Small print (clauses, hints): muted colour, same floor size.
    fn small(&self, ui: &mut Ui, text: impl Into<String>) -> egui::Response {
        ui.add(egui::Label::new(self.rich(text, self.m.small(), theme::MUTED)).wrap())
    }

    fn big(&self, ui: &mut Ui, text: impl Into<String>) -> egui::Response {
        ui.add(egui::Label::new(self.rich(text, self.m.heading(), theme::TEXT).strong()).wrap())
    }

    fn heading(&self, ui: &mut Ui, text: &str) {
        ui.add(egui::Label::new(self.rich(text, self.m.heading(), theme::TEXT).strong()).wrap());
        ui.add_space(self.m.smm(2.0));
    }

    /// A painted button at least one touch target in each direction.
    fn button(
        &self,
        ui: &mut Ui,
        text: &str,
        kind: Kind,
        enabled: bool,
        min_w: f32,
    ) -> egui::Response {
        self.button_ticked(ui, text, kind, enabled, min_w, None)
    }

    /// A button; `ticked: Some(on)` makes it a toggle that shows a painted tick box.
    fn button_ticked(
        &self,
        ui: &mut Ui,
        text: &str,
        kind: Kind,
        enabled: bool,
        min_w: f32,
        ticked: Option<bool>,
    ) -> egui::Response {
        let m = self.m;
        let size = if kind == Kind::Primary {
            m.body() * 1.1
        } else {
            m.body()
        };
        let (fill, fg, stroke) = match (kind, enabled) {
            (_, false) => (theme::DISABLED_BG, theme::DISABLED_TEXT, Stroke::NONE),
            (Kind::Primary, true) => (theme::ACCENT, theme::ON_ACCENT, Stroke::NONE),
            (Kind::Secondary, true) => (
                theme::SURFACE,
                theme::ACCENT,
                Stroke::new(m.mm(0.6), theme::ACCENT),
            ),
            (Kind::Header, true) => (theme::SURFACE, theme::ACCENT, Stroke::NONE),
        };
        let mut rt = self.rich(text, size, fg);
        if kind == Kind::Primary {
            rt = rt.strong();
        }
        let galley = egui::WidgetText::from(rt).into_galley(
            ui,
            Some(egui::TextWrapMode::Extend),
            f32::INFINITY,
            egui::TextStyle::Button,
        );
        let pad = m.smm(5.0);
        let tick_w = if ticked.is_some() {
            size + m.smm(2.0)
        } else {
            0.0
        };
        let desired = vec2(
            (galley.size().x + tick_w + 2.0 * pad)
                .max(m.target())
                .max(min_w),
            m.target().max(galley.size().y + m.smm(4.0)),
        );
        let sense = if enabled {
            Sense::click()
        } else {
            Sense::hover()
        };
        let (rect, response) = ui.allocate_exact_size(desired, sense);
        match ticked {
            Some(on) => response
                .widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, enabled, on, text)),
            None => response
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, enabled, text)),
        }
        if ui.is_rect_visible(rect) {
            let p = ui.painter();
            p.rect(rect, m.mm(2.0), fill, stroke, egui::StrokeKind::Inside);
            let mut pos = rect.center() - galley.size() / 2.0;
            if let Some(on) = ticked {
                pos.x += tick_w / 2.0;
                let b = Rect::from_min_size(
                    Pos2::new(pos.x - tick_w, rect.center().y - size / 2.0),
                    vec2(size, size),
                );
                p.rect(
                    b,
                    m.mm(0.8),
                    theme::SURFACE,
                    Stroke::new(m.mm(0.5), fg),
                    egui::StrokeKind::Inside,
                );
                if on {
                    tick(p, b.shrink(size * 0.18), fg, m.mm(0.9));
                }
            }
            p.galley(pos, galley, fg);
        }
        response
    }

    fn act(&self, ui: &mut Ui, text: &str, action: Action, out: &mut Vec<Event>) {
        if self.button(ui, text, Kind::Secondary, true, 0.0).clicked() {
            out.push(Event::Ui(action));
        }
    }

    fn money(&self, f: Fen) -> String {
        i18n::money(self.lang, f)
    }

    /// A framed area (a card) spanning the width, with `fill`.
    fn card<R>(&self, ui: &mut Ui, fill: Color32, add: impl FnOnce(&mut Ui) -> R) -> R {
        egui::Frame::new()
            .fill(fill)
            .stroke(Stroke::new(self.m.mm(0.3), theme::BORDER))
            .corner_radius(self.m.mm(2.0))
            .inner_margin(self.m.smm(3.0))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                add(ui)
            })
            .inner
    }

    /// Horizontal row of targets with the 5 mm gap between them.
    fn row<R>(&self, ui: &mut Ui, add: impl FnOnce(&mut Ui) -> R) -> R {
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing = vec2(self.m.gap(), self.m.gap());
            add(ui)
        })
        .inner
    }
}

/// The regions of the kiosk screen inside `full`, from the panel size alone.
pub struct Regions {
    pub header: Rect,
    pub steps: Rect,
    pub strip: Rect,
    pub content: Rect,
    pub bar: Rect,
}

impl Regions {
    pub fn of(full: Rect, m: &Metrics) -> Self {
        let header_h = m.target() + m.smm(6.0);
        let steps_h = m.line(m.body()) + m.smm(4.0);
        let strip_h = m.target() + m.smm(2.0);
        let bar_h = m.target() + 2.0 * m.gap();
        let side = m.smm(6.0);
        let header = Rect::from_min_size(full.min, vec2(full.width(), header_h));
        let steps = Rect::from_min_size(
            Pos2::new(full.left() + side, header.bottom()),
            vec2(full.width() - 2.0 * side, steps_h),
        );
        let strip = Rect::from_min_size(
            Pos2::new(full.left() + side, steps.bottom()),
            vec2(full.width() - 2.0 * side, strip_h),
        );
        let bar = Rect::from_min_max(
            Pos2::new(full.left() + side, full.bottom() - bar_h),
            Pos2::new(full.right() - side, full.bottom()),
        );
        let content = Rect::from_min_max(
            Pos2::new(full.left() + side, strip.bottom() + m.smm(2.0)),
            Pos2::new(full.right() - side, bar.top() - m.smm(1.0)),
        );
        Regions {
            header,
            steps,
            strip,
            content,
            bar,
        }
    }
}

fn in_rect<R>(ui: &mut Ui, rect: Rect, layout: Layout, add: impl FnOnce(&mut Ui) -> R) -> R {
    ui.scope_builder(egui::UiBuilder::new().max_rect(rect).layout(layout), |ui| {
        ui.set_clip_rect(rect.intersect(ui.clip_rect()));
        add(ui)
    })
    .inner
}

/// The whole kiosk screen: header, steps, message strip, the state's content, action bar.
pub(super) fn draw(ui: &mut Ui, state: &State, v: &View, out: &mut Vec<Event>) {
    let full = ui.max_rect();
    let r = Regions::of(full, &v.m);
    ui.painter().rect_filled(full, 0.0, theme::BG);
    header(ui, r.header, state, v, out);
    steps(ui, r.steps, state, v);
    strip(ui, r.strip, state, v, out);
    let ctx = state.ctx();
    let bar = in_rect(ui, r.content, Layout::top_down(Align::Min), |ui| {
        ui.spacing_mut().item_spacing = vec2(v.m.smm(3.0), v.m.smm(3.0));
        if let State::Session { session, .. } = state
            && let Screen::Violations(sel) = &session.screen
        {
            // The list scrolls; its summary keeps a reserved place at the bottom.
            return violations(ui, ctx, session, sel, v, out);
        }
        let mut area = egui::ScrollArea::vertical()
            .id_salt(("content", screen_key(state)))
            .auto_shrink([false, false]);
        if let Some(y) = v.scroll_to {
            area = area.vertical_scroll_offset(y);
        }
        area.show(ui, |ui| match state {
            State::Attract { page, .. } => attract(ui, ctx, page, v, out),
            State::Session { session, .. } => session_screen(ui, ctx, session, v, out),
            State::Operator { .. } => operator(ui, ctx, v, out),
        })
        .inner
    });
    action_bar(ui, r.bar, &bar, v, out);
}

/// A key per screen, so each screen has its own scroll position.
fn screen_key(state: &State) -> String {
    match state {
        State::Attract { page, .. } => format!("attract {:?}", std::mem::discriminant(page)),
        State::Session { session, .. } => {
            // The code step of a keyed entry is a screen of its own: it opens at its top, not
            // where typing the plate or number left the scroll.
            let code_step = matches!(
                &session.screen,
                Screen::FilingEntry(FilingEntry::Sms { sent: Some(_), .. })
                    | Screen::Register { sent: Some(_), .. }
            );
            format!(
                "session {:?} {code_step}",
                std::mem::discriminant(&session.screen)
            )
        }
        State::Operator { .. } => "operator".into(),
    }
}

fn header(ui: &mut Ui, rect: Rect, state: &State, v: &View, out: &mut Vec<Event>) {
    let m = v.m;
    let ctx = state.ctx();
    ui.painter().rect_filled(rect, 0.0, theme::ACCENT);
    let inner = rect.shrink2(vec2(m.smm(6.0), m.smm(3.0)));
    in_rect(ui, inner, Layout::right_to_left(Align::Center), |ui| {
        ui.spacing_mut().item_spacing = vec2(m.gap(), m.gap());
        if state.session().is_some()
            && v.button(ui, v.t(T::Exit), Kind::Header, true, 0.0)
                .clicked()
        {
            out.push(Event::Ui(Action::Exit));
        }
        if v.button(ui, v.t(T::LanguageToggle), Kind::Header, true, 0.0)
            .clicked()
        {
            out.push(Event::Ui(Action::ToggleLanguage));
        }
        // On, the toggle carries a painted tick (and is a checked toggle for AccessKit), not
        // only another colour.
        let r = v.button_ticked(
            ui,
            v.t(T::ElderMode),
            Kind::Header,
            true,
            0.0,
            Some(ctx.elder),
        );
        if r.clicked() {
            out.push(Event::Ui(Action::ToggleElder));
        }
        if !matches!(state, State::Operator { .. })
            && v.button(ui, v.t(T::ServiceHelp), Kind::Header, true, 0.0)
                .clicked()
        {
            out.push(Event::Ui(Action::Open(Service::Help)));
        }
        ui.with_layout(Layout::top_down(Align::Min), |ui| {
            ui.spacing_mut().item_spacing.y = 0.0;
            let hall = v.rich(
                i18n::hall_name(v.lang, &ctx.hall_name, &ctx.hall_name_en),
                m.body(),
                theme::ON_ACCENT,
            );
            ui.add(egui::Label::new(hall.strong()).truncate());
            let time = local_time(ctx.now).strftime("%Y-%m-%d %H:%M").to_string();
            ui.add(egui::Label::new(v.rich(time, m.body(), theme::ON_ACCENT)).truncate());
        });
    });
}

/// Which of 读卡 → 核验 → 选择 → 缴款 → 凭条 the state is on; `None` outside that path.
fn step_of(state: &State) -> Option<Option<usize>> {
    match state {
        State::Attract {
            page: AttractPage::Welcome,
            ..
        } => Some(None),
        State::Attract {
            page: AttractPage::PlaceCard,
            ..
        } => Some(Some(0)),
        State::Attract { .. } | State::Operator { .. } => None,
        State::Session { session, .. } => match &session.screen {
            Screen::LoadingPerson | Screen::Unavailable => Some(Some(0)),
            Screen::Identity
            | Screen::Face {
                purpose: FacePurpose::Login,
                ..
            } => Some(Some(1)),
            Screen::Services
            | Screen::ChooseVehicle
            | Screen::Violations(_)
            | Screen::Notices { .. } => Some(Some(2)),
            Screen::Payment { .. } => Some(Some(3)),
            Screen::Printing { .. } | Screen::Done { .. } => Some(Some(4)),
            _ => None,
        },
    }
}

/// The step indicator: a numbered circle per step; done steps get a painted tick, the current
/// one is filled and its name strong — shape and weight say it, not only colour.
fn steps(ui: &mut Ui, rect: Rect, state: &State, v: &View) {
    let m = v.m;
    let Some(current) = step_of(state) else {
        // Outside the handling path: the service's name in the same place.
        let title = match state {
            State::Session { session, .. } => {
                service_of(&session.screen).map(|s| i18n::service(v.lang, s))
            }
            State::Attract { page, .. } => match page {
                AttractPage::Help => Some(v.t(T::ServiceHelp)),
                AttractPage::DownloadApp => Some(v.t(T::ServiceDownloadApp)),
                AttractPage::OperatorPin { .. } => Some(v.t(T::Operator)),
                _ => None,
            },
            State::Operator { .. } => Some(v.t(T::OperatorTitle)),
        };
        if let Some(t) = title {
            in_rect(ui, rect, Layout::left_to_right(Align::Center), |ui| {
                ui.add(egui::Label::new(v.rich(t, m.body(), theme::TEXT).strong()));
            });
        }
        return;
    };
    let names = [
        T::StepCard,
        T::StepVerify,
        T::StepChoose,
        T::StepPay,
        T::StepReceipt,
    ];
    in_rect(ui, rect, Layout::left_to_right(Align::Center), |ui| {
        ui.spacing_mut().item_spacing.x = m.smm(2.0);
        for (i, key) in names.iter().enumerate() {
            let d = m.body() * 1.3;
            let (c, _) = ui.allocate_exact_size(vec2(d, d), Sense::hover());
            let p = ui.painter();
            let centre = c.center();
            let done = current.is_some_and(|cur| i < cur);
            let now = current == Some(i);
            if now || done {
                p.circle_filled(centre, d / 2.0, theme::ACCENT);
            } else {
                p.circle(
                    centre,
                    d / 2.0 - m.mm(0.3),
                    theme::SURFACE,
                    Stroke::new(m.mm(0.5), theme::MUTED),
                );
            }
            if done {
                tick(p, c.shrink(d * 0.2), theme::ON_ACCENT, m.mm(0.8));
            } else {
                p.text(
                    centre,
                    Align2::CENTER_CENTER,
                    (i + 1).to_string(),
                    FontId::proportional(m.body()),
                    if now { theme::ON_ACCENT } else { theme::MUTED },
                );
            }
            let mut t = v.rich(
                v.t(*key),
                m.body(),
                if now { theme::TEXT } else { theme::MUTED },
            );
            if now {
                t = t.strong().underline();
            }
            ui.add(egui::Label::new(t).extend());
            if i + 1 < names.len() {
                ui.add(egui::Label::new(v.rich("→", m.body(), theme::MUTED)).extend());
            }
        }
    });
}

fn service_of(screen: &Screen) -> Option<Service> {
    Some(match screen {
        Screen::Filings(_)
        | Screen::FilingEntry(_)
        | Screen::FilingConfirm(_)
        | Screen::FilingSubmitted(_)
        | Screen::Face {
            purpose: FacePurpose::Filing(_),
            ..
        } => Service::Filing,
        Screen::Register { .. } => Service::Register,
        Screen::Feedback { .. } => Service::Feedback,
        Screen::DownloadApp => Service::DownloadApp,
        Screen::Help => Service::Help,
        _ => return None,
    })
}

/// A tick mark (✓) painted as two strokes inside `r`.
fn tick(p: &egui::Painter, r: Rect, colour: Color32, width: f32) {
    let a = Pos2::new(r.left(), r.center().y);
    let b = Pos2::new(r.left() + r.width() * 0.38, r.bottom() - r.height() * 0.12);
    let c = Pos2::new(r.right(), r.top() + r.height() * 0.12);
    p.line_segment([a, b], Stroke::new(width, colour));
    p.line_segment([b, c], Stroke::new(width, colour));
}

/// The reserved message strip: the idle countdown (a target: touching it is 我还在), else the
/// message of the last step, the 请取走身份证 reminder, notices of the moment, 请稍候.
fn strip(ui: &mut Ui, rect: Rect, state: &State, v: &View, out: &mut Vec<Event>) {
    let m = v.m;
    let ctx = state.ctx();
    if let Some(left) = state.idle_countdown() {
        let text = format!("{} {left}s", v.t(T::IdleCountdown));
        in_rect(ui, rect, Layout::left_to_right(Align::Center), |ui| {
            ui.spacing_mut().item_spacing.x = m.gap();
            let p = ui.painter();
            p.rect_filled(rect, m.mm(2.0), theme::WARN_BG);
            ui.add_space(m.smm(3.0));
            ui.add(egui::Label::new(
                v.rich(text, m.body(), theme::TEXT).strong(),
            ));
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                if v.button(ui, v.t(T::StillHere), Kind::Primary, true, 0.0)
                    .clicked()
                {
                    out.push(Event::Ui(Action::StillHere));
                }
            });
        });
        return;
    }
    let mut lines: Vec<String> = Vec::new();
    if let Some(msg) = &ctx.message {
        lines.push(i18n::message(v.lang, msg));
    }
    if ctx.card_left {
        lines.push(v.t(T::TakeYourCard).into());
    }
    // 呼叫工作人员: what became of the call stays said after the next touch.
    if let Some(sc) = ctx.staff_call_notice()
        && !matches!(ctx.message, Some(Message::StaffCall(_)))
    {
        lines.push(i18n::message(v.lang, &sc));
    }
    if let Some(mn) = ctx.maintenance_notice()
        && ctx.message.as_ref() != Some(&mn)
        && !matches!(state, State::Operator { .. })
    {
        lines.push(i18n::message(v.lang, &mn));
    }
    // The network is gone: said in words on every screen, the attract screen included, until a
    // probe finds the link back (the message of a failed call may say it already).
    if let Some(off) = ctx.offline_notice()
        && ctx.message
            != Some(Message::Backend(crate::flow::ports::BackendError::Offline(
                String::new(),
            )))
        && !matches!(
            &ctx.message,
            Some(Message::Backend(crate::flow::ports::BackendError::Offline(
                _
            )))
        )
    {
        lines.push(i18n::message(v.lang, &off));
    }
    if ctx.paper_out()
        && let State::Session { session, .. } = state
        && matches!(
            session.screen,
            Screen::Notices { .. } | Screen::Payment { .. }
        )
    {
        lines.push(v.t(T::PaperOutBeforePay).into());
    }
    if lines.is_empty() && !v.busy {
        return;
    }
    ui.painter().rect_filled(rect, m.mm(2.0), theme::WARN_BG);
    in_rect(
        ui,
        rect.shrink2(vec2(m.smm(3.0), m.smm(1.0))),
        Layout::top_down(Align::Min),
        |ui| {
            egui::ScrollArea::vertical()
                .id_salt("strip")
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    ui.spacing_mut().item_spacing.y = 0.0;
                    if v.busy {
                        ui.horizontal(|ui| {
                            ui.add(egui::Spinner::new().size(m.body()).color(theme::TEXT));
                            ui.add(egui::Label::new(
                                v.rich(v.t(T::PleaseWait), m.body(), theme::TEXT).strong(),
                            ));
                        });
                    }
                    for l in lines {
                        v.body(ui, l);
                    }
                });
        },
    );
}

fn action_bar(ui: &mut Ui, rect: Rect, bar: &Bar, v: &View, out: &mut Vec<Event>) {
    let m = v.m;
    let inner = Rect::from_min_max(
        Pos2::new(rect.left(), rect.top() + m.gap()),
        Pos2::new(rect.right(), rect.bottom() - m.gap()),
    );
    in_rect(ui, inner, Layout::left_to_right(Align::Center), |ui| {
        ui.spacing_mut().item_spacing = vec2(m.gap(), m.gap());
        let min_w = m.smm(36.0);
        if let Some((label, action)) = &bar.back
            && v.button(ui, label, Kind::Secondary, true, min_w).clicked()
        {
            out.push(Event::Ui(action.clone()));
        }
        if bar.home
            && v.button(ui, v.t(T::Home), Kind::Secondary, true, min_w)
                .clicked()
        {
            out.push(Event::Ui(Action::Home));
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if let Some(p) = &bar.primary
                && v.button(ui, &p.label, Kind::Primary, p.enabled, m.smm(60.0))
                    .clicked()
            {
                out.push(Event::Ui(p.action.clone()));
            }
        });
    });
}

fn keypad(ui: &mut Ui, v: &View, letters: bool, out: &mut Vec<Event>) {
    let m = v.m;
    // Rows that fit the content's width with whole targets and 5 mm gaps.
    let keys: Vec<char> = if letters {
        "1234567890ABCDEFGHJKLMNPQRSTUVWXYZ".chars().collect()
    } else {
        "1234567890".chars().collect()
    };
    let per_row = if letters {
        let fit = ((ui.available_width() + m.gap()) / (m.target() + m.gap())).floor() as usize;
        fit.clamp(4, 10)
    } else {
        3
    };
    let mut rows: Vec<&[char]> = if letters {
        keys.chunks(per_row).collect()
    } else if is_elder(v) {
        // 长辈模式: two rows of five larger keys, so the pad fits without scrolling.
        keys.chunks(5).collect()
    } else {
        vec![&keys[0..3], &keys[3..6], &keys[6..9], &keys[9..10]]
    };
    ui.spacing_mut().item_spacing = vec2(m.gap(), m.gap());
    // 长辈模式's digits: 删除 on a row of its own, so the pad is five keys wide (beside its text).
    if !letters && is_elder(v) {
        rows.push(&[]);
    }
    let n = rows.len();
    for (i, row) in rows.into_iter().enumerate() {
        ui.horizontal(|ui| {
            ui.spacing_mut().item_spacing = vec2(m.gap(), m.gap());
            for c in row {
                let s = c.to_string();
                if v.button(ui, &s, Kind::Secondary, true, m.target())
                    .clicked()
                {
                    out.push(Event::Ui(Action::Key(*c)));
                }
            }
            if i + 1 == n
                && v.button(ui, v.t(T::Backspace), Kind::Secondary, true, 0.0)
                    .clicked()
            {
                out.push(Event::Ui(Action::Backspace));
            }
        });
    }
}

/// A digit keypad with what it is for (`lines`: the hint and the entry so far). In 长辈模式 the
/// larger keys sit beside the text rather than under it, so the whole pad shows without
/// scrolling; otherwise the pad is under the text.
fn digit_entry(ui: &mut Ui, v: &View, out: &mut Vec<Event>, lines: impl FnOnce(&mut Ui)) {
    if !is_elder(v) {
        lines(ui);
        keypad(ui, v, false, out);
        return;
    }
    let gap = v.m.gap();
    // Five keys and their gaps (删除 is on a row of its own), and a little room for the frame.
    let pad_w = 5.0 * v.m.target() + 5.0 * gap;
    let text_w = (ui.available_width() - pad_w - gap).max(v.m.target());
    ui.horizontal_top(|ui| {
        ui.spacing_mut().item_spacing.x = gap;
        ui.allocate_ui_with_layout(vec2(text_w, 0.0), Layout::top_down(Align::Min), |ui| {
            ui.set_width(text_w);
            lines(ui);
        });
        ui.vertical(|ui| keypad(ui, v, false, out));
    });
}

/// A QR code drawn with the painter (dark modules on white, with a quiet zone).
pub(super) fn qr(ui: &mut Ui, data: &str, side: f32, label: &str) {
    let Ok(code) = qrcode::QrCode::new(data.as_bytes()) else {
        ui.label(data);
        return;
    };
    let n = code.width();
    let colors = code.to_colors();
    let (rect, response) = ui.allocate_exact_size(vec2(side, side), egui::Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, label));
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, Color32::WHITE);
    let quiet = 4.0;
    let module = side / (n as f32 + 2.0 * quiet);
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (x, y) = ((i % n) as f32, (i / n) as f32);
            let min = rect.min + vec2((x + quiet) * module, (y + quiet) * module);
            painter.rect_filled(
                egui::Rect::from_min_size(min, vec2(module, module)),
                0.0,
                Color32::BLACK,
            );
        }
    }
}

/// Vector icons for the services and the card reader, painted in `r` with `c`.
fn icon(p: &egui::Painter, r: Rect, what: Icon, c: Color32, w: f32) {
    let s = Stroke::new(w, c);
    let u = r.width().min(r.height());
    let r = Rect::from_center_size(r.center(), vec2(u, u));
    let at = |x: f32, y: f32| Pos2::new(r.left() + x * u, r.top() + y * u);
    match what {
        Icon::Car => {
            let body = Rect::from_min_max(at(0.05, 0.45), at(0.95, 0.75));
            p.rect_filled(body, u * 0.08, c);
            p.add(egui::Shape::convex_polygon(
                vec![
                    at(0.22, 0.47),
                    at(0.32, 0.22),
                    at(0.68, 0.22),
                    at(0.8, 0.47),
                ],
                c,
                Stroke::NONE,
            ));
            p.circle_filled(at(0.27, 0.77), u * 0.11, c);
            p.circle_filled(at(0.73, 0.77), u * 0.11, c);
            p.circle_filled(at(0.27, 0.77), u * 0.05, theme::SURFACE);
            p.circle_filled(at(0.73, 0.77), u * 0.05, theme::SURFACE);
        }
        Icon::Filing => {
            let doc = Rect::from_min_max(at(0.18, 0.08), at(0.72, 0.92));
            p.rect_stroke(doc, u * 0.04, s, egui::StrokeKind::Middle);
            for y in [0.3, 0.45, 0.6] {
                p.line_segment([at(0.28, y), at(0.6, y)], s);
            }
            p.circle_filled(at(0.74, 0.74), u * 0.18, c);
            let s2 = Stroke::new(w, theme::SURFACE);
            p.line_segment([at(0.64, 0.74), at(0.84, 0.74)], s2);
            p.line_segment([at(0.74, 0.64), at(0.74, 0.84)], s2);
        }
        Icon::Person => {
            p.circle_filled(at(0.5, 0.3), u * 0.18, c);
            let body = Rect::from_min_max(at(0.18, 0.55), at(0.82, 0.92));
            p.rect_filled(
                body,
                egui::CornerRadius {
                    nw: (u * 0.3) as u8,
                    ne: (u * 0.3) as u8,
                    sw: 0,
                    se: 0,
                },
                c,
            );
        }
        Icon::Feedback => {
            let bubble = Rect::from_min_max(at(0.08, 0.12), at(0.92, 0.7));
            p.rect_filled(bubble, u * 0.12, c);
            p.add(egui::Shape::convex_polygon(
                vec![at(0.25, 0.68), at(0.45, 0.68), at(0.22, 0.9)],
                c,
                Stroke::NONE,
            ));
            for x in [0.3, 0.5, 0.7] {
                p.circle_filled(at(x, 0.41), u * 0.06, theme::SURFACE);
            }
        }
        Icon::Phone => {
            let phone = Rect::from_min_max(at(0.25, 0.05), at(0.75, 0.95));
            p.rect_stroke(phone, u * 0.08, s, egui::StrokeKind::Middle);
            p.line_segment([at(0.5, 0.22), at(0.5, 0.62)], s);
            p.add(egui::Shape::convex_polygon(
                vec![at(0.36, 0.55), at(0.64, 0.55), at(0.5, 0.74)],
                c,
                Stroke::NONE,
            ));
            p.line_segment([at(0.42, 0.86), at(0.58, 0.86)], s);
        }
        Icon::Help => {
            p.circle_stroke(r.center(), u * 0.42, s);
            // A question mark: an arc of three segments and a dot.
            let pts = [
                at(0.37, 0.38),
                at(0.42, 0.27),
                at(0.58, 0.27),
                at(0.63, 0.38),
                at(0.5, 0.5),
                at(0.5, 0.6),
            ];
            p.add(egui::Shape::line(pts.to_vec(), s));
            p.circle_filled(at(0.5, 0.73), w * 0.8, c);
        }
        Icon::Card => {
            let card = Rect::from_min_max(at(0.05, 0.2), at(0.95, 0.8));
            p.rect_stroke(card, u * 0.06, s, egui::StrokeKind::Middle);
            p.circle_filled(at(0.28, 0.45), u * 0.1, c);
            p.rect_filled(
                Rect::from_min_max(at(0.16, 0.58), at(0.4, 0.68)),
                u * 0.03,
                c,
            );
            for y in [0.38, 0.5, 0.62] {
                p.line_segment([at(0.5, y), at(0.85, y)], s);
            }
        }
        Icon::Face => {
            p.circle_stroke(r.center(), u * 0.4, s);
            p.circle_filled(at(0.38, 0.42), u * 0.05, c);
            p.circle_filled(at(0.62, 0.42), u * 0.05, c);
            p.add(egui::Shape::line(
                vec![
                    at(0.35, 0.62),
                    at(0.43, 0.68),
                    at(0.57, 0.68),
                    at(0.65, 0.62),
                ],
                s,
            ));
        }
        Icon::Scanner => {
            let corners = [
                (0.1, 0.1, 1.0, 1.0),
                (0.9, 0.1, -1.0, 1.0),
                (0.1, 0.9, 1.0, -1.0),
                (0.9, 0.9, -1.0, -1.0),
            ];
            for (x, y, dx, dy) in corners {
                p.line_segment([at(x, y), at(x + 0.22 * dx, y)], s);
                p.line_segment([at(x, y), at(x, y + 0.22 * dy)], s);
            }
            p.line_segment([at(0.1, 0.5), at(0.9, 0.5)], s);
        }
    }
}

#[derive(Clone, Copy)]
enum Icon {
    Car,
    Filing,
    Person,
    Feedback,
    Phone,
    Help,
    Card,
    Face,
    Scanner,
}

fn service_icon(s: Service) -> Icon {
    match s {
        Service::Violations => Icon::Car,
        Service::Filing => Icon::Filing,
        Service::Register => Icon::Person,
        Service::Feedback => Icon::Feedback,
        Service::DownloadApp => Icon::Phone,
        Service::Help => Icon::Help,
    }
}

/// A large tile with an icon and a label: a button for AccessKit.
fn tile(
    ui: &mut Ui,
    v: &View,
    size: egui::Vec2,
    label: &str,
    ic: Icon,
    enabled: bool,
) -> egui::Response {
    let m = v.m;
    let sense = if enabled {
        Sense::click()
    } else {
        Sense::hover()
    };
    let (rect, response) = ui.allocate_exact_size(size, sense);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, enabled, label));
    if ui.is_rect_visible(rect) {
        let (fill, fg) = if enabled {
            (theme::SURFACE, theme::ACCENT)
        } else {
            (theme::DISABLED_BG, theme::DISABLED_TEXT)
        };
        let p = ui.painter();
        p.rect(
            rect,
            m.mm(3.0),
            fill,
            Stroke::new(m.mm(0.6), fg),
            egui::StrokeKind::Inside,
        );
        let icon_side = (rect.height() * 0.6).min(m.smm(22.0));
        let icon_rect = Rect::from_min_size(
            Pos2::new(rect.left() + m.smm(5.0), rect.center().y - icon_side / 2.0),
            vec2(icon_side, icon_side),
        );
        icon(p, icon_rect, ic, fg, m.mm(1.2));
        let text_left = icon_rect.right() + m.smm(4.0);
        let galley = egui::WidgetText::from(v.rich(label, m.body() * 1.15, theme::TEXT).strong())
            .into_galley(
                ui,
                Some(egui::TextWrapMode::Wrap),
                (rect.right() - text_left - m.smm(3.0)).max(m.body()),
                egui::TextStyle::Button,
            );
        let pos = Pos2::new(text_left, rect.center().y - galley.size().y / 2.0);
        ui.painter().galley(pos, galley, theme::TEXT);
    }
    response
}

/// The card-placement animation in `r`: the card comes down onto the reader (the first 60% of
/// the cycle), rests there, and the reader lights up. A few shapes; at most 10 frames a second.
fn card_placement(p: &egui::Painter, r: Rect, phase: f32, w: f32) {
    let reader = Rect::from_min_max(
        Pos2::new(r.left(), r.bottom() - r.height() * 0.18),
        r.right_bottom(),
    );
    let placed = phase >= 0.6;
    p.rect_stroke(
        reader,
        w,
        Stroke::new(w, if placed { theme::OK } else { theme::MUTED }),
        egui::StrokeKind::Inside,
    );
    let t = (phase / 0.6).min(1.0);
    let ease = 1.0 - (1.0 - t) * (1.0 - t);
    let card_h = r.height() * 0.7;
    let rest = reader.top() - card_h * 0.85;
    let top = r.top() - card_h * 0.15 + (rest - (r.top() - card_h * 0.15)) * ease;
    let card = Rect::from_min_size(
        Pos2::new(r.left() + r.width() * 0.1, top.max(r.top())),
        vec2(r.width() * 0.8, card_h),
    );
    icon(p, card, Icon::Card, theme::ACCENT, w);
}

fn attract(ui: &mut Ui, ctx: &Ctx, page: &AttractPage, v: &View, out: &mut Vec<Event>) -> Bar {
    let m = v.m;
    match page {
        AttractPage::Welcome => {
            ui.vertical_centered(|ui| {
                ui.add_space(m.smm(4.0));
                ui.add(
                    egui::Label::new(v.rich(v.t(T::Title), m.title(), theme::TEXT).strong()).wrap(),
                );
                v.body(ui, v.t(T::Subtitle));
                ui.add_space(m.smm(4.0));
                let (r, _) = ui.allocate_exact_size(vec2(m.smm(40.0), m.smm(28.0)), Sense::hover());
                match v.animation {
                    Some(phase) => card_placement(ui.painter(), r, phase, m.mm(1.2)),
                    None => icon(ui.painter(), r, Icon::Card, theme::ACCENT, m.mm(1.2)),
                }
                v.body(ui, v.t(T::PlaceCardHint));
                ui.add_space(m.smm(4.0));
                let w = m.smm(90.0);
                if tile(
                    ui,
                    v,
                    vec2(w, m.target() * 1.4),
                    v.t(T::ServiceDownloadApp),
                    Icon::Phone,
                    true,
                )
                .clicked()
                {
                    out.push(Event::Ui(Action::Open(Service::DownloadApp)));
                }
            });
            let mut bar = Bar::default().primary(v.t(T::Start), Action::Start, true);
            bar.back = Some((v.t(T::Operator).into(), Action::OperatorEntry));
            bar
        }
        AttractPage::PlaceCard => {
            ui.vertical_centered(|ui| {
                v.heading(ui, v.t(T::PlaceCard));
                v.body(ui, v.t(T::PlaceCardHint));
                let (rect, _) =
                    ui.allocate_exact_size(vec2(m.smm(86.0), m.smm(54.0)), Sense::hover());
                ui.painter().rect_stroke(
                    rect,
                    m.mm(3.0),
                    Stroke::new(m.mm(1.0), theme::ACCENT),
                    egui::StrokeKind::Inside,
                );
                icon(
                    ui.painter(),
                    rect.shrink(m.smm(6.0)),
                    Icon::Card,
                    theme::ACCENT,
                    m.mm(1.2),
                );
            });
            Bar::back(v)
        }
        AttractPage::Help => {
            help(ui, ctx, v);
            Bar::back(v).primary(v.t(T::CallStaff), Action::CallStaff, true)
        }
        AttractPage::DownloadApp => {
            download(ui, v);
            Bar::back(v)
        }
        AttractPage::OperatorPin { entered } => {
            v.heading(ui, v.t(T::OperatorPinTitle));
            v.big(ui, "●".repeat(entered.len()) + " ");
            keypad(ui, v, false, out);
            Bar::back(v).primary(v.t(T::SubmitCode), Action::SubmitCode, true)
        }
    }
}

fn help(ui: &mut Ui, ctx: &Ctx, v: &View) {
    v.heading(ui, v.t(T::HelpTitle));
    v.body(ui, v.t(T::HelpText));
    v.strong(ui, i18n::consultation_line(v.lang, &ctx.consultation_phone));
    if !ctx.hall_phones.is_empty() {
        v.strong(ui, v.t(T::HelpPhones));
    }
    for p in &ctx.hall_phones {
        v.big(ui, p);
    }
}

/// The app's download page and the province's website.
pub const APP_URL: &str = "https://gab.122.gov.cn/m/map/select";
pub const WEBSITE_URL: &str = "https://cq.122gov.cn";

fn download(ui: &mut Ui, v: &View) {
    let m = v.m;
    v.heading(ui, v.t(T::DownloadTitle));
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = m.smm(12.0);
        for (label, url) in [(T::DownloadApp, APP_URL), (T::DownloadWebsite, WEBSITE_URL)] {
            ui.vertical(|ui| {
                ui.set_max_width(m.smm(80.0));
                qr(ui, url, m.smm(55.0), v.t(label));
                v.body(ui, v.t(label));
                v.small(ui, url);
            });
        }
    });
}

fn operator(ui: &mut Ui, ctx: &Ctx, v: &View, out: &mut Vec<Event>) -> Bar {
    v.heading(ui, v.t(T::OperatorTitle));
    v.body(
        ui,
        format!(
            "{}  {}",
            ctx.kiosk_id,
            i18n::hall_name(v.lang, &ctx.hall_name, &ctx.hall_name_en)
        ),
    );
    if let Some(h) = &ctx.health {
        for (key, r) in [
            (T::DeviceReader, &h.reader),
            (T::DeviceScanner, &h.scanner),
            (T::DevicePrinter, &h.printer),
        ] {
            let text = match r {
                Ok(()) => format!("{}{}{}", v.t(key), i18n::colon(v.lang), v.t(T::DeviceOk)),
                Err(e) => format!(
                    "{}{}{} ({:?})",
                    v.t(key),
                    i18n::colon(v.lang),
                    e.message,
                    e.kind
                ),
            };
            v.body(ui, text);
        }
        v.body(
            ui,
            format!(
                "{}{}{}",
                v.t(T::DevicePaper),
                i18n::colon(v.lang),
                i18n::paper(v.lang, h.paper)
            ),
        );
    }
    if let Some(p) = &ctx.last_print {
        v.body(
            ui,
            format!(
                "{}{}{}",
                v.t(T::LastPrint),
                i18n::colon(v.lang),
                i18n::print_outcome(v.lang, p)
            ),
        );
    }
    v.row(ui, |ui| {
        v.act(
            ui,
            v.t(T::OperatorTestPrint),
            Action::OperatorTestPrint,
            out,
        );
        v.act(ui, v.t(T::OperatorReprint), Action::OperatorReprint, out);
        v.act(ui, v.t(T::OperatorRefresh), Action::OperatorRefresh, out);
    });
    v.strong(ui, v.t(T::RecentErrors));
    if ctx.recent_errors.is_empty() {
        v.body(ui, v.t(T::NoErrors));
    }
    for e in ctx.recent_errors.iter().rev() {
        v.small(ui, e);
    }
    Bar {
        back: Some((v.t(T::OperatorClose).into(), Action::OperatorClose)),
        ..Bar::default()
    }
}

fn relation(v: &View, r: &Relation) -> &'static str {
    v.t(match r {
        Relation::Own => T::RelationOwn,
        Relation::Filed { .. } => T::RelationFiled,
        Relation::UnitFiled { .. } => T::RelationUnitFiled,
        Relation::RentalRenter { .. } | Relation::RentalTempDriver { .. } => T::RelationRental,
        Relation::None => T::RelationNone,
    })
}

/// Label and value rows.
fn pairs(ui: &mut Ui, v: &View, id: &str, rows: &[(&str, String)]) {
    egui::Grid::new(id)
        .num_columns(2)
        .spacing(vec2(v.m.smm(6.0), v.m.smm(1.5)))
        .show(ui, |ui| {
            for (k, val) in rows {
                ui.add(egui::Label::new(v.rich(*k, v.m.body(), theme::MUTED)));
                ui.add(egui::Label::new(
                    v.rich(val.clone(), v.m.body(), theme::TEXT).strong(),
                ));
                ui.end_row();
            }
        });
}

fn session_screen(ui: &mut Ui, ctx: &Ctx, s: &Session, v: &View, out: &mut Vec<Event>) -> Bar {
    let lang = v.lang;
    let m = v.m;
    let verified = s.face_verified;
    match &s.screen {
        Screen::LoadingPerson => {
            v.heading(ui, v.t(T::Loading));
            ui.add(egui::Spinner::new().size(m.heading()).color(theme::ACCENT));
            Bar::default()
        }
        Screen::Unavailable => {
            v.heading(ui, v.t(T::Unavailable));
            Bar::default()
        }
        Screen::Identity => {
            v.heading(ui, v.t(T::IdentityTitle));
            let card = match lang {
                Language::ZhCn => s.card.card_type.name_zh(),
                Language::En => s.card.card_type.name_en(),
            };
            pairs(
                ui,
                v,
                "identity",
                &[
                    (v.t(T::Name), s.masked_name()),
                    (v.t(T::IdNumber), s.masked_id()),
                    (v.t(T::CardType), card.to_string()),
                ],
            );
            if s.person.as_ref().is_some_and(|p| !p.registered) {
                v.small(ui, v.t(T::NotRegistered));
            }
            // 继续 runs the face check at once: say now that it is a demo stand-in.
            if v.face_demo {
                v.small(ui, v.t(T::FaceDemo));
            }
            Bar::default().primary(v.t(T::Continue), Action::Continue, true)
        }
        Screen::Face { purpose, attempts } => {
            v.heading(ui, v.t(T::FaceTitle));
            if let FacePurpose::Filing(c) = purpose {
                v.body(ui, format!("{} {}", c.plate, c.owner));
            }
            ui.horizontal(|ui| {
                let (r, _) = ui.allocate_exact_size(vec2(m.smm(30.0), m.smm(30.0)), Sense::hover());
                icon(ui.painter(), r, Icon::Face, theme::ACCENT, m.mm(1.2));
                ui.vertical(|ui| {
                    v.body(ui, v.t(T::FaceHint));
                    if v.face_demo {
                        v.small(ui, v.t(T::FaceDemo));
                    }
                });
            });
            let bar = if matches!(purpose, FacePurpose::Filing(_)) {
                Bar::back(v)
            } else if *attempts > 0 {
                // A check failed (no match, no camera, no service): staff can help here.
                Bar {
                    back: Some((v.t(T::CallStaff).into(), Action::CallStaff)),
                    ..Bar::default()
                }
            } else {
                Bar::default()
            };
            bar.primary(v.t(T::FaceStart), Action::StartFace, true)
        }
        Screen::Services => {
            v.heading(ui, v.t(T::ServicesTitle));
            v.body(ui, format!("{}  {}", s.masked_name(), s.masked_id()));
            // 长辈模式: two large tiles a row instead of three.
            let cols = if ctx.elder { 2 } else { 3 };
            let services = [
                Service::Violations,
                Service::Filing,
                Service::Register,
                Service::Feedback,
                Service::DownloadApp,
            ];
            // 帮助 is in the header on every screen.
            let rows = services.len().div_ceil(cols);
            let gap = m.gap();
            let w = (ui.available_width() - gap * (cols as f32 - 1.0)) / cols as f32;
            let h = ((ui.available_height() - gap * (rows as f32 - 1.0)) / rows as f32)
                .clamp(m.target(), m.smm(50.0));
            ui.spacing_mut().item_spacing.y = gap;
            for chunk in services.chunks(cols) {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = gap;
                    for service in chunk {
                        let label = i18n::service(lang, *service);
                        if tile(ui, v, vec2(w, h), label, service_icon(*service), true).clicked() {
                            out.push(Event::Ui(Action::Open(*service)));
                        }
                    }
                });
            }
            Bar::default()
        }
        Screen::ChooseVehicle => {
            v.heading(ui, v.t(T::ChooseVehicleTitle));
            let vehicles: &[VehicleView] = s.person.as_ref().map_or(&[], |p| &p.vehicles);
            if vehicles.is_empty() {
                v.body(ui, v.t(T::NoVehicles));
            }
            ui.spacing_mut().item_spacing.y = m.gap();
            for veh in vehicles {
                let text = format!(
                    "{}  {}  {} {}",
                    veh.facts.plate,
                    relation(v, &veh.facts.relation),
                    v.t(T::Pending),
                    veh.pending
                );
                if tile(
                    ui,
                    v,
                    vec2(ui.available_width(), m.target() * 1.2),
                    &text,
                    Icon::Car,
                    true,
                )
                .clicked()
                {
                    out.push(Event::Ui(Action::ChooseVehicle(veh.facts.plate.clone())));
                }
            }
            Bar::back(v).with_home(verified)
        }
        Screen::Violations(_) => unreachable!("drawn by `violations`"),
        Screen::Notices { selection, agreed } => {
            v.heading(ui, v.t(T::NoticesTitle));
            for n in selection.notices() {
                let text = match lang {
                    Language::ZhCn => &n.zh,
                    Language::En => &n.en,
                };
                v.card(ui, theme::SURFACE, |ui| {
                    v.body(ui, text.as_str());
                    v.small(ui, i18n::clause_note(lang, n.clause.code()));
                });
            }
            amounts(ui, ctx, selection, v);
            // 【阅读并同意】 (the seed's words) agrees and handles in one touch.
            let _ = agreed;
            Bar::back(v)
                .with_home(verified)
                .primary(v.t(T::AgreeAndHandle), Action::Handle, true)
        }
        Screen::Payment {
            handling,
            qr: order,
            paying,
            ..
        } => {
            v.heading(ui, v.t(T::PaymentTitle));
            ui.horizontal(|ui| {
                ui.spacing_mut().item_spacing.x = m.smm(8.0);
                // The payment provider's own QR code, once its order is open.
                match order {
                    Some(o) => qr(ui, &o.qr, m.smm(62.0), v.t(T::PaymentTitle)),
                    None => {
                        let side = m.smm(62.0);
                        ui.allocate_ui(vec2(side, side), |ui| {
                            ui.add(egui::Spinner::new().size(m.heading()).color(theme::ACCENT));
                        });
                    }
                }
                ui.vertical(|ui| {
                    pairs(
                        ui,
                        v,
                        "pay",
                        &[
                            (v.t(T::Decision), handling.decision.clone()),
                            (v.t(T::Amount), v.money(handling.fines)),
                            (v.t(T::Surcharge), v.money(handling.surcharge)),
                            (v.t(T::Fee), v.money(handling.fee)),
                        ],
                    );
                    ui.horizontal(|ui| {
                        ui.add(egui::Label::new(
                            v.rich(v.t(T::Total), m.body(), theme::TEXT).strong(),
                        ));
                        v.big(ui, v.money(handling.total));
                    });
                    v.body(
                        ui,
                        format!(
                            "{} {}",
                            v.t(T::PayBy),
                            local_time(handling.pay_by).strftime("%Y-%m-%d %H:%M")
                        ),
                    );
                });
            });
            // Several decisions handled together: one provider order each, paid in turn.
            if let Some(o) = order.as_ref().filter(|o| o.parts > 1) {
                v.strong(ui, i18n::payment_part(v.lang, o.part, o.parts, o.amount));
            }
            v.body(ui, v.t(T::PaymentHint));
            v.strong(ui, v.t(T::PayingAuto));
            if v.demo {
                v.small(ui, v.t(T::PaymentDemo));
            }
            Bar::default().primary(v.t(T::PaidButton), Action::Pay, !paying)
        }
        Screen::Printing { .. } => {
            v.heading(ui, v.t(T::PrintingTitle));
            ui.add(egui::Spinner::new().size(m.heading()).color(theme::ACCENT));
            Bar::default()
        }
        Screen::Done {
            handling,
            payment,
            printed,
        } => {
            ui.horizontal(|ui| {
                let d = m.heading() * 1.2;
                let (r, _) = ui.allocate_exact_size(vec2(d, d), Sense::hover());
                ui.painter().circle_filled(r.center(), d / 2.0, theme::OK);
                tick(
                    ui.painter(),
                    r.shrink(d * 0.25),
                    theme::ON_ACCENT,
                    m.mm(1.0),
                );
                v.heading(ui, v.t(T::DoneTitle));
            });
            pairs(
                ui,
                v,
                "done",
                &[
                    (v.t(T::Decision), handling.decision.clone()),
                    (v.t(T::Total), v.money(payment.amount)),
                    (v.t(T::Fee), v.money(handling.fee)),
                ],
            );
            // "Take your receipt" only when one came out.
            if *printed == PrintOutcome::Printed {
                v.strong(ui, v.t(T::DoneHint));
            } else {
                v.card(ui, theme::WARN_BG, |ui| {
                    v.body(ui, v.t(T::PrintFailed));
                });
                v.strong(ui, v.t(T::DoneHintNoReceipt));
            }
            // No receipt came out: staff can print it at the window (the left button calls them).
            let bar = if *printed == PrintOutcome::Printed {
                Bar::default()
            } else {
                Bar {
                    back: Some((v.t(T::CallStaff).into(), Action::CallStaff)),
                    ..Bar::default()
                }
            };
            bar.with_home(verified)
                .primary(v.t(T::Finish), Action::Exit, true)
        }
        Screen::Filings(list) => {
            v.heading(ui, v.t(T::FilingsTitle));
            if list.is_empty() {
                v.body(ui, v.t(T::NoFilings));
            }
            for f in list {
                v.card(ui, theme::SURFACE, |ui| {
                    ui.horizontal(|ui| {
                        v.body(
                            ui,
                            format!(
                                "{}  {}  {}  {}",
                                f.plate,
                                i18n::filing_method(lang, f.method),
                                i18n::filing_status(lang, f.status),
                                local_time(f.filed_at).strftime("%Y-%m-%d")
                            ),
                        );
                        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                            v.act(ui, v.t(T::Unfile), Action::Unfile(f.id.clone()), out);
                        });
                    });
                });
            }
            ui.add_space(m.gap());
            let w = (ui.available_width() - m.gap()) / 2.0;
            ui.horizontal(|ui| {
                ui.spacing_mut().item_spacing.x = m.gap();
                if tile(
                    ui,
                    v,
                    vec2(w, m.target() * 1.5),
                    v.t(T::FilingScan),
                    Icon::Scanner,
                    true,
                )
                .clicked()
                {
                    out.push(Event::Ui(Action::FilingScan));
                }
                if tile(
                    ui,
                    v,
                    vec2(w, m.target() * 1.5),
                    v.t(T::FilingSms),
                    Icon::Feedback,
                    true,
                )
                .clicked()
                {
                    out.push(Event::Ui(Action::FilingSms));
                }
            });
            Bar::back(v).with_home(verified)
        }
        Screen::FilingEntry(FilingEntry::Scan) => {
            v.heading(ui, v.t(T::FilingScan));
            ui.horizontal(|ui| {
                let (r, _) = ui.allocate_exact_size(vec2(m.smm(30.0), m.smm(30.0)), Sense::hover());
                icon(ui.painter(), r, Icon::Scanner, theme::ACCENT, m.mm(1.2));
                v.body(ui, v.t(T::FilingScanHint));
            });
            Bar::back(v).with_home(verified)
        }
        Screen::FilingEntry(FilingEntry::Sms { plate, code, sent }) => {
            v.heading(ui, v.t(T::FilingSms));
            match sent {
                None => {
                    v.body(ui, v.t(T::FilingPlateHint));
                    v.big(ui, format!("渝{}", plate.text()));
                    keypad(ui, v, true, out);
                    // Live once the characters make a plate: nothing is sent by itself.
                    let complete =
                        crate::domain::Plate::parse(&format!("渝{}", plate.text())).is_ok();
                    Bar::back(v).with_home(verified).primary(
                        v.t(T::SendCode),
                        Action::SendCode,
                        complete,
                    )
                }
                Some((p, sms)) => {
                    let to = if sms.to_unit_manager {
                        T::CodeSentToManager
                    } else {
                        T::CodeSentTo
                    };
                    digit_entry(ui, v, out, |ui| {
                        v.body(ui, format!("{p}  {} {}", v.t(to), sms.to_masked));
                        v.body(ui, v.t(T::EnterCode));
                        v.big(ui, format!("{} ", code.text()));
                    });
                    // The 6th digit submits the code: no 确定.
                    Bar::back(v).with_home(verified)
                }
            }
        }
        Screen::FilingConfirm(c) => {
            v.heading(ui, v.t(T::FilingConfirmTitle));
            v.big(ui, c.plate.to_string());
            v.body(
                ui,
                format!("{}{}{}", v.t(T::Owner), i18n::colon(lang), c.owner),
            );
            v.body(ui, i18n::filing_method(lang, c.method));
            Bar::back(v).with_home(verified).primary(
                v.t(T::ConfirmFiling),
                Action::ConfirmFiling,
                true,
            )
        }
        Screen::FilingSubmitted(f) => {
            v.heading(ui, v.t(T::FilingSubmittedTitle));
            v.big(ui, f.plate.to_string());
            v.body(ui, i18n::filing_status(lang, f.status));
            v.body(ui, v.t(T::FilingSubmittedHint));
            Bar::back(v).with_home(verified)
        }
        Screen::Register {
            phone,
            code,
            sent,
            done,
        } => {
            v.heading(ui, v.t(T::RegisterTitle));
            if *done {
                v.card(ui, theme::SURFACE, |ui| {
                    v.strong(ui, v.t(T::RegisterDone));
                });
                Bar::back(v).with_home(verified)
            } else if let Some(sms) = sent {
                digit_entry(ui, v, out, |ui| {
                    v.body(
                        ui,
                        format!("{} {}", v.t(T::RegisterCodeSentTo), sms.to_masked),
                    );
                    v.body(ui, v.t(T::EnterCode));
                    v.big(ui, format!("{} ", code.text()));
                });
                // The 6th digit submits the code: no 确定.
                Bar::back(v).with_home(verified)
            } else {
                digit_entry(ui, v, out, |ui| {
                    v.body(ui, v.t(T::Phone));
                    v.big(ui, format!("{} ", phone.text()));
                });
                // The person sees the whole number first: 发送验证码 is live once it is a mobile.
                let complete = crate::domain::phone::is_mainland_mobile(phone.text());
                Bar::back(v).with_home(verified).primary(
                    v.t(T::SendCode),
                    Action::SendCode,
                    complete,
                )
            }
        }
        Screen::Feedback { sent } => {
            v.heading(ui, v.t(T::FeedbackTitle));
            v.body(ui, i18n::consultation_line(lang, &ctx.consultation_phone));
            let cols = if ctx.elder { 1 } else { 2 };
            let w = (ui.available_width() - m.gap() * (cols as f32 - 1.0)) / cols as f32;
            ui.spacing_mut().item_spacing.y = m.gap();
            for chunk in FeedbackTopic::ALL.chunks(cols) {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = m.gap();
                    for topic in chunk {
                        let label = i18n::feedback_topic(lang, *topic);
                        if tile(ui, v, vec2(w, m.target()), label, Icon::Feedback, !sent).clicked()
                        {
                            out.push(Event::Ui(Action::Feedback(*topic)));
                        }
                    }
                });
            }
            Bar::back(v).with_home(verified)
        }
        Screen::DownloadApp => {
            download(ui, v);
            Bar::back(v).with_home(verified)
        }
        Screen::Help => {
            help(ui, ctx, v);
            Bar::back(v)
                .with_home(verified)
                .primary(v.t(T::CallStaff), Action::CallStaff, true)
        }
    }
}

fn amounts(ui: &mut Ui, ctx: &Ctx, sel: &Selection, v: &View) {
    amount_lines(ui, ctx, sel, v, String::new());
}

/// What is due on the selection: fine, surcharge and fee on one line (after `lead`, e.g. how many
/// are selected), the total (the rule core's `AmountDue`) on the next.
fn amount_lines(ui: &mut Ui, ctx: &Ctx, sel: &Selection, v: &View, lead: String) {
    let (fines, surcharge) = sel.amounts(ctx.now);
    v.body(
        ui,
        format!(
            "{lead}{} {}   {} {}   {} {}",
            v.t(T::Amount),
            v.money(fines),
            v.t(T::Surcharge),
            v.money(surcharge),
            v.t(T::Fee),
            v.money(crate::rules::SERVICE_FEE),
        ),
    );
    v.strong(
        ui,
        format!(
            "{} {}",
            v.t(T::Total),
            v.money(crate::rules::payment::AmountDue::new(fines, surcharge).total())
        ),
    );
}

/// One violation: a row with a painted tick box (a checkbox for AccessKit), its facts, and its
/// decision in words (可以 / 不能自助处理); the clause in small print.
fn violation_row(ui: &mut Ui, x: &ViolationView, sel: &Selection, v: &View, out: &mut Vec<Event>) {
    let m = v.m;
    let selected = sel.selected.contains(&x.facts.id);
    // The decision, re-decided with the ticked ones when ticked.
    let decision = sel
        .decisions
        .iter()
        .find(|d| d.violation == x.facts.id)
        .unwrap_or(&x.decision);
    let fill = if selected {
        theme::ACCENT_SOFT
    } else {
        theme::SURFACE
    };
    v.card(ui, fill, |ui| {
        ui.horizontal(|ui| {
            ui.spacing_mut().item_spacing.x = m.gap();
            let label = format!(
                "{}  {}",
                x.facts.id,
                i18n::violation_kind(v.lang, &x.behaviour)
            );
            let w = (ui.available_width() - m.smm(36.0) - m.gap()).max(m.target());
            let (rect, r) = ui.allocate_exact_size(vec2(w, m.target()), Sense::click());
            r.widget_info(|| {
                egui::WidgetInfo::selected(egui::Role::CheckBox, true, selected, &label)
            });
            if ui.is_rect_visible(rect) {
                let p = ui.painter();
                let b = m.body() * 1.1;
                let boxr = Rect::from_min_size(
                    Pos2::new(rect.left(), rect.center().y - b / 2.0),
                    vec2(b, b),
                );
                if selected {
                    p.rect_filled(boxr, m.mm(1.0), theme::ACCENT);
                    tick(p, boxr.shrink(b * 0.18), theme::ON_ACCENT, m.mm(0.9));
                } else {
                    p.rect(
                        boxr,
                        m.mm(1.0),
                        theme::SURFACE,
                        Stroke::new(m.mm(0.6), theme::MUTED),
                        egui::StrokeKind::Inside,
                    );
                }
                let galley =
                    egui::WidgetText::from(v.rich(label.clone(), m.body(), theme::TEXT).strong())
                        .into_galley(
                            ui,
                            Some(egui::TextWrapMode::Truncate),
                            rect.width() - b - m.smm(3.0),
                            egui::TextStyle::Body,
                        );
                let pos = Pos2::new(
                    boxr.right() + m.smm(3.0),
                    rect.center().y - galley.size().y / 2.0,
                );
                ui.painter().galley(pos, galley, theme::TEXT);
            }
            if r.clicked() {
                out.push(Event::Ui(Action::ToggleViolation(x.facts.id.clone())));
            }
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                if v.button(ui, v.t(T::Dispute), Kind::Secondary, true, 0.0)
                    .clicked()
                {
                    out.push(Event::Ui(Action::ShowDispute(x.facts.id.clone())));
                }
            });
        });
        let facts = format!(
            "{} {}  {} {}{}  {}",
            v.t(T::Fine),
            v.money(x.facts.fine),
            v.t(T::Points),
            x.facts.points,
            v.t(T::PointsUnit),
            local_time(x.facts.occurred_at).strftime("%Y-%m-%d %H:%M")
        );
        v.body(ui, facts);
        if !is_elder(v) {
            v.body(
                ui,
                format!("{} {}", v.t(T::Place), i18n::place(v.lang, &x.place)),
            );
        }
        let (mark, colour) = if decision.eligible() {
            ("", theme::OK)
        } else {
            ("", theme::REFUSED)
        };
        let text = i18n::decision_plain(v.lang, decision);
        ui.add(egui::Label::new(v.rich(format!("{mark}{text}"), m.body(), colour).strong()).wrap());
        if !decision.eligible() {
            // Where to go instead, once per distinct advice; the clause in small print.
            let mut advice: Vec<&str> = Vec::new();
            for r in &decision.reasons {
                let a = i18n::next_step(v.lang, *r);
                if !advice.contains(&a) {
                    advice.push(a);
                }
            }
            for a in advice {
                v.body(ui, format!("→ {a}"));
            }
            v.small(ui, i18n::decision_clause(v.lang, decision));
        }
    });
}

fn is_elder(v: &View) -> bool {
    v.m.scale > 1.0
}

fn violations(
    ui: &mut Ui,
    ctx: &Ctx,
    s: &Session,
    sel: &Selection,
    v: &View,
    out: &mut Vec<Event>,
) -> Bar {
    let m = v.m;
    let full = ui.max_rect();
    // The summary keeps its place at the bottom of the content: three lines.
    let summary_h = 3.0 * m.line(m.body()) + m.smm(4.0);
    let list_rect =
        Rect::from_min_max(full.min, Pos2::new(full.right(), full.bottom() - summary_h));
    let summary_rect = Rect::from_min_max(
        Pos2::new(full.left(), list_rect.bottom() + m.smm(2.0)),
        full.max,
    );
    in_rect(ui, list_rect, Layout::top_down(Align::Min), |ui| {
        ui.spacing_mut().item_spacing = vec2(m.gap(), m.smm(3.0));
        let mut area = egui::ScrollArea::vertical()
            .id_salt("violations")
            .auto_shrink([false, false]);
        if let Some(y) = v.scroll_to {
            area = area.vertical_scroll_offset(y);
        }
        area.show(ui, |ui| {
            ui.spacing_mut().item_spacing = vec2(m.gap(), m.gap());
            v.heading(
                ui,
                &format!("{}  {}", v.t(T::ViolationsTitle), sel.list.plate),
            );
            if let Some(id) = &sel.dispute
                && let Some(x) = sel.list.violations.iter().find(|x| &x.facts.id == id)
            {
                // 六.1 with the authority and its address in the screen's language.
                let n = crate::rules::notices::dispute(
                    &i18n::place(v.lang, &x.authority),
                    &i18n::place(v.lang, &x.authority_address),
                );
                v.card(ui, theme::WARN_BG, |ui| {
                    v.strong(ui, format!("{}  {id}", v.t(T::DisputeTitle)));
                    v.body(
                        ui,
                        match v.lang {
                            Language::ZhCn => n.zh.as_str(),
                            Language::En => n.en.as_str(),
                        },
                    );
                    v.small(ui, i18n::clause_note(v.lang, n.clause.code()));
                    v.act(ui, v.t(T::Close), Action::CloseDispute, out);
                });
            }
            if sel.list.violations.is_empty() {
                v.body(ui, v.t(T::NoViolations));
            } else if nothing_handleable(sel) {
                v.card(ui, theme::WARN_BG, |ui| {
                    v.strong(ui, v.t(T::NextStepTitle));
                    v.body(ui, v.t(T::NothingHandleable));
                });
            }
            for x in &sel.list.violations {
                violation_row(ui, x, sel, v, out);
            }
            if !sel.list.unpaid.is_empty() {
                v.big(ui, v.t(T::UnpaidTitle));
                for h in &sel.list.unpaid {
                    v.card(ui, theme::SURFACE, |ui| {
                        ui.horizontal(|ui| {
                            v.body(
                                ui,
                                format!(
                                    "{} {}  {} {}",
                                    v.t(T::Decision),
                                    h.decision,
                                    v.t(T::Total),
                                    v.money(h.total)
                                ),
                            );
                            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                                v.act(
                                    ui,
                                    v.t(T::PayUnpaid),
                                    Action::PayUnpaid(h.decision.clone()),
                                    out,
                                );
                            });
                        });
                    });
                }
            }
        });
    });
    ui.painter().rect(
        summary_rect,
        m.mm(2.0),
        theme::SURFACE,
        Stroke::new(m.mm(0.3), theme::BORDER),
        egui::StrokeKind::Inside,
    );
    in_rect(
        ui,
        summary_rect.shrink2(vec2(m.smm(3.0), m.smm(1.0))),
        Layout::top_down(Align::Min),
        |ui| {
            ui.spacing_mut().item_spacing.y = 0.0;
            let lead = format!("{} {}   ", v.t(T::Selected), sel.selected.len());
            amount_lines(ui, ctx, sel, v, lead);
            if let Some(c) = &sel.cycle {
                let text = match v.lang {
                    Language::ZhCn => c.message_zh(),
                    Language::En => c.message_en(),
                };
                v.strong(ui, text);
            }
        },
    );
    let bar = Bar::back(v).with_home(s.face_verified);
    if nothing_handleable(sel) {
        // Nothing here can be handled: the primary action is the next step, not a dead 下一步.
        bar.primary(v.t(T::CallStaff), Action::CallStaff, true)
    } else {
        bar.primary(v.t(T::ToNotices), Action::ToNotices, sel.all_eligible())
    }
}

/// No violation of the list can be handled here and nothing awaits payment.
fn nothing_handleable(sel: &Selection) -> bool {
    sel.list.unpaid.is_empty() && !sel.list.violations.iter().any(|x| x.decision.eligible())
}
