//! The operations of the [`Platform`](crate::store::Platform) trait on the wire: each is
//! `POST /v1/<name>` with a JSON body ([`Op::path`]); writes carry an `Idempotency-Key`.
//! The bodies are the store's typed requests; `now` travels with each (the store takes the time
//! from its caller).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::{IdNumber, Plate};
use crate::store::platform::{
    DecisionNumber, FeedbackRequest, FilingRequest, HandleRequest, KioskEventRequest, PayRequest,
    ReceiptKind, RegisterRequest, SealRequest, VehicleKey,
};

/// Where the payment provider posts its notifications (not a kiosk operation: no kiosk
/// signature, the provider's own).
pub const NOTIFY_ALIPAY_PATH: &str = "/notify/alipay";
/// The answer's header that says what became of a notification (`recorded`, `duplicate`, …).
pub const HEADER_NOTIFY_ACK: &str = "x-notify-ack";

/// Every operation the server exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Person,
    Vehicles,
    Violations,
    SendRegisterCode,
    Register,
    SendFilingCode,
    CheckFilingCode,
    FileVehicle,
    ReviewFiling,
    Unfile,
    Filings,
    RemoveDriver,
    Handle,
    Pay,
    PaymentOrder,
    RevertDue,
    Receipt,
    Feedback,
    IssueVehicleQr,
    VehicleByPlate,
    VehicleOwner,
    FilingPrecheck,
    VerifyVehicleQr,
    SmsOutbox,
    KioskEvent,
    SealReceipt,
    RemoteConfig,
}

impl Op {
    pub const ALL: [Op; 27] = [
        Op::Person,
        Op::Vehicles,
        Op::Violations,
        Op::SendRegisterCode,
        Op::Register,
        Op::SendFilingCode,
        Op::CheckFilingCode,
        Op::FileVehicle,
        Op::ReviewFiling,
        Op::Unfile,
        Op::Filings,
        Op::RemoveDriver,
        Op::Handle,
        Op::Pay,
        Op::PaymentOrder,
        Op::RevertDue,
        Op::Receipt,
        Op::Feedback,
        Op::IssueVehicleQr,
        Op::VehicleByPlate,
        Op::VehicleOwner,
        Op::FilingPrecheck,
        Op::VerifyVehicleQr,
        Op::SmsOutbox,
        Op::KioskEvent,
        Op::SealReceipt,
        Op::RemoteConfig,
    ];

    /// The name in the path, `snake_case` like the trait's method.
    pub fn name(self) -> &'static str {
        match self {
            Op::Person => "person",
            Op::Vehicles => "vehicles",
            Op::Violations => "violations",
            Op::SendRegisterCode => "send_register_code",
            Op::Register => "register",
            Op::SendFilingCode => "send_filing_code",
            Op::CheckFilingCode => "check_filing_code",
            Op::FileVehicle => "file_vehicle",
            Op::ReviewFiling => "review_filing",
            Op::Unfile => "unfile",
            Op::Filings => "filings",
            Op::RemoveDriver => "remove_driver",
            Op::Handle => "handle",
            Op::Pay => "pay",
            Op::PaymentOrder => "payment_order",
            Op::RevertDue => "revert_due",
            Op::Receipt => "receipt",
            Op::Feedback => "feedback",
            Op::IssueVehicleQr => "issue_vehicle_qr",
            Op::VehicleByPlate => "vehicle_by_plate",
            Op::VehicleOwner => "vehicle_owner",
            Op::FilingPrecheck => "filing_precheck",
            Op::VerifyVehicleQr => "verify_vehicle_qr",
            Op::SmsOutbox => "sms_outbox",
            Op::KioskEvent => "kiosk_event",
            Op::SealReceipt => "seal_receipt",
            Op::RemoteConfig => "remote_config",
        }
    }

    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.name() == name)
    }

    /// `/v1/<name>`.
    pub fn path(self) -> String {
        format!("/v1/{}", self.name())
    }

    /// Whether the operation may change state (then it needs an `Idempotency-Key` and goes
    /// through the server's ledger). `check_filing_code` writes only a wrong try, but that must
    /// not be counted twice when a retry repeats it.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Op::SendRegisterCode
                | Op::Register
                | Op::SendFilingCode
                | Op::CheckFilingCode
                | Op::FileVehicle
                | Op::ReviewFiling
                | Op::Unfile
                | Op::RemoveDriver
                | Op::Handle
                | Op::Pay
                | Op::PaymentOrder
                | Op::RevertDue
                | Op::Feedback
                | Op::KioskEvent
                | Op::IssueVehicleQr
        )
    }
}

