//! One operation on the platform, from its JSON body to its JSON answer (status and bytes);
//! blocking, run on tokio's blocking pool. The authenticated kiosk's id replaces any kiosk id in
//! the body, so receipts and the audit log name the kiosk that really called.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::platform::{FilingId, Platform};
use crate::store::{ErrorKind, StoreError};
use crate::wire::error as wire_error;
use crate::wire::ops::*;

/// An answer: the HTTP status and the JSON body.
pub type Answer = (u16, Vec<u8>);

/// The answer of an error.
pub fn error_answer(e: &StoreError) -> Answer {
    let body = serde_json::to_vec(&wire_error::body(e)).unwrap_or_else(|_| b"{}".to_vec());
    (wire_error::status(e), body)
}

fn answer<T: Serialize>(r: Result<T, StoreError>) -> Answer {
    match r {
        Ok(v) => match serde_json::to_vec(&v) {
            Ok(b) => (200, b),
            Err(e) => error_answer(&StoreError::Corrupt(format!("answer: {e}"))),
        },
        Err(e) => error_answer(&e),
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(body).map_err(|e| StoreError::Invalid(format!("request body: {e}")))
}

/// The demo outbox shows SMS codes: only a demo server answers it.
fn demo_only() -> StoreError {
    StoreError::Remote {
        code: "demo_only",
        kind: ErrorKind::Refused,
        message: "该功能只在演示服务器上提供 / Only a demo server (kiosk serve --demo) offers this"
            .into(),
    }
}

/// Run `op` with `body` for `kiosk_id`. `clock`: the server's time, which replaces the `now` the
/// body carries (None: the kiosk's time is used, for demos and tests on a simulated clock).
pub fn execute(
    p: &dyn Platform,
    op: Op,
    kiosk_id: &str,
    body: &[u8],
    demo: bool,
    clock: Option<jiff::Timestamp>,
) -> Answer {
    let at = |now: jiff::Timestamp| clock.unwrap_or(now);
    fn run<B: DeserializeOwned, T: Serialize>(
        body: &[u8],
        f: impl FnOnce(B) -> Result<T, StoreError>,
    ) -> Answer {
        answer(parse::<B>(body).and_then(f))
    }
    match op {
        Op::Person => run(body, |b: ById| p.person(&b.id_number, at(b.now))),
        Op::Vehicles => run(body, |b: ById| p.vehicles(&b.id_number, at(b.now))),
        Op::Violations => run(body, |b: ByIdVehicle| {
            p.violations(&b.id_number, &b.vehicle, at(b.now))
        }),
        Op::SendRegisterCode => run(body, |b: ByPhone| {
            p.send_register_code(kiosk_id, &b.phone, at(b.now))
        }),
        Op::Register => run(body, |b: RegisterBody| p.register(&b.request, at(b.now))),
        Op::SendFilingCode => run(body, |b: ByIdVehicle| {
            p.send_filing_code(kiosk_id, &b.id_number, &b.vehicle, at(b.now))
        }),
        Op::CheckFilingCode => run(body, |b: FilingCode| {
            p.check_filing_code(&b.id_number, &b.vehicle, &b.code, at(b.now))
        }),
        Op::FileVehicle => run(body, |b: FileBody| p.file_vehicle(&b.request, at(b.now))),
        Op::ReviewFiling => run(body, |b: Review| {
            p.review_filing(FilingId(b.filing_id), b.approve, &b.note, at(b.now))
        }),
        Op::Unfile => run(body, |b: ByIdVehicle| {
            p.unfile(&b.id_number, &b.vehicle, at(b.now))
        }),
        Op::Filings => run(body, |b: ById| p.filings(&b.id_number, at(b.now))),
        Op::RemoveDriver => run(body, |b: RemoveDriver| {
            p.remove_driver(&b.owner, FilingId(b.filing_id), at(b.now))
        }),
        Op::Handle => run(body, |mut b: HandleBody| {
            b.request.kiosk_id = kiosk_id.to_string();
            p.handle(&b.request, at(b.now))
        }),
        Op::Pay => run(body, |b: PayBody| p.pay(&b.request, at(b.now))),
        Op::PaymentOrder => run(body, |b: ByDecision| {
            p.payment_order(&b.decision_number, at(b.now))
        }),
        Op::RevertDue => run(body, |b: AtTime| p.revert_due(at(b.now))),
        Op::Receipt => run(body, |b: ReceiptQuery| {
            p.receipt(&b.decision_number, b.kind)
        }),
        Op::Feedback => run(body, |mut b: FeedbackBody| {
            b.request.kiosk_id = kiosk_id.to_string();
            p.feedback(&b.request, at(b.now))
                .map(|feedback| FeedbackNumber { feedback })
        }),
        // The time the event happened on the kiosk is kept as the kiosk said it.
        Op::KioskEvent => run(body, |mut b: KioskEventBody| {
            b.request.kiosk_id = kiosk_id.to_string();
            p.record_kiosk_event(&b.request, b.at)
                .map(|event| KioskEventNumber { event })
        }),
        // The receipt certifies the kiosk that asked, as it authenticated.
        Op::SealReceipt => run(body, |mut b: SealBody| {
            b.request.kiosk_id = kiosk_id.to_string();
            p.seal_receipt(&b.request, at(b.now))
        }),
        Op::IssueVehicleQr => run(body, |b: ByIdVehicle| {
            p.issue_vehicle_qr(&b.id_number, &b.vehicle, at(b.now))
        }),
        Op::VehicleByPlate => run(body, |b: ByPlate| p.vehicle_by_plate(&b.plate, at(b.now))),
        Op::VehicleOwner => run(body, |b: ByVehicle| p.vehicle_owner(&b.vehicle, at(b.now))),
        Op::FilingPrecheck => run(body, |b: ByIdVehicle| {
            p.filing_precheck(&b.id_number, &b.vehicle, at(b.now))
        }),
        Op::VerifyVehicleQr => run(body, |b: ByToken| p.verify_vehicle_qr(&b.token, at(b.now))),
        // `kiosk serve --remote-config` answers before the platform is asked (`serve_blocking`).
        Op::RemoteConfig => run(body, |_: RemoteConfigQuery| p.remote_config(kiosk_id)),
        Op::SmsOutbox => run(body, |b: Limit| {
            if demo {
                p.sms_outbox(b.limit.min(1000))
            } else {
                Err(demo_only())
            }
        }),
    }
}
