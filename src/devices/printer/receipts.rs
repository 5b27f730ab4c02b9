//! The receipts a kiosk prints, as plain data the kiosk flow fills in, and their layouts for
//! 58 mm and 80 mm paper: the handling receipt (处理凭证), the payment receipt (缴款凭证), the
//! penalty decision document (处罚决定书) and the owner's vehicle-QR slip (机动车二维码).
//!
//! Every receipt carries `手续费：0.00元` (七.1, from [`crate::rules::SERVICE_FEE`]) where money is
//! involved, the kiosk id, and a verification QR code ([`ReceiptCode`]) an operator can scan.

use jiff::Timestamp;

use super::escpos::{Align, EscPos, Paper, QrEc};
use super::font::text_columns;
pub use super::receipt_code::{ReceiptCode, ReceiptCodeError, ReceiptKind, ReceiptSeal};
use crate::domain::Fen;
pub use crate::domain::receipt::{
    HandlingReceipt, PaymentReceipt, PenaltyDecision, PrintJob, Receipt, TestPage, VehicleQrSlip,
    ViolationLine,
};
use crate::rules::maintenance::local_time;

/// Beijing time, to the minute.
fn when(t: Timestamp) -> String {
    local_time(t).strftime("%Y-%m-%d %H:%M").to_string()
}

fn fee_line() -> String {
    format!("手续费：{}", crate::rules::SERVICE_FEE)
}

/// Lines of `label` + `value` wrapped to `cols`, continuation lines indented under the value.
pub fn wrap_labelled(label: &str, value: &str, cols: usize) -> Vec<String> {
    let indent = text_columns(label);
    let mut lines = Vec::new();
    let mut line = label.to_string();
    let mut used = indent;
    for (before, c) in value.chars().enumerate() {
        let w = super::font::columns(c);
        if used + w > cols && used > indent {
            // 避头点: a line never starts with closing punctuation; the character before it
            // moves down with it.
            let carried = if NO_LINE_START.contains(c) && before > 1 {
                line.pop()
            } else {
                None
            };
            lines.push(std::mem::take(&mut line));
            line = " ".repeat(indent);
            used = indent;
            if let Some(p) = carried {
                line.push(p);
                used += super::font::columns(p);
            }
        }
        line.push(c);
        used += w;
    }
    lines.push(line);
    lines
}

/// Punctuation that must not begin a line.
const NO_LINE_START: &str = "，。、；：？！）》」』”’…,.;:?!)";

/// Two texts on one line, the second flush right.
fn spread(left: &str, right: &str, cols: usize) -> String {
    let gap = cols
        .saturating_sub(text_columns(left) + text_columns(right))
        .max(1);
    format!("{left}{}{right}", " ".repeat(gap))
}

struct Doc {
    p: EscPos,
    /// A reprint's time: the title is followed by 补打 and this time.
    reprint: Option<Timestamp>,
}

impl Doc {
    fn new(paper: Paper, reprint: Option<Timestamp>) -> Self {
        Doc {
            p: EscPos::new(paper),
            reprint,
        }
    }
    fn cols(&self) -> usize {
        self.p.paper().columns()
    }
    fn title(&mut self, title: &str) {
        // Double width only when the title still fits the paper.
        let w = if text_columns(title) * 2 <= self.cols() {
            2
        } else {
            1
        };
        self.p
            .align(Align::Center)
            .bold(true)
            .size(w, 2)
            .line(title);
        self.p.size(1, 1).bold(false);
        if let Some(at) = self.reprint {
            self.p
                .bold(true)
                .line(&format!("补打 / REPRINT {}", when(at)))
                .bold(false);
        }
        self.p.align(Align::Left);
    }
    fn rule(&mut self) {
        let n = self.cols();
        self.p.line(&"-".repeat(n));
    }
    fn field(&mut self, label: &str, value: &str) {
        let n = self.cols();
        for l in wrap_labelled(label, value, n) {
            self.p.line(&l);
        }
    }
    fn strong(&mut self, label: &str, value: &str) {
        self.p.bold(true);
        self.field(label, value);
        self.p.bold(false);
    }
    fn footer(&mut self, kiosk_id: &str, code: &ReceiptCode) {
        self.rule();
        self.field("自助机编号：", kiosk_id);
        self.p.align(Align::Center);
        let preferred = match self.p.paper() {
            Paper::Mm58 => 5,
            Paper::Mm80 => 6,
        };
        let data = code.encode();
        let module = fit_module(&data, self.p.paper(), preferred);
        self.p.qr(&data, module, QrEc::M);
        self.p.line("扫码核验本凭证");
        self.p.align(Align::Left);
        self.p.cut();
    }
    fn finish(self) -> Vec<u8> {
        self.p.finish()
    }
}