/// ID numbers travel in clear on the authenticated link (never in a log).
pub(crate) mod id_wire {
    use crate::domain::IdNumber;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &IdNumber, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(id.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IdNumber, D::Error> {
        let text = String::deserialize(d)?;
        IdNumber::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `person`, `vehicles`, `filings`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ById {
    #[serde(with = "id_wire")]
    pub id_number: IdNumber,
    pub now: Timestamp,
}

/// `violations`, `send_filing_code`, `unfile`, `issue_vehicle_qr`, `filing_precheck`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByIdVehicle {
    #[serde(with = "id_wire")]
    pub id_number: IdNumber,
    pub vehicle: VehicleKey,
    pub now: Timestamp,
}

/// `check_filing_code`: the applicant, the vehicle and the code typed (a write: a wrong try is
/// counted, so a retry goes through the ledger and is not counted twice).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FilingCode {
    #[serde(with = "id_wire")]
    pub id_number: IdNumber,
    pub vehicle: VehicleKey,
    pub code: String,
    pub now: Timestamp,
}

/// `send_register_code`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByPhone {
    pub phone: String,
    pub now: Timestamp,
}

/// `register`, `file_vehicle`, `handle`, `pay`, `feedback`: the store's request and the time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WithNow<T> {
    pub request: T,
    pub now: Timestamp,
}

pub type RegisterBody = WithNow<RegisterRequest>;
pub type FileBody = WithNow<FilingRequest>;
pub type HandleBody = WithNow<HandleRequest>;
pub type PayBody = WithNow<PayRequest>;
pub type FeedbackBody = WithNow<FeedbackRequest>;
/// `seal_receipt` (a look-up: it writes nothing; the server writes the authenticated kiosk id
/// over the request's).
pub type SealBody = WithNow<SealRequest>;

/// `review_filing`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Review {
    pub filing_id: i64,
    pub approve: bool,
    pub note: String,
    pub now: Timestamp,
}

/// `remove_driver`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveDriver {
    #[serde(with = "id_wire")]
    pub owner: IdNumber,
    pub filing_id: i64,
    pub now: Timestamp,
}

/// `revert_due`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AtTime {
    pub now: Timestamp,
}

/// `receipt`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiptQuery {
    pub decision_number: DecisionNumber,
    pub kind: ReceiptKind,
}

/// `payment_order`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByDecision {
    pub decision_number: DecisionNumber,
    pub now: Timestamp,
}

/// `vehicle_by_plate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByPlate {
    pub plate: Plate,
    pub now: Timestamp,
}

/// `vehicle_owner`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByVehicle {
    pub vehicle: VehicleKey,
    pub now: Timestamp,
}

/// `verify_vehicle_qr`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ByToken {
    pub token: String,
    pub now: Timestamp,
}

/// `sms_outbox`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Limit {
    pub limit: u32,
}

/// `remote_config`: nothing to say; the server answers for the authenticated kiosk (the
/// signed document, or `null`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoteConfigQuery {}

/// `kiosk_event`: what the kiosk reports about itself, and when it happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KioskEventBody {
    pub request: KioskEventRequest,
    pub at: Timestamp,
}

/// `kiosk_event`'s answer (its number).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KioskEventNumber {
    pub event: i64,
}

/// `feedback`'s answer (its number).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedbackNumber {
    pub feedback: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_has_one_name_and_path() {
        for op in Op::ALL {
            assert_eq!(Op::from_name(op.name()), Some(op));
            assert_eq!(op.path(), format!("/v1/{}", op.name()));
        }
        let names: std::collections::BTreeSet<_> = Op::ALL.iter().map(|o| o.name()).collect();
        assert_eq!(names.len(), Op::ALL.len());
        assert_eq!(Op::from_name("drop_tables"), None);
    }
}
