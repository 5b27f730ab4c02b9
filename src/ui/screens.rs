//! The kiosk screen: one function per state, each turning touches into `Event::Ui` actions.

use egui::{Align, Color32, Layout, RichText, Ui, vec2};

use super::i18n::{self, T, tr};
use crate::config::Language;
use crate::domain::Fen;
use crate::flow::ports::{FeedbackTopic, PrintOutcome, VehicleView, ViolationView};
use crate::flow::*;
use crate::rules::Relation;
use crate::rules::maintenance::{in_maintenance_window, local_time, reopens_at};

/// What every screen needs besides the state.
pub(super) struct View {
    pub lang: Language,
    /// Minimum touch target, in points (screen.min_touch_mm on the configured screen).
    pub touch: f32,
    pub face_demo: bool,
    pub demo: bool,
    /// Benchmark only: where the violation list is scrolled to.
    pub scroll_to: Option<f32>,
    /// A call has been outstanding for a while: say so (请稍候).
    pub busy: bool,
}

const ACCENT: Color32 = Color32::from_rgb(0x1f, 0x5f, 0xbf);
const OK: Color32 = Color32::from_rgb(0x1b, 0x7f, 0x3b);
const REFUSED: Color32 = Color32::from_rgb(0xb0, 0x20, 0x20);
const WARN_BG: Color32 = Color32::from_rgb(0xff, 0xf1, 0xc9);

impl View {
    fn t(&self, key: T) -> &'static str {
        tr(self.lang, key)
    }

    /// A button at least `touch` high and wide.
    fn button(&self, ui: &mut Ui, text: impl Into<String>) -> egui::Response {
        ui.add(
            egui::Button::new(RichText::new(text.into()).size(24.0))
                .min_size(vec2(self.touch * 2.0, self.touch)),
        )
    }

    /// A primary (filled) button.
    fn primary(&self, ui: &mut Ui, text: impl Into<String>) -> egui::Response {
        ui.add(
            egui::Button::new(RichText::new(text.into()).size(26.0).color(Color32::WHITE))
                .fill(ACCENT)
                .min_size(vec2(self.touch * 3.0, self.touch)),
        )
    }

    fn act(&self, ui: &mut Ui, text: impl Into<String>, action: Action, out: &mut Vec<Event>) {
        if self.button(ui, text).clicked() {
            out.push(Event::Ui(action));
        }
    }

    fn act_primary(
        &self,
        ui: &mut Ui,
        text: impl Into<String>,
        action: Action,
        out: &mut Vec<Event>,
    ) {
        if self.primary(ui, text).clicked() {
            out.push(Event::Ui(action));
        }
    }

    fn money(&self, f: Fen) -> String {
        f.to_string()
    }
}

fn heading(ui: &mut Ui, text: &str) {
    ui.add_space(8.0);
    ui.label(RichText::new(text).heading().strong());
    ui.add_space(8.0);
}

fn banner(ui: &mut Ui, text: &str, fill: Color32) {
    egui::Frame::new()
        .fill(fill)
        .inner_margin(12.0)
        .corner_radius(6.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new(text).color(Color32::BLACK));
        });
}

/// The whole kiosk screen: header, message, the state's screen, footer.
pub(super) fn draw(ui: &mut Ui, state: &State, v: &View, out: &mut Vec<Event>) {
    let ctx = state.ctx();
    header(ui, state, v, out);
    if let Some(left) = state.idle_countdown() {
        ui.horizontal(|ui| {
            banner(ui, &format!("{} {left}s", v.t(T::IdleCountdown)), WARN_BG);
        });
        v.act_primary(ui, v.t(T::StillHere), Action::StillHere, out);
    }
    if let Some(m) = &ctx.message {
        banner(ui, &i18n::message(v.lang, m), WARN_BG);
    }
    if ctx.card_left {
        banner(ui, v.t(T::TakeYourCard), WARN_BG);
    }
    if v.busy {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(RichText::new(v.t(T::PleaseWait)).size(24.0).strong());
        });
    }
    match state {
        State::Attract { page, .. } => attract(ui, ctx, page, v, out),
        State::Session { session, .. } => {
            session_screen(ui, ctx, session, v, out);
        }
        State::Operator { .. } => operator(ui, ctx, v, out),
    }
}

