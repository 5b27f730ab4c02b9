//! The simulator panel (demo mode only): a side panel in its own colour, apart from the kiosk
//! screen, that plays the devices and the people around the kiosk. It only produces the events a
//! real device would (`CardPlaced`, `CardRemoved`, `Scanned`) and shows the SMS outbox and the
//! simulated printer's output. With `[payment] provider = "simulator"` it is also the person's
//! phone: while the payment screen shows the provider's QR code, "手机扫码支付 / Pay with the
//! phone" pays that order at the Alipay gateway simulator (as scanning it would); the kiosk
//! finds the money by itself at its next order query. What it offers (the demo city's cards, the platform's vehicle QR
//! codes) and what it shows are handed in by the composition root (`crate::app`).

use std::sync::{Arc, Mutex};

use egui::{Color32, RichText, Ui};
use jiff::{SignedDuration, ToSpan};

use super::Clock;
use crate::flow::{Event, Screen, State};
use crate::rules::maintenance::{china_offset, local_time};

const SIM_BG: Color32 = Color32::from_rgb(0x3b, 0x2f, 0x1e);
const SIM_TEXT: Color32 = Color32::from_rgb(0xff, 0xe0, 0xa8);

/// The demo's phone: pays the order behind a payment QR code (the composition root hands in the
/// Alipay gateway simulator's `SimHandle::pay`) and says what happened, for the panel.
pub type PhonePay = Arc<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// A demo SMS, as the simulator's outbox shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// Masked phone (138****1234).
    pub to: String,
    pub text: String,
    /// The code, for the simulator and tests.
    pub code: String,
    pub at: jiff::Timestamp,
}

/// The SMS outbox the panel shows (the composition root copies the platform's demo SMS here).
pub type Outbox = Arc<Mutex<Vec<SmsMessage>>>;

/// Printed receipts as text, newest last (the composition root's printer path fills it).
pub type PrintedReceipts = Arc<Mutex<Vec<String>>>;

/// The demo's staff pager (`[staff_call] provider = "demo"`): the calls hall staff received,
/// newest last (the composition root's demo caller fills it).
pub type Pager = Arc<Mutex<Vec<String>>>;

/// The PNG files of receipts the simulated printer rendered, newest last.
pub type ReceiptImages = Arc<Mutex<Vec<std::path::PathBuf>>>;

/// A scan the panel offers: its label, and the text the scanner would send at the given time.
pub type SimScan = (String, Box<dyn Fn(jiff::Timestamp) -> String + Send>);

/// What the panel offers: the demo city's cards and the platform's vehicle QR codes (the
/// composition root builds it from the demo database).
#[derive(Default)]
pub struct SimScript {
    /// (name, what the card shows, the card).
    pub cards: Vec<(String, String, crate::domain::IdCard)>,
    pub scans: Vec<SimScan>,
}

/// The demo devices' shared handles.
pub struct Simulator {
    script: SimScript,
    /// PNGs the simulated ESC/POS printer rendered (newest last), and the one on screen.
    receipt_images: Option<ReceiptImages>,
    shown_image: Option<(std::path::PathBuf, egui::TextureHandle)>,
    outbox: Outbox,
    printed: PrintedReceipts,
    out_of_paper: Arc<Mutex<bool>>,
    face_fail: Arc<Mutex<bool>>,
    clock: Clock,
    /// The Alipay gateway simulator's phone (`[payment] provider = "simulator"`).
    phone: Option<PhonePay>,
    /// What the phone last did, for the panel: (the QR code it paid, the answer).
    phone_said: Arc<Mutex<Option<(String, String)>>>,
    /// The demo's staff pager, when the kiosk calls staff through it.
    pager: Option<Pager>,
}

/// The QR code the payment screen shows now (the provider's order is open).
pub fn payment_qr_on_screen(state: &State) -> Option<&str> {
    match &state.session()?.screen {
        // An order with nothing to collect (a warning) has no QR: nothing for the phone to pay.
        Screen::Payment { qr: Some(q), .. } if !q.qr.is_empty() => Some(q.qr.as_str()),
        _ => None,
    }
}

fn flag(ui: &mut Ui, f: &Arc<Mutex<bool>>, label: &str) {
    if let Ok(mut g) = f.lock() {
        ui.checkbox(&mut g, RichText::new(label).color(SIM_TEXT));
    }
}