/// The largest module size up to `preferred` dots at which the QR code of `data` (level M) fits
/// the paper's width with its 4-module quiet zone on each side (a sealed code naming many
/// decisions needs a larger QR version); at least 2 dots.
fn fit_module(data: &str, paper: Paper, preferred: u8) -> u8 {
    let Ok(code) = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M) else {
        return preferred;
    };
    let modules = code.width() as u32 + 8;
    let fits = (paper.dots() / modules).clamp(2, u32::from(preferred));
    fits as u8
}

impl HandlingReceipt {
    pub fn code(&self) -> ReceiptCode {
        ReceiptCode {
            kind: ReceiptKind::Handling,
            kiosk_id: self.kiosk_id.clone(),
            number: self.decision_number.clone(),
            amount: self.total_fine(),
            at: local_time(self.handled_at),
            seal: None,
        }
    }

    pub fn escpos(&self, paper: Paper) -> Vec<u8> {
        self.escpos_as(paper, None)
    }

    fn escpos_as(&self, paper: Paper, reprint: Option<Timestamp>) -> Vec<u8> {
        let mut d = Doc::new(paper, reprint);
        d.title("处理凭证");
        d.p.align(Align::Center)
            .line("交通违法自助处理")
            .align(Align::Left);
        d.rule();
        d.field("决定书编号：", &self.decision_number);
        d.field("号牌号码：", self.plate.as_str());
        d.field("当事人：", &self.driver_name.masked());
        d.field("处理时间：", &when(self.handled_at));
        for (i, v) in self.violations.iter().enumerate() {
            d.rule();
            d.p.line(&format!("违法记录 {}/{}", i + 1, self.violations.len()));
            d.field("违法时间：", &when(v.time));
            d.field("违法地点：", &v.place);
            d.field("违法行为：", &v.behaviour);
            let cols = d.cols();
            d.p.line(&spread(
                &format!("罚款：{}", v.fine),
                &format!("记分：{}", v.points),
                cols,
            ));
        }
        d.rule();
        d.strong("罚款合计：", &self.total_fine().to_string());
        d.strong("记分合计：", &self.total_points().to_string());
        d.strong("缴款期限：", &format!("{}前", when(self.payment_deadline)));
        d.field("", &fee_line());
        d.field("", "请在缴款期限内缴纳罚款，逾期未缴款的处理将被撤销。");
        d.footer(&self.kiosk_id, &self.code());
        d.finish()
    }
}

impl PaymentReceipt {
    /// The platform's sealed code when it gave one, else the unsealed code of this receipt.
    pub fn code(&self) -> ReceiptCode {
        if let Some(sealed) = &self.sealed_code {
            return sealed.as_ref().clone();
        }
        ReceiptCode {
            kind: ReceiptKind::Payment,
            kiosk_id: self.kiosk_id.clone(),
            number: self.decision_number.clone(),
            amount: self.total(),
            at: local_time(self.paid_at),
            seal: None,
        }
    }

    pub fn escpos(&self, paper: Paper) -> Vec<u8> {
        self.escpos_as(paper, None)
    }

    fn escpos_as(&self, paper: Paper, reprint: Option<Timestamp>) -> Vec<u8> {
        let mut d = Doc::new(paper, reprint);
        d.title("缴款凭证");
        d.p.align(Align::Center)
            .line("交通违法罚款缴纳")
            .align(Align::Left);
        d.rule();
        d.field("决定书编号：", &self.decision_number);
        d.field("号牌号码：", self.plate.as_str());
        d.field("缴款人：", &self.payer_name.masked());
        d.field("罚款金额：", &self.fine.to_string());
        d.field("加处罚款：", &self.surcharge.to_string());
        d.field("手续费：", &self.fee.to_string());
        d.strong("实缴金额：", &self.total().to_string());
        d.field("缴款方式：", &self.method);
        d.field("交易流水号：", &self.transaction_number);
        d.field("缴款时间：", &when(self.paid_at));
        d.footer(&self.kiosk_id, &self.code());
        d.finish()
    }
}