fn header(ui: &mut Ui, state: &State, v: &View, out: &mut Vec<Event>) {
    let ctx = state.ctx();
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(v.t(T::Title))
                .size(28.0)
                .strong()
                .color(ACCENT),
        );
        ui.label(RichText::new(&ctx.hall_name).size(18.0));
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            v.act(ui, v.t(T::LanguageToggle), Action::ToggleLanguage, out);
            ui.label(
                RichText::new(local_time(ctx.now).strftime("%Y-%m-%d %H:%M").to_string())
                    .size(22.0),
            );
        });
    });
    ui.separator();
}

/// Back / menu / finish, at the bottom of session screens.
fn footer(ui: &mut Ui, v: &View, back: bool, home: bool, out: &mut Vec<Event>) {
    ui.add_space(12.0);
    ui.separator();
    ui.horizontal(|ui| {
        if back {
            v.act(ui, v.t(T::Back), Action::Back, out);
        }
        if home {
            v.act(ui, v.t(T::Home), Action::Home, out);
        }
        v.act(ui, v.t(T::Exit), Action::Exit, out);
    });
}

fn keypad(ui: &mut Ui, v: &View, letters: bool, out: &mut Vec<Event>) {
    let rows: &[&str] = if letters {
        &["1234567890", "ABCDEFGHJK", "LMNPQRSTUV", "WXYZ"]
    } else {
        &["123", "456", "789", "0"]
    };
    for row in rows {
        ui.horizontal(|ui| {
            for c in row.chars() {
                let b = egui::Button::new(RichText::new(c.to_string()).size(26.0))
                    .min_size(vec2(v.touch, v.touch));
                if ui.add(b).clicked() {
                    out.push(Event::Ui(Action::Key(c)));
                }
            }
        });
    }
    v.act(ui, v.t(T::Backspace), Action::Backspace, out);
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

fn attract(ui: &mut Ui, ctx: &Ctx, page: &AttractPage, v: &View, out: &mut Vec<Event>) {
    match page {
        AttractPage::Welcome => {
            maintenance_banner(ui, ctx, v);
            ui.vertical_centered(|ui| {
                ui.add_space(40.0);
                ui.label(RichText::new(v.t(T::Title)).size(52.0).strong());
                ui.add_space(12.0);
                ui.label(RichText::new(v.t(T::Subtitle)).size(24.0));
                ui.add_space(40.0);
                v.act_primary(ui, v.t(T::Start), Action::Start, out);
                ui.add_space(12.0);
                ui.label(RichText::new(v.t(T::PlaceCardHint)).size(22.0));
                ui.add_space(24.0);
                ui.horizontal(|ui| {
                    v.act(ui, v.t(T::ServiceHelp), Action::Open(Service::Help), out);
                    v.act(
                        ui,
                        v.t(T::ServiceDownloadApp),
                        Action::Open(Service::DownloadApp),
                        out,
                    );
                });
            });
            ui.with_layout(Layout::bottom_up(Align::RIGHT), |ui| {
                let b = egui::Button::new(RichText::new(v.t(T::Operator)).size(14.0).weak())
                    .frame(false)
                    .min_size(vec2(v.touch, v.touch));
                if ui.add(b).clicked() {
                    out.push(Event::Ui(Action::OperatorEntry));
                }
            });
        }
        AttractPage::PlaceCard => {
            maintenance_banner(ui, ctx, v);
            ui.vertical_centered(|ui| {
                heading(ui, v.t(T::PlaceCard));
                ui.label(v.t(T::PlaceCardHint));
                let (rect, _) = ui.allocate_exact_size(vec2(340.0, 210.0), egui::Sense::hover());
                ui.painter().rect_stroke(
                    rect,
                    12.0,
                    egui::Stroke::new(4.0, ACCENT),
                    egui::StrokeKind::Inside,
                );
                ui.painter().text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    v.t(T::PlaceCard),
                    egui::FontId::proportional(28.0),
                    ACCENT,
                );
                v.act(ui, v.t(T::Back), Action::Back, out);
            });
        }
        AttractPage::Help => {
            help(ui, ctx, v);
            v.act(ui, v.t(T::Back), Action::Back, out);
        }
        AttractPage::DownloadApp => {
            download(ui, v);
            v.act(ui, v.t(T::Back), Action::Back, out);
        }
        AttractPage::OperatorPin { entered } => {
            heading(ui, v.t(T::OperatorPinTitle));
            ui.label(RichText::new("●".repeat(entered.len())).size(30.0));
            keypad(ui, v, false, out);
            ui.horizontal(|ui| {
                v.act_primary(ui, v.t(T::SubmitCode), Action::SubmitCode, out);
                v.act(ui, v.t(T::Back), Action::Back, out);
            });
        }
    }
}