impl Simulator {
    pub fn new(
        outbox: Outbox,
        printed: PrintedReceipts,
        out_of_paper: Arc<Mutex<bool>>,
        face_fail: Arc<Mutex<bool>>,
        clock: Clock,
    ) -> Self {
        Simulator {
            script: SimScript::default(),
            receipt_images: None,
            shown_image: None,
            outbox,
            printed,
            out_of_paper,
            face_fail,
            clock,
            phone: None,
            phone_said: Arc::new(Mutex::new(None)),
            pager: None,
        }
    }

    /// Show the staff calls the demo's pager received.
    pub fn with_pager(mut self, pager: Option<Pager>) -> Self {
        self.pager = pager;
        self
    }

    /// The phone that pays the payment screen's QR at the Alipay gateway simulator.
    pub fn with_phone(mut self, phone: Option<PhonePay>) -> Self {
        self.phone = phone;
        self
    }

    /// What the demo phone last said: the QR it was given and its answer (paid or not). Tests
    /// wait on it instead of sleeping.
    pub fn phone_said(&self) -> Arc<Mutex<Option<(String, String)>>> {
        self.phone_said.clone()
    }

    /// The phone pays the order behind `qr` at the gateway simulator, on a thread of its own
    /// (the panel's button; tests call it). What it answered goes to the panel.
    pub fn pay_with_phone(&self, qr: &str) -> Option<std::thread::JoinHandle<()>> {
        let phone = self.phone.clone()?;
        let said = self.phone_said.clone();
        let qr = qr.to_string();
        std::thread::Builder::new()
            .name("demo-phone".into())
            .spawn(move || {
                let answer = match phone(&qr) {
                    Ok(said) => said,
                    Err(e) => format!("支付失败 / not paid: {e}"),
                };
                if let Ok(mut s) = said.lock() {
                    *s = Some((qr, answer));
                }
            })
            .ok()
    }

    /// Show the receipts the simulated printer rendered as images (PNG files, newest last).
    pub fn with_receipt_images(mut self, images: ReceiptImages) -> Self {
        self.receipt_images = Some(images);
        self
    }

    /// The newest rendered receipt as a texture (decoded once per new receipt).
    fn receipt_texture(&mut self, ctx: &egui::Context) -> Option<egui::TextureHandle> {
        let newest = self.receipt_images.as_ref()?.lock().ok()?.last().cloned()?;
        if let Some((path, tex)) = &self.shown_image
            && *path == newest
        {
            return Some(tex.clone());
        }
        let mut img = image::open(&newest).ok()?.to_rgba8();
        // A very long receipt (hundreds of violations) is taller than the GPU's largest texture:
        // the panel shows its top, as much as fits, instead of failing.
        let max = ctx.input(|i| i.max_texture_side) as u32;
        if img.height() > max || img.width() > max {
            img =
                image::imageops::crop_imm(&img, 0, 0, img.width().min(max), img.height().min(max))
                    .to_image();
        }
        let size = [img.width() as usize, img.height() as usize];
        let color = egui::ColorImage::from_rgba_unmultiplied(size, img.as_raw());
        let tex = ctx.load_texture("printed-receipt", color, egui::TextureOptions::LINEAR);
        self.shown_image = Some((newest, tex.clone()));
        Some(tex)
    }

    /// Offer these cards and scans.
    pub fn with_script(mut self, script: SimScript) -> Self {
        self.script = script;
        self
    }

    /// The demo SMS outbox.
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    /// What the demo printer printed, as text.
    pub fn printed(&self) -> PrintedReceipts {
        self.printed.clone()
    }

    pub(super) fn show(&mut self, ui: &mut Ui, state: &State, out: &mut Vec<Event>) {
        egui::Panel::right("simulator")
            .resizable(false)
            .exact_size(420.0)
            .frame(egui::Frame::new().fill(SIM_BG).inner_margin(12.0))
            .show(ui, |ui| {
                // Its own dark look, apart from the kiosk's light screen.
                ui.style_mut().visuals = egui::Visuals::dark();
                ui.style_mut().visuals.override_text_color = Some(SIM_TEXT);
                ui.style_mut().spacing.item_spacing.y = 4.0;
                egui::ScrollArea::vertical()
                    .id_salt("simulator")
                    .show(ui, |ui| self.contents(ui, state, out));
            });
    }

    fn section(ui: &mut Ui, title: &str) {
        ui.add_space(10.0);
        ui.label(RichText::new(title).strong().size(20.0));
    }