impl PenaltyDecision {
    pub fn code(&self) -> ReceiptCode {
        ReceiptCode {
            kind: ReceiptKind::Decision,
            kiosk_id: self.kiosk_id.clone(),
            number: self.decision_number.clone(),
            amount: self.violation.fine,
            at: local_time(self.decided_at),
            seal: None,
        }
    }

    pub fn escpos(&self, paper: Paper) -> Vec<u8> {
        self.escpos_as(paper, None)
    }

    fn escpos_as(&self, paper: Paper, reprint: Option<Timestamp>) -> Vec<u8> {
        let mut d = Doc::new(paper, reprint);
        d.p.align(Align::Center).bold(true).line("公安交通管理");
        d.title("简易程序处罚决定书");
        d.p.align(Align::Center)
            .line(&format!("编号：{}", self.decision_number))
            .align(Align::Left);
        d.rule();
        d.field("被处罚人：", self.name.expose());
        d.field("身份证号码：", &self.id_number.masked());
        if !self.licence_file_number.is_empty() {
            d.field("档案编号：", &self.licence_file_number);
        }
        d.field("号牌号码：", self.plate.as_str());
        d.field("违法时间：", &when(self.violation.time));
        d.field("违法地点：", &self.violation.place);
        d.field("违法行为：", &self.violation.behaviour);
        d.field("依据：", &self.legal_basis);
        d.strong(
            "决定：",
            &format!("罚款{}，记{}分", self.violation.fine, self.violation.points),
        );
        d.field("缴款期限：", &format!("{}前", when(self.payment_deadline)));
        d.field("", &fee_line());
        d.field(
            "",
            "如不服本决定，可在收到本决定书之日起六十日内申请行政复议，或者在六个月内依法提起行政诉讼。",
        );
        d.field("处罚机关：", &self.authority);
        d.field("决定日期：", &when(self.decided_at));
        d.footer(&self.kiosk_id, &self.code());
        d.finish()
    }
}

impl VehicleQrSlip {
    pub fn escpos(&self, paper: Paper) -> Vec<u8> {
        self.escpos_as(paper, None)
    }

    fn escpos_as(&self, paper: Paper, reprint: Option<Timestamp>) -> Vec<u8> {
        let mut d = Doc::new(paper, reprint);
        d.title("机动车二维码");
        d.rule();
        d.field("号牌号码：", self.plate.as_str());
        d.field("号牌种类：", &self.plate_type);
        d.field("所有人：", &self.owner_name.masked());
        d.field("有效期至：", &when(self.expires_at));
        d.p.align(Align::Center);
        let module = match paper {
            Paper::Mm58 => 4,
            Paper::Mm80 => 6,
        };
        d.p.qr(&self.token, module, QrEc::M);
        d.p.line("他人备案本车时请扫描此码");
        d.p.line("请妥善保管，勿转交无关人员");
        d.p.align(Align::Left);
        d.rule();
        d.field("自助机编号：", &self.kiosk_id);
        d.p.cut();
        d.finish()
    }
}

impl TestPage {
    pub fn escpos(&self, paper: Paper) -> Vec<u8> {
        self.escpos_as(paper, None)
    }

    fn escpos_as(&self, paper: Paper, reprint: Option<Timestamp>) -> Vec<u8> {
        let mut d = Doc::new(paper, reprint);
        d.title("打印测试");
        d.rule();
        d.field("终端：", &self.kiosk_id);
        d.field("时间：", &when(self.at));
        d.field("", &fee_line());
        d.p.cut();
        d.finish()
    }
}

impl Receipt {
    /// The receipt laid out for `paper`.
    pub fn escpos(&self, paper: Paper) -> Vec<u8> {
        self.escpos_as(paper, None)
    }

    fn escpos_as(&self, paper: Paper, reprint: Option<Timestamp>) -> Vec<u8> {
        match self {
            Receipt::Handling(r) => r.escpos_as(paper, reprint),
            Receipt::Payment(r) => r.escpos_as(paper, reprint),
            Receipt::Decision(r) => r.escpos_as(paper, reprint),
            Receipt::VehicleQr(r) => r.escpos_as(paper, reprint),
            Receipt::TestPage(r) => r.escpos_as(paper, reprint),
        }
    }
}