/// 六.7: handling and payment closed now and when they reopen, as the flow says, before any card.
fn maintenance_banner(ui: &mut Ui, ctx: &Ctx, v: &View) {
    if let Some(m) = ctx.maintenance_notice()
        && ctx.message.as_ref() != Some(&m)
    {
        banner(ui, &i18n::message(v.lang, &m), WARN_BG);
    }
}

fn help(ui: &mut Ui, ctx: &Ctx, v: &View) {
    heading(ui, v.t(T::HelpTitle));
    ui.label(v.t(T::HelpText));
    ui.add_space(12.0);
    ui.label(RichText::new(i18n::consultation_line(v.lang, &ctx.consultation_phone)).strong());
    if !ctx.hall_phones.is_empty() {
        ui.label(RichText::new(v.t(T::HelpPhones)).strong());
    }
    for p in &ctx.hall_phones {
        ui.label(RichText::new(p).size(30.0));
    }
}

/// The app's download page and the province's website.
pub const APP_URL: &str = "https://gab.122.gov.cn/m/map/select";
pub const WEBSITE_URL: &str = "https://cq.122gov.cn";

fn download(ui: &mut Ui, v: &View) {
    heading(ui, v.t(T::DownloadTitle));
    ui.horizontal(|ui| {
        for (label, url) in [(T::DownloadApp, APP_URL), (T::DownloadWebsite, WEBSITE_URL)] {
            ui.vertical(|ui| {
                qr(ui, url, 240.0, v.t(label));
                ui.label(v.t(label));
                ui.label(RichText::new(url).size(16.0));
            });
            ui.add_space(40.0);
        }
    });
}