    fn contents(&mut self, ui: &mut Ui, state: &State, out: &mut Vec<Event>) {
        ui.label(RichText::new("模拟器 / Simulator").size(28.0).strong());
        ui.label(
            RichText::new("演示用，不属于自助终端屏幕 / demo only, not part of the kiosk screen")
                .size(14.0),
        );

        Self::section(ui, "身份证读卡器 / ID card reader");
        for (name, role, card) in &self.script.cards {
            if ui
                .button(format!("放置身份证：{name}"))
                .on_hover_text(role.as_str())
                .clicked()
            {
                out.push(Event::CardPlaced(card.clone()));
            }
            ui.label(RichText::new(role.as_str()).size(13.0));
            ui.add_space(6.0);
        }
        if ui.button("取走身份证 / remove card").clicked() {
            out.push(Event::CardRemoved);
        }

        Self::section(ui, "扫码器 / QR scanner");
        let now = self.clock.now();
        for (label, make) in &self.script.scans {
            if ui.button(label.as_str()).clicked() {
                out.push(Event::Scanned(make(now)));
            }
        }

        if self.phone.is_some() {
            Self::section(ui, "手机 / phone (支付宝模拟器 / Alipay simulator)");
            match payment_qr_on_screen(state) {
                Some(qr) => {
                    if ui.button("手机扫码支付 / Pay with the phone").clicked() {
                        self.pay_with_phone(qr);
                    }
                }
                None => {
                    ui.label(
                        RichText::new("缴款页面显示二维码时可用 / on the payment screen")
                            .size(13.0),
                    );
                }
            }
            if let Ok(said) = self.phone_said.lock()
                && let Some((_, answer)) = said.as_ref()
            {
                ui.label(RichText::new(answer.as_str()).size(13.0));
            }
        }

        Self::section(ui, "人脸与打印机 / face and printer");
        flag(
            ui,
            &self.face_fail,
            "下次人脸核验不通过 / next face check fails",
        );
        flag(ui, &self.out_of_paper, "打印机缺纸 / printer out of paper");

        Self::section(ui, "时钟 / clock");
        ui.label(
            local_time(now)
                .strftime("%Y-%m-%d %H:%M:%S UTC+8")
                .to_string(),
        );
        ui.horizontal(|ui| {
            if ui.button("+10 分钟").clicked() {
                self.clock.advance(SignedDuration::from_mins(10));
            }
            if ui.button("到 22:30（维护时段）").clicked() {
                let local = local_time(now);
                let mut target = local.date().at(22, 30, 0, 0);
                if target < local {
                    target = target.checked_add(1.day()).unwrap_or(target);
                }
                if let Ok(t) = china_offset().to_timestamp(target) {
                    self.clock.advance(t.duration_since(now));
                }
            }
        });

        if let Some(pager) = &self.pager {
            Self::section(ui, "工作人员呼叫器 / staff pager");
            if let Ok(calls) = pager.lock() {
                if calls.is_empty() {
                    ui.label("（无呼叫 / no call）");
                }
                for c in calls.iter().rev().take(3) {
                    ui.label(RichText::new(format!("• {c}")).size(14.0));
                }
            }
        }

        Self::section(ui, "短信发件箱 / SMS outbox");
        if let Ok(outbox) = self.outbox.lock() {
            if outbox.is_empty() {
                ui.label("（空 / empty）");
            }
            for m in outbox.iter().rev().take(5) {
                ui.label(RichText::new(format!("→ {}：{}", m.to, m.text)).size(15.0));
            }
        }

        Self::section(ui, "已打印凭条 / printed receipts");
        if let Some(tex) = self.receipt_texture(ui.ctx()) {
            // As the ESC/POS printer simulator rendered it, scaled to the panel.
            let width = ui.available_width().min(tex.size_vec2().x);
            let scale = width / tex.size_vec2().x;
            ui.add(egui::Image::new(&tex).fit_to_exact_size(tex.size_vec2() * scale));
            return;
        }
        if let Ok(printed) = self.printed.lock() {
            if printed.is_empty() {
                ui.label("（无 / none）");
            }
            for r in printed.iter().rev().take(3) {
                egui::Frame::new()
                    .fill(Color32::from_rgb(0xfa, 0xfa, 0xf2))
                    .inner_margin(8.0)
                    .show(ui, |ui| {
                        ui.label(
                            RichText::new(r)
                                .monospace()
                                .size(13.0)
                                .color(Color32::BLACK),
                        );
                    });
            }
        }
    }
}