impl PrintJob {
    /// The job laid out for `paper`; a reprint is marked 补打 with its time under the title.
    pub fn escpos(&self, paper: Paper) -> Vec<u8> {
        self.receipt.escpos_as(paper, self.reprinted_at)
    }
}

/// Sample receipts for `kiosk device print --sample` and the tests.
pub mod samples {
    use super::*;
    use crate::domain::{IdNumber, Plate};
    use crate::privacy::Masked;
    use jiff::civil::{DateTime, date};

    /// A Beijing time.
    fn bj(t: DateTime) -> Timestamp {
        crate::rules::maintenance::china_offset()
            .to_timestamp(t)
            .expect("a valid Beijing time")
    }

    fn plate() -> Plate {
        Plate::parse("渝A12345").expect("valid")
    }

    pub fn handling(kiosk_id: &str) -> HandlingReceipt {
        HandlingReceipt {
            kiosk_id: kiosk_id.to_string(),
            decision_number: "5001061100123456".into(),
            plate: plate(),
            driver_name: Masked::new("李小红".into()),
            handled_at: bj(date(2026, 11, 25).at(9, 30, 0, 0)),
            violations: vec![
                ViolationLine {
                    time: bj(date(2026, 10, 3).at(8, 12, 0, 0)),
                    place: "重庆市渝中区解放碑民族路与邹容路交叉口".into(),
                    behaviour: "机动车不按规定停放".into(),
                    fine: Fen::from_yuan(200),
                    points: 3,
                },
                ViolationLine {
                    time: bj(date(2026, 10, 17).at(18, 45, 0, 0)),
                    place: "重庆市沙坪坝区天星桥正街".into(),
                    behaviour: "驾驶机动车不按导向车道行驶".into(),
                    fine: Fen::from_yuan(100),
                    points: 1,
                },
            ],
            payment_deadline: bj(date(2026, 11, 25).at(11, 30, 0, 0)),
        }
    }

    pub fn payment(kiosk_id: &str) -> PaymentReceipt {
        PaymentReceipt {
            kiosk_id: kiosk_id.to_string(),
            decision_number: "5001061100123456".into(),
            plate: plate(),
            payer_name: Masked::new("李小红".into()),
            fine: Fen::from_yuan(300),
            surcharge: Fen(0),
            fee: crate::rules::SERVICE_FEE,
            method: "微信支付".into(),
            transaction_number: "4200002026112509415512345678".into(),
            paid_at: bj(date(2026, 11, 25).at(9, 41, 55, 0)),
            sealed_code: None,
        }
    }

    pub fn decision(kiosk_id: &str) -> PenaltyDecision {
        let h = handling(kiosk_id);
        PenaltyDecision {
            kiosk_id: kiosk_id.to_string(),
            decision_number: h.decision_number.clone(),
            name: Masked::new("李小红".into()),
            id_number: IdNumber::parse("50010619851120002X").expect("valid"),
            licence_file_number: "500100123456".into(),
            plate: h.plate.clone(),
            violation: h.violations[0].clone(),
            legal_basis: "《中华人民共和国道路交通安全法》第五十六条、第九十三条".into(),
            authority: "重庆市公安局交通巡逻警察总队".into(),
            decided_at: h.handled_at,
            payment_deadline: h.payment_deadline,
        }
    }

    pub fn vehicle_qr(kiosk_id: &str) -> VehicleQrSlip {
        VehicleQrSlip {
            kiosk_id: kiosk_id.to_string(),
            plate: plate(),
            plate_type: "小型汽车".into(),
            owner_name: Masked::new("李小红".into()),
            token: "VQR1.eyJwbGF0ZSI6Iua4nUExMjM0NSJ9.c2lnbmF0dXJl".into(),
            expires_at: bj(date(2026, 12, 25).at(9, 30, 0, 0)),
        }
    }