fn operator(ui: &mut Ui, ctx: &Ctx, v: &View, out: &mut Vec<Event>) {
    heading(ui, v.t(T::OperatorTitle));
    ui.label(format!("{}  {}", ctx.kiosk_id, ctx.hall_name));
    if let Some(h) = &ctx.health {
        egui::Grid::new("health").num_columns(2).show(ui, |ui| {
            for (key, r) in [
                (T::DeviceReader, &h.reader),
                (T::DeviceScanner, &h.scanner),
                (T::DevicePrinter, &h.printer),
            ] {
                ui.label(v.t(key));
                match r {
                    Ok(()) => ui.label(RichText::new(v.t(T::DeviceOk)).color(OK)),
                    Err(e) => ui.label(
                        RichText::new(format!("{} ({:?})", e.message, e.kind)).color(REFUSED),
                    ),
                };
                ui.end_row();
            }
            ui.label(v.t(T::DevicePaper));
            ui.label(i18n::paper(v.lang, h.paper));
            ui.end_row();
        });
    }
    if let Some(p) = &ctx.last_print {
        ui.label(format!(
            "{}：{}",
            v.t(T::LastPrint),
            i18n::print_outcome(v.lang, p)
        ));
    }
    ui.horizontal(|ui| {
        v.act(
            ui,
            v.t(T::OperatorTestPrint),
            Action::OperatorTestPrint,
            out,
        );
        v.act(ui, v.t(T::OperatorReprint), Action::OperatorReprint, out);
        v.act(ui, v.t(T::OperatorRefresh), Action::OperatorRefresh, out);
        v.act(ui, v.t(T::OperatorClose), Action::OperatorClose, out);
    });
    ui.label(RichText::new(v.t(T::RecentErrors)).strong());
    if ctx.recent_errors.is_empty() {
        ui.label(v.t(T::NoErrors));
    }
    for e in ctx.recent_errors.iter().rev() {
        ui.label(RichText::new(e).monospace());
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

fn session_screen(ui: &mut Ui, ctx: &Ctx, s: &Session, v: &View, out: &mut Vec<Event>) {
    let lang = v.lang;
    let verified = s.face_verified;
    match &s.screen {
        Screen::LoadingPerson => {
            heading(ui, v.t(T::Loading));
            ui.spinner();
            footer(ui, v, false, false, out);
        }
        Screen::Unavailable => {
            heading(ui, v.t(T::Unavailable));
            footer(ui, v, false, false, out);
        }
        Screen::Identity => {
            heading(ui, v.t(T::IdentityTitle));
            egui::Grid::new("identity").num_columns(2).show(ui, |ui| {
                ui.label(v.t(T::Name));
                ui.label(RichText::new(s.masked_name()).size(30.0));
                ui.end_row();
                ui.label(v.t(T::IdNumber));
                ui.label(RichText::new(s.masked_id()).size(30.0));
                ui.end_row();
                ui.label(v.t(T::CardType));
                ui.label(match lang {
                    Language::ZhCn => s.card.card_type.name_zh(),
                    Language::En => s.card.card_type.name_en(),
                });
                ui.end_row();
            });
            if s.person.as_ref().is_some_and(|p| !p.registered) {
                banner(ui, v.t(T::NotRegistered), WARN_BG);
            }
            v.act_primary(ui, v.t(T::Continue), Action::Continue, out);
            footer(ui, v, false, false, out);
        }
        Screen::Face { purpose, .. } => {
            heading(ui, v.t(T::FaceTitle));
            if let FacePurpose::Filing(c) = purpose {
                ui.label(format!("{} {}", c.plate, c.owner));
            }
            ui.label(v.t(T::FaceHint));
            if v.face_demo {
                banner(ui, v.t(T::FaceDemo), Color32::from_rgb(0xe0, 0xe8, 0xff));
            }
            v.act_primary(ui, v.t(T::FaceStart), Action::StartFace, out);
            footer(ui, v, matches!(purpose, FacePurpose::Filing(_)), false, out);
        }
        Screen::Services => {
            heading(ui, v.t(T::ServicesTitle));
            ui.label(format!("{}  {}", s.masked_name(), s.masked_id()));
            ui.add_space(12.0);
            egui::Grid::new("services")
                .spacing(vec2(24.0, 24.0))
                .show(ui, |ui| {
                    for (i, service) in [
                        Service::Violations,
                        Service::Filing,
                        Service::Register,
                        Service::Feedback,
                        Service::DownloadApp,
                        Service::Help,
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        let b = egui::Button::new(
                            RichText::new(i18n::service(lang, service)).size(28.0),
                        )
                        .min_size(vec2(v.touch * 5.0, v.touch * 1.6));
                        if ui.add(b).clicked() {
                            out.push(Event::Ui(Action::Open(service)));
                        }
                        if i % 3 == 2 {
                            ui.end_row();
                        }
                    }
                });
            if in_maintenance_window(ctx.now) {
                banner(
                    ui,
                    &format!(
                        "{} {}",
                        v.t(T::MaintenanceBanner),
                        i18n::local_hm(reopens_at(ctx.now))
                    ),
                    WARN_BG,
                );
            }
            footer(ui, v, false, false, out);
        }
        Screen::ChooseVehicle => {
            heading(ui, v.t(T::ChooseVehicleTitle));
            let vehicles: &[VehicleView] = s.person.as_ref().map_or(&[], |p| &p.vehicles);
            if vehicles.is_empty() {
                ui.label(v.t(T::NoVehicles));
            }
            for veh in vehicles {
                let text = format!(
                    "{}  {}  {}  {} {}",
                    veh.facts.plate,
                    veh.facts.plate_type.name_zh(),
                    relation(v, &veh.facts.relation),
                    v.t(T::Pending),
                    veh.pending
                );
                let b = egui::Button::new(RichText::new(text).size(26.0))
                    .min_size(vec2(v.touch * 8.0, v.touch));
                if ui.add(b).clicked() {
                    out.push(Event::Ui(Action::ChooseVehicle(veh.facts.plate.clone())));
                }
            }
            footer(ui, v, true, verified, out);
        }
        Screen::Violations(sel) => violations(ui, ctx, sel, v, out),
        Screen::Notices { selection, agreed } => {
            heading(ui, v.t(T::NoticesTitle));
            if ctx.paper_out() {
                banner(ui, v.t(T::PaperOutBeforePay), WARN_BG);
            }
            egui::ScrollArea::vertical()
                .max_height(ui.available_height() - v.touch * 4.0)
                .show(ui, |ui| {
                    for n in selection.notices() {
                        let text = match lang {
                            Language::ZhCn => &n.zh,
                            Language::En => &n.en,
                        };
                        ui.label(format!("【{}】{text}", n.clause.code()));
                        ui.add_space(6.0);
                    }
                });
            amounts(ui, ctx, selection, v);
            let b = egui::Button::selectable(*agreed, RichText::new(v.t(T::Agree)).size(24.0))
                .frame_when_inactive(true)
                .min_size(vec2(v.touch * 6.0, v.touch));
            if ui.add(b).clicked() {
                out.push(Event::Ui(Action::SetAgreed(!agreed)));
            }
            ui.add_enabled_ui(*agreed, |ui| {
                v.act_primary(ui, v.t(T::HandleNow), Action::Handle, out);
            });
            footer(ui, v, true, verified, out);
        }
        Screen::Payment { handling, paying } => {
            heading(ui, v.t(T::PaymentTitle));
            if ctx.paper_out() {
                banner(ui, v.t(T::PaperOutBeforePay), WARN_BG);
            }
            ui.horizontal(|ui| {
                qr(ui, &handling.payment_url, 260.0, v.t(T::PaymentTitle));
                ui.vertical(|ui| {
                    egui::Grid::new("pay").num_columns(2).show(ui, |ui| {
                        for (k, val) in [
                            (v.t(T::Decision), handling.decision.clone()),
                            (v.t(T::Amount), v.money(handling.fines)),
                            (v.t(T::Surcharge), v.money(handling.surcharge)),
                            (v.t(T::Fee), v.money(handling.fee)),
                        ] {
                            ui.label(k);
                            ui.label(val);
                            ui.end_row();
                        }
                        ui.label(RichText::new(v.t(T::Total)).strong());
                        ui.label(RichText::new(v.money(handling.total)).size(34.0).strong());
                        ui.end_row();
                    });
                    ui.label(format!(
                        "{} {}",
                        v.t(T::PayBy),
                        local_time(handling.pay_by).strftime("%Y-%m-%d %H:%M")
                    ));
                });
            });
            ui.label(v.t(T::PaymentHint));
            if v.demo {
                banner(ui, v.t(T::PaymentDemo), Color32::from_rgb(0xe0, 0xe8, 0xff));
            }
            ui.add_enabled_ui(!paying, |ui| {
                v.act_primary(ui, v.t(T::PaidButton), Action::Pay, out);
            });
            footer(ui, v, false, false, out);
        }
        Screen::Printing { .. } => {
            heading(ui, v.t(T::PrintingTitle));
            ui.spinner();
        }
        Screen::Done {
            handling,
            payment,
            printed,
        } => {
            heading(ui, v.t(T::DoneTitle));
            egui::Grid::new("done").num_columns(2).show(ui, |ui| {
                for (k, val) in [
                    (v.t(T::Decision), handling.decision.clone()),
                    (v.t(T::Total), v.money(payment.amount)),
                    (v.t(T::Fee), v.money(handling.fee)),
                ] {
                    ui.label(k);
                    ui.label(val);
                    ui.end_row();
                }
            });
            // "Take your receipt" only when one came out.
            if *printed == PrintOutcome::Printed {
                ui.label(v.t(T::DoneHint));
            } else {
                banner(ui, v.t(T::PrintFailed), WARN_BG);
                ui.label(v.t(T::DoneHintNoReceipt));
            }
            footer(ui, v, false, verified, out);
        }
        Screen::Filings(list) => {
            heading(ui, v.t(T::FilingsTitle));
            if list.is_empty() {
                ui.label(v.t(T::NoFilings));
            }
            for f in list {
                ui.horizontal(|ui| {
                    ui.label(
                        RichText::new(format!(
                            "{}  {}  {}  {}",
                            f.plate,
                            i18n::filing_method(lang, f.method),
                            i18n::filing_status(lang, f.status),
                            local_time(f.filed_at).strftime("%Y-%m-%d")
                        ))
                        .size(24.0),
                    );
                    v.act(ui, v.t(T::Unfile), Action::Unfile(f.id.clone()), out);
                });
            }
            ui.add_space(12.0);
            ui.horizontal(|ui| {
                v.act_primary(ui, v.t(T::FilingScan), Action::FilingScan, out);
                v.act_primary(ui, v.t(T::FilingSms), Action::FilingSms, out);
            });
            footer(ui, v, true, verified, out);
        }
        Screen::FilingEntry(FilingEntry::Scan) => {
            heading(ui, v.t(T::FilingScan));
            ui.label(v.t(T::FilingScanHint));
            footer(ui, v, true, verified, out);
        }
        Screen::FilingEntry(FilingEntry::Sms { plate, code, sent }) => {
            heading(ui, v.t(T::FilingSms));
            match sent {
                None => {
                    ui.label(v.t(T::FilingPlateHint));
                    ui.label(RichText::new(format!("渝{}", plate.text())).size(34.0));
                    keypad(ui, v, true, out);
                    v.act_primary(ui, v.t(T::SendCode), Action::SendCode, out);
                }
                Some((p, sms)) => {
                    let to = if sms.to_unit_manager {
                        T::CodeSentToManager
                    } else {
                        T::CodeSentTo
                    };
                    ui.label(format!("{p}  {} {}", v.t(to), sms.to_masked));
                    ui.label(v.t(T::EnterCode));
                    ui.label(RichText::new(code.text()).size(34.0));
                    keypad(ui, v, false, out);
                    v.act_primary(ui, v.t(T::SubmitCode), Action::SubmitCode, out);
                }
            }
            footer(ui, v, true, verified, out);
        }
        Screen::FilingConfirm(c) => {
            heading(ui, v.t(T::FilingConfirmTitle));
            ui.label(RichText::new(c.plate.to_string()).size(34.0));
            ui.label(format!("{}：{}", v.t(T::Owner), c.owner));
            ui.label(i18n::filing_method(lang, c.method));
            v.act_primary(ui, v.t(T::ConfirmFiling), Action::ConfirmFiling, out);
            footer(ui, v, true, verified, out);
        }
        Screen::FilingSubmitted(f) => {
            heading(ui, v.t(T::FilingSubmittedTitle));
            ui.label(RichText::new(f.plate.to_string()).size(34.0));
            ui.label(i18n::filing_status(lang, f.status));
            ui.label(v.t(T::FilingSubmittedHint));
            footer(ui, v, true, verified, out);
        }
        Screen::Register {
            phone,
            code,
            sent,
            done,
        } => {
            heading(ui, v.t(T::RegisterTitle));
            if *done {
                banner(
                    ui,
                    v.t(T::RegisterDone),
                    Color32::from_rgb(0xd8, 0xf5, 0xdc),
                );
            } else if let Some(sms) = sent {
                ui.label(format!("{} {}", v.t(T::RegisterCodeSentTo), sms.to_masked));
                ui.label(v.t(T::EnterCode));
                ui.label(RichText::new(code.text()).size(34.0));
                keypad(ui, v, false, out);
                v.act_primary(ui, v.t(T::SubmitCode), Action::SubmitCode, out);
            } else {
                ui.label(v.t(T::Phone));
                ui.label(RichText::new(phone.text()).size(34.0));
                keypad(ui, v, false, out);
                v.act_primary(ui, v.t(T::SendCode), Action::SendCode, out);
            }
            footer(ui, v, true, verified, out);
        }
        Screen::Feedback { sent } => {
            heading(ui, v.t(T::FeedbackTitle));
            ui.label(i18n::consultation_line(lang, &ctx.consultation_phone));
            ui.add_enabled_ui(!sent, |ui| {
                ui.horizontal(|ui| {
                    for topic in FeedbackTopic::ALL {
                        v.act(
                            ui,
                            i18n::feedback_topic(lang, topic),
                            Action::Feedback(topic),
                            out,
                        );
                    }
                });
            });
            footer(ui, v, true, verified, out);
        }
        Screen::DownloadApp => {
            download(ui, v);
            footer(ui, v, true, verified, out);
        }
        Screen::Help => {
            help(ui, ctx, v);
            footer(ui, v, true, verified, out);
        }
    }
}

fn amounts(ui: &mut Ui, ctx: &Ctx, sel: &Selection, v: &View) {
    let (fines, surcharge) = sel.amounts(ctx.now);
    ui.horizontal(|ui| {
        ui.label(format!(
            "{} {}   {} {}   {} {}   {} {}",
            v.t(T::Amount),
            v.money(fines),
            v.t(T::Surcharge),
            v.money(surcharge),
            v.t(T::Fee),
            v.money(crate::rules::SERVICE_FEE),
            v.t(T::Total),
            v.money(crate::rules::payment::AmountDue::new(fines, surcharge).total()),
        ));
    });
}

fn violation_row(ui: &mut Ui, x: &ViolationView, sel: &Selection, v: &View, out: &mut Vec<Event>) {
    let selected = sel.selected.contains(&x.facts.id);
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.horizontal(|ui| {
            let text = format!("{}  {}", x.facts.id, x.behaviour);
            let b = egui::Button::selectable(selected, RichText::new(text).size(22.0))
                .frame_when_inactive(true)
                .min_size(vec2(v.touch * 6.0, v.touch));
            if ui.add(b).clicked() {
                out.push(Event::Ui(Action::ToggleViolation(x.facts.id.clone())));
            }
            let d = egui::Button::new(RichText::new(v.t(T::Dispute)).size(20.0))
                .min_size(vec2(v.touch * 1.5, v.touch));
            if ui.add(d).clicked() {
                out.push(Event::Ui(Action::ShowDispute(x.facts.id.clone())));
            }
        });
        ui.label(format!(
            "{} {}  {} {}分  {} {}  {} {}",
            v.t(T::Fine),
            x.facts.fine,
            v.t(T::Points),
            x.facts.points,
            v.t(T::Place),
            x.place,
            v.t(T::Time),
            local_time(x.facts.occurred_at).strftime("%Y-%m-%d %H:%M")
        ));
        // The decision, re-decided with the ticked ones when ticked.
        let decision = sel
            .decisions
            .iter()
            .find(|d| d.violation == x.facts.id)
            .unwrap_or(&x.decision);
        let text = match v.lang {
            Language::ZhCn => decision.message_zh(),
            Language::En => decision.message_en(),
        };
        let colour = if decision.eligible() { OK } else { REFUSED };
        ui.label(RichText::new(text).color(colour).size(18.0));
    });
}

