//! The receipts a kiosk prints, as typed data: the flow fills them in and hands them to the
//! printer path in its print effect; the device layer (`crate::devices::printer::receipts`) lays
//! them out for 58 mm and 80 mm paper. Nothing is ever parsed back out of printed text.
//!
//! - [`HandlingReceipt`] 处理凭证: violations handled at the kiosk, with the payment deadline;
//! - [`PaymentReceipt`] 缴款凭证: a payment, with fine, surcharge and the fee (七.1: 0.00元);
//! - [`PenaltyDecision`] 简易程序处罚决定书;
//! - [`VehicleQrSlip`] 机动车二维码: the owner's slip another person scans to file the vehicle;
//! - [`TestPage`] the operator's test print.
//!
//! Times are instants; the layout prints them in Beijing time.

use jiff::Timestamp;

use super::{Fen, IdNumber, Plate};
use crate::privacy::Masked;

/// One violation on a handling receipt or a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViolationLine {
    /// 违法时间.
    pub time: Timestamp,
    /// 违法地点.
    pub place: String,
    /// 违法行为.
    pub behaviour: String,
    /// 罚款金额.
    pub fine: Fen,
    /// 记分.
    pub points: u32,
}

/// 处理凭证: printed after violations were handled at the kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlingReceipt {
    pub kiosk_id: String,
    /// 决定书编号.
    pub decision_number: String,
    /// 号牌号码.
    pub plate: Plate,
    /// The driver (printed masked).
    pub driver_name: Masked<String>,
    pub handled_at: Timestamp,
    pub violations: Vec<ViolationLine>,
    /// 缴款期限 (六.2).
    pub payment_deadline: Timestamp,
}

impl HandlingReceipt {
    pub fn total_fine(&self) -> Fen {
        self.violations.iter().map(|v| v.fine).sum()
    }
    pub fn total_points(&self) -> u32 {
        self.violations.iter().map(|v| v.points).sum()
    }
}

/// 缴款凭证: printed after a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentReceipt {
    pub kiosk_id: String,
    /// 决定书编号.
    pub decision_number: String,
    pub plate: Plate,
    /// 缴款人 (printed masked).
    pub payer_name: Masked<String>,
    /// 罚款.
    pub fine: Fen,
    /// 加处罚款 / 滞纳金 (zero when none is due).
    pub surcharge: Fen,
    /// 手续费: always `crate::rules::SERVICE_FEE` (七.1).
    pub fee: Fen,
    /// 缴款方式, e.g. 扫码支付, 微信支付.
    pub method: String,
    /// 交易流水号.
    pub transaction_number: String,
    pub paid_at: Timestamp,
    /// The verification code the platform sealed for this payment (kind, kiosk, decision
    /// number(s), total, time, the receipt key's signature), printed as is in the QR; `None`: the
    /// platform gave none, the QR is the unsealed form and proves nothing.
    pub sealed_code: Option<Box<super::receipt_code::ReceiptCode>>,
}

impl PaymentReceipt {
    /// 实缴金额: fine + surcharge + fee.
    pub fn total(&self) -> Fen {
        self.fine + self.surcharge + self.fee
    }
}

/// 公安交通管理简易程序处罚决定书.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PenaltyDecision {
    pub kiosk_id: String,
    pub decision_number: String,
    /// 被处罚人.
    pub name: Masked<String>,
    pub id_number: IdNumber,
    /// 驾驶证档案编号 (may be empty).
    pub licence_file_number: String,
    pub plate: Plate,
    pub violation: ViolationLine,
    /// 依据 (the articles applied).
    pub legal_basis: String,
    /// 处罚机关.
    pub authority: String,
    pub decided_at: Timestamp,
    pub payment_deadline: Timestamp,
}

/// 机动车二维码: the owner's slip that another person scans to file the vehicle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VehicleQrSlip {
    pub kiosk_id: String,
    pub plate: Plate,
    /// 号牌种类 name, e.g. 小型汽车.
    pub plate_type: String,
    pub owner_name: Masked<String>,
    /// The signed token (issued and verified by the store).
    pub token: String,
    pub expires_at: Timestamp,
}

/// The operator's test print (打印测试).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPage {
    pub kiosk_id: String,
    pub at: Timestamp,
}

/// Any receipt the kiosk prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    Handling(HandlingReceipt),
    Payment(PaymentReceipt),
    Decision(PenaltyDecision),
    VehicleQr(VehicleQrSlip),
    TestPage(TestPage),
}

impl Receipt {
    /// The receipt's title as printed (for the print queue and logs; holds no personal data).
    pub fn title(&self) -> &'static str {
        match self {
            Receipt::Handling(_) => "处理凭证",
            Receipt::Payment(_) => "缴款凭证",
            Receipt::Decision(_) => "简易程序处罚决定书",
            Receipt::VehicleQr(_) => "机动车二维码",
            Receipt::TestPage(_) => "打印测试",
        }
    }
}

/// A receipt to print: the receipt itself, and when it is a reprint (补打), the reprint's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintJob {
    pub receipt: Receipt,
    /// Set on a reprint: the receipt is marked 补打 with this time.
    pub reprinted_at: Option<Timestamp>,
}

impl PrintJob {
    /// The first print of `receipt`.
    pub fn new(receipt: Receipt) -> Self {
        PrintJob {
            receipt,
            reprinted_at: None,
        }
    }

    /// A reprint of `receipt` at `at` (补打).
    pub fn reprint(receipt: Receipt, at: Timestamp) -> Self {
        PrintJob {
            receipt,
            reprinted_at: Some(at),
        }
    }
}