    /// A test page: sizes, bold, alignment, a rare-character line (raster) and a QR code.
    pub fn test_page(kiosk_id: &str, paper: Paper) -> Vec<u8> {
        let mut p = EscPos::new(paper);
        p.align(Align::Center)
            .bold(true)
            .size(2, 2)
            .line("打印测试");
        p.size(1, 1).bold(false).line(&format!(
            "{} mm",
            match paper {
                Paper::Mm58 => 58,
                Paper::Mm80 => 80,
            }
        ));
        p.align(Align::Left).line("左对齐 Left ABC 123");
        p.align(Align::Center).line("居中 Center");
        p.align(Align::Right).line("右对齐 Right");
        p.align(Align::Left).bold(true).line("加粗 Bold");
        p.bold(false).size(1, 2).line("倍高 Tall");
        p.size(2, 1).line("倍宽 Wide");
        p.size(1, 1).line("生僻字（光栅）：堃 玥 喆");
        p.line(&format!("金额：{}  ￥300.00", Fen::from_yuan(300)));
        p.line(&format!("手续费：{}", crate::rules::SERVICE_FEE));
        p.align(Align::Center)
            .qr(&format!("kiosk {kiosk_id} test page"), 6, QrEc::M);
        p.line(kiosk_id);
        p.cut();
        p.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    fn text(bytes: &[u8]) -> String {
        render::to_text(&render::parse(bytes))
    }

    #[test]
    fn handling_receipt_58mm() {
        insta::assert_snapshot!(text(&samples::handling("CQ-DEMO-0001").escpos(Paper::Mm58)));
    }

    #[test]
    fn handling_receipt_80mm() {
        insta::assert_snapshot!(text(&samples::handling("CQ-DEMO-0001").escpos(Paper::Mm80)));
    }

    #[test]
    fn payment_receipt_58mm() {
        insta::assert_snapshot!(text(&samples::payment("CQ-DEMO-0001").escpos(Paper::Mm58)));
    }

    #[test]
    fn payment_receipt_80mm() {
        insta::assert_snapshot!(text(&samples::payment("CQ-DEMO-0001").escpos(Paper::Mm80)));
    }

    #[test]
    fn penalty_decision_80mm() {
        insta::assert_snapshot!(text(&samples::decision("CQ-DEMO-0001").escpos(Paper::Mm80)));
    }

    #[test]
    fn payment_receipt_reprint_80mm() {
        let at = crate::rules::maintenance::china_offset()
            .to_timestamp(jiff::civil::date(2026, 11, 25).at(10, 5, 0, 0))
            .unwrap();
        let job = PrintJob::reprint(Receipt::Payment(samples::payment("CQ-DEMO-0001")), at);
        let t = text(&job.escpos(Paper::Mm80));
        assert!(t.contains("补打 / REPRINT 2026-11-25 10:05"), "{t}");
        insta::assert_snapshot!(t);
    }

    #[test]
    fn a_first_print_is_not_marked_as_a_reprint() {
        let job = PrintJob::new(Receipt::Payment(samples::payment("K")));
        assert!(!text(&job.escpos(Paper::Mm58)).contains("补打"));
    }

    #[test]
    fn vehicle_qr_slip_58mm() {
        insta::assert_snapshot!(text(
            &samples::vehicle_qr("CQ-DEMO-0001").escpos(Paper::Mm58)
        ));
    }

    #[test]
    fn money_receipts_carry_the_fee_line_kiosk_id_qr_and_cut() {
        let k = "CQ-TEST-0042";
        for (name, bytes) in [
            ("handling", samples::handling(k).escpos(Paper::Mm58)),
            ("payment", samples::payment(k).escpos(Paper::Mm80)),
            ("decision", samples::decision(k).escpos(Paper::Mm58)),
        ] {
            let t = text(&bytes);
            assert!(t.contains("手续费：0.00元"), "{name}");
            assert!(t.contains(k), "{name}");
            assert!(t.contains("[qr CQKIOSK-RCPT/1|"), "{name}");
            assert!(t.trim_end().ends_with("[cut]"), "{name}");
            assert!(!t.contains('¥'), "{name}");
        }
    }

    #[test]
    fn no_printed_line_is_wider_than_the_paper() {
        for paper in [Paper::Mm58, Paper::Mm80] {
            for bytes in [
                samples::handling("K").escpos(paper),
                samples::payment("K").escpos(paper),
                samples::decision("K").escpos(paper),
                samples::vehicle_qr("K").escpos(paper),
            ] {
                let ops = render::parse(&bytes);
                let mut size = 1usize;
                for op in &ops {
                    match op {
                        render::Op::Size(w, _) => size = usize::from(*w),
                        render::Op::Text(t) => {
                            assert!(
                                text_columns(t) * size <= paper.columns(),
                                "{t} on {paper:?}"
                            )
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn decode_qr(png_source: &image::GrayImage) -> Vec<String> {
        let mut img = rqrr::PreparedImage::prepare(png_source.clone());
        img.detect_grids()
            .into_iter()
            .filter_map(|g| g.decode().ok().map(|(_, s)| s))
            .collect()
    }

    #[test]
    fn rendered_receipts_carry_a_qr_code_that_scans() {
        for paper in [Paper::Mm58, Paper::Mm80] {
            let r = samples::handling("CQ-DEMO-0001");
            let canvas = render::render(&render::parse(&r.escpos(paper)), paper);
            // Through PNG and back, as a phone would see the image.
            let png = canvas.to_png().unwrap();
            let img = image::load_from_memory(&png).unwrap().to_luma8();
            assert_eq!(img.width(), paper.dots());
            assert_eq!(decode_qr(&img), vec![r.code().encode()], "{paper:?}");
        }
    }

    #[test]
    fn a_sealed_payment_receipt_prints_the_platforms_code_and_it_scans_back() {
        let mut r = samples::payment("CQ-DEMO-0001");
        let sealed = ReceiptCode {
            seal: Some(ReceiptSeal {
                key_id: "receipt-2026a".into(),
                signature: "A".repeat(86),
            }),
            number: (0..crate::domain::receipt_code::MAX_NUMBERS)
                .map(|i| format!("500120261125{i:08}"))
                .collect::<Vec<_>>()
                .join("+"),
            ..r.code()
        };
        r.sealed_code = Some(Box::new(sealed.clone()));
        for paper in [Paper::Mm58, Paper::Mm80] {
            let canvas = render::render(&render::parse(&r.escpos(paper)), paper);
            let text = decode_qr(&canvas.to_image());
            assert_eq!(text, vec![sealed.encode()], "{paper:?}");
            assert_eq!(ReceiptCode::parse(&text[0]).unwrap(), sealed);
        }
    }

    #[test]
    fn handling_receipt_58mm_png() {
        let bytes = samples::handling("CQ-DEMO-0001").escpos(Paper::Mm58);
        let png = render::render(&render::parse(&bytes), Paper::Mm58)
            .to_png()
            .unwrap();
        insta::assert_binary_snapshot!(".png", png);
    }

    #[test]
    fn the_vehicle_qr_slip_token_scans_back() {
        let slip = samples::vehicle_qr("CQ-DEMO-0001");
        let canvas = render::render(&render::parse(&slip.escpos(Paper::Mm58)), Paper::Mm58);
        assert_eq!(decode_qr(&canvas.to_image()), vec![slip.token]);
    }

    #[test]
    fn receipt_codes_round_trip_and_refuse_garbage() {
        let code = samples::payment("CQ-DEMO-0001").code();
        assert_eq!(ReceiptCode::parse(&code.encode()).unwrap(), code);
        for bad in [
            "",
            "hello",
            "CQKIOSK-RCPT/1|X|K|N|1|20261125093000",
            "CQKIOSK-RCPT/1|H|K|N|-1|20261125093000",
            "CQKIOSK-RCPT/1|H|K|N|+1|20261125093000",
            "CQKIOSK-RCPT/1|H|K|N|1|20261325093000",
            "CQKIOSK-RCPT/1|H|K|N|1",
            "CQKIOSK-RCPT/1|H|K|N|1|20261125093000|extra",
            "CQKIOSK-RCPT/1|H|K K|N|1|20261125093000",
            "CQKIOSK-RCPT/1|H|K|N+|1|20261125093000",
            "CQKIOSK-RCPT/2|H|K|N|1|20261125093000",
            "CQKIOSK-RCPT/2|H|K|N|1|20261125093000|k1",
            "CQKIOSK-RCPT/2|H|K|N|1|20261125093000|k|1|AAAA",
            "CQKIOSK-RCPT/2|H|K|N|1|20261125093000|bad kid|AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "CQKIOSK-RCPT/2|H|K|N|1|20261125093000|k1|AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert!(ReceiptCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_wrapped_line_never_starts_with_closing_punctuation() {
        let lines = wrap_labelled("依据：", "一二三四五六七八九十、第九十三条", 26);
        assert_eq!(
            lines,
            vec!["依据：一二三四五六七八九", "      十、第九十三条"]
        );
    }

    #[test]
    fn long_values_wrap_under_their_label() {
        let lines = wrap_labelled("违法地点：", "重庆市渝中区解放碑民族路与邹容路交叉口", 32);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("          "));
        assert!(lines.iter().all(|l| text_columns(l) <= 32));
    }
}