fn violations(ui: &mut Ui, ctx: &Ctx, sel: &Selection, v: &View, out: &mut Vec<Event>) {
    heading(
        ui,
        &format!("{}  {}", v.t(T::ViolationsTitle), sel.list.plate),
    );
    let told = matches!(ctx.message, Some(Message::Maintenance { .. }));
    if in_maintenance_window(ctx.now) && !told {
        banner(
            ui,
            &format!(
                "{} {}",
                v.t(T::MaintenanceBanner),
                i18n::local_hm(reopens_at(ctx.now))
            ),
            WARN_BG,
        );
    }
    if let Some(id) = &sel.dispute
        && let Some(n) = sel.dispute_notice(id)
    {
        egui::Frame::new()
            .fill(Color32::from_rgb(0xfd, 0xe2, 0xe2))
            .inner_margin(12.0)
            .show(ui, |ui| {
                ui.label(RichText::new(format!("{}  {id}", v.t(T::DisputeTitle))).strong());
                ui.label(format!(
                    "【{}】{}",
                    n.clause.code(),
                    match v.lang {
                        Language::ZhCn => &n.zh,
                        Language::En => &n.en,
                    }
                ));
                v.act(ui, v.t(T::Close), Action::CloseDispute, out);
            });
    }
    if sel.list.violations.is_empty() {
        ui.label(v.t(T::NoViolations));
    }
    let mut area = egui::ScrollArea::vertical()
        .id_salt("violations")
        .max_height((ui.available_height() - v.touch * 6.0).max(v.touch * 3.0));
    if let Some(y) = v.scroll_to {
        area = area.vertical_scroll_offset(y);
    }
    area.show(ui, |ui| {
        for x in &sel.list.violations {
            violation_row(ui, x, sel, v, out);
        }
        if !sel.list.unpaid.is_empty() {
            ui.label(RichText::new(v.t(T::UnpaidTitle)).size(26.0).strong());
            for h in &sel.list.unpaid {
                ui.horizontal(|ui| {
                    ui.label(format!(
                        "{} {}  {} {}",
                        v.t(T::Decision),
                        h.decision,
                        v.t(T::Total),
                        v.money(h.total)
                    ));
                    v.act(
                        ui,
                        v.t(T::PayUnpaid),
                        Action::PayUnpaid(h.decision.clone()),
                        out,
                    );
                });
            }
        }
    });
    if let Some(c) = &sel.cycle {
        let text = match v.lang {
            Language::ZhCn => c.message_zh(),
            Language::En => c.message_en(),
        };
        ui.label(RichText::new(text).size(24.0).strong());
    }
    ui.horizontal(|ui| {
        ui.label(format!("{} {}", v.t(T::Selected), sel.selected.len()));
        amounts(ui, ctx, sel, v);
    });
    v.act_primary(ui, v.t(T::ToNotices), Action::ToNotices, out);
    footer(ui, v, true, true, out);
}
