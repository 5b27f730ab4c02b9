//! Every [`StoreError`] as an HTTP status and a JSON body, and back: a client rebuilds the same
//! error (same `code()`, `kind()` and sentence), so the flow and the operator's CLI say exactly
//! what they say over the local store.
//!
//! | kind | status |
//! | --- | --- |
//! | `not_found` | 404 |
//! | `invalid` | 400 |
//! | `refused` (rules, state; and an idempotency key reused for another request) | 422 |
//! | `request_in_flight` (the same key is running now) | 409 |
//! | `kiosk_unauthorized` | 401 |
//! | `storage` | 500 (`database_unavailable`: 503) |
//! | `unavailable` | 503 |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rules::filing::FilingRefusal;
use crate::rules::payment::PaymentRefusal;
use crate::store::token::TokenError;
use crate::store::{ErrorKind, StoreError, payment, sms};

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The stable code (`StoreError::code`).
    pub error: String,
    pub kind: ErrorKind,
    /// The whole sentence, `中文 / English`.
    pub message: String,
    pub zh: String,
    pub en: String,
    /// The variant's fields, to rebuild it (`arg`; `state` and `wanted`; `violation`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub detail: BTreeMap<String, String>,
}

/// The HTTP status of an error.
pub fn status(e: &StoreError) -> u16 {
    match e {
        StoreError::InFlight => 409,
        StoreError::Unauthorized(_) => 401,
        StoreError::SmsRateLimited { .. } => 429,
        StoreError::Sqlite(_)
        | StoreError::Remote {
            code: "database_unavailable",
            ..
        } => 503,
        e => match e.kind() {
            ErrorKind::NotFound => 404,
            ErrorKind::Invalid => 400,
            ErrorKind::Refused => 422,
            ErrorKind::Storage => 500,
            ErrorKind::Unavailable => 503,
        },
    }
}

/// `中文 / English` split at the first ` / ` (a sentence without one is the same in both).
fn split(message: &str) -> (String, String) {
    match message.split_once(" / ") {
        Some((zh, en)) => (zh.to_string(), en.to_string()),
        None => (message.to_string(), message.to_string()),
    }
}

/// The body of an error answer.
pub fn body(e: &StoreError) -> ErrorBody {
    let message = e.to_string();
    let (zh, en) = split(&message);
    let mut detail = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        detail.insert(k.to_string(), v.to_string());
    };
    match e {
        StoreError::ViolationNotFound(a)
        | StoreError::DecisionNotFound(a)
        | StoreError::Invalid(a)
        | StoreError::Corrupt(a)
        | StoreError::Unavailable(a)
        | StoreError::Unauthorized(a)
        | StoreError::NotificationRefused(a)
        | StoreError::Sms(sms::SmsError::Delivery(a))
        | StoreError::PaymentProvider(payment::ProviderError::Declined(a)) => put("arg", a),
        StoreError::SmsCodeWrong { tries_left } => put("tries_left", &tries_left.to_string()),
        StoreError::SmsRateLimited {
            scope,
            retry_after_secs,
        } => {
            put("scope", scope.code());
            put("retry_after_secs", &retry_after_secs.to_string());
        }
        StoreError::FilingAlreadyReviewed { state, wanted } => {
            put("state", state);
            put("wanted", wanted);
        }
        StoreError::NotEligible { violation, zh, en } => {
            put("violation", violation);
            put("zh", zh);
            put("en", en);
        }
        _ => {}
    }
    ErrorBody {
        error: e.code().to_string(),
        kind: e.kind(),
        message,
        zh,
        en,
        detail,
    }
}

const FILING_REFUSALS: [FilingRefusal; 8] = [
    FilingRefusal::UserLimitReached,
    FilingRefusal::VehicleLimitReached,
    FilingRefusal::AlreadyFiled,
    FilingRefusal::OwnVehicle,
    FilingRefusal::UnitNeedsManagerSms,
    FilingRefusal::PersonNeedsOwnerConsent,
    FilingRefusal::UnitVehicleNotSmallNonOperating,
    FilingRefusal::UnitFilingNeedsRelief,
];

const PAYMENT_REFUSALS: [PaymentRefusal; 3] = [
    PaymentRefusal::AlreadyPaid,
    PaymentRefusal::WindowClosed,
    PaymentRefusal::MaintenanceWindow,
];

const TOKEN_ERRORS: [TokenError; 7] = [
    TokenError::Malformed,
    TokenError::BadSignature,
    TokenError::UnknownKey,
    TokenError::Expired,
    TokenError::NotYetValid,
    TokenError::NoSigningKey,
    TokenError::ValidityTooLong,
];

/// The codes that name a failure with no local form (rebuilt as [`StoreError::Remote`]).
const REMOTE_CODES: [&str; 3] = ["database_unavailable", "database_unusable", "demo_only"];

/// The error an answer with this status and body stands for.
pub fn rebuild(status: u16, b: ErrorBody) -> StoreError {
    let d = |k: &str| b.detail.get(k).cloned().unwrap_or_default();
    let unit = [
        StoreError::PersonNotFound,
        StoreError::VehicleNotFound,
        StoreError::FilingNotFound,
        StoreError::ReceiptNotFound,
        StoreError::NotFiled,
        StoreError::IdempotencyKeyReused,
        StoreError::TokenOwnerMismatch,
        StoreError::SmsCodeExpired,
        StoreError::RegisteredWithOtherPhone,
        StoreError::BadPhone,
        StoreError::InFlight,
        StoreError::NotPaidYet,
    ];
    if let Some(e) = unit.into_iter().find(|e| e.code() == b.error) {
        return e;
    }
    if let Some(r) = FILING_REFUSALS
        .into_iter()
        .find(|r| StoreError::Filing(*r).code() == b.error)
    {
        return StoreError::Filing(r);
    }
    if let Some(r) = PAYMENT_REFUSALS
        .into_iter()
        .find(|r| StoreError::Payment(*r).code() == b.error)
    {
        return StoreError::Payment(r);
    }
    if let Some(t) = TOKEN_ERRORS.into_iter().find(|t| t.code() == b.error) {
        return StoreError::Token(t);
    }
    match b.error.as_str() {
        "violation_not_found" => return StoreError::ViolationNotFound(d("arg")),
        "decision_not_found" => return StoreError::DecisionNotFound(d("arg")),
        "invalid_request" => return StoreError::Invalid(d("arg")),
        "payment_notification_refused" => return StoreError::NotificationRefused(d("arg")),
        "corrupt_data" => return StoreError::Corrupt(d("arg")),
        "platform_unavailable" => return StoreError::Unavailable(d("arg")),
        "kiosk_unauthorized" => return StoreError::Unauthorized(d("arg")),
        "sms_gateway_failed" => return StoreError::Sms(sms::SmsError::Delivery(d("arg"))),
        "payment_provider_failed" => {
            return StoreError::PaymentProvider(payment::ProviderError::Declined(d("arg")));
        }
        "sms_code_wrong" => {
            if let Ok(tries_left) = d("tries_left").parse::<u32>() {
                return StoreError::SmsCodeWrong { tries_left };
            }
        }
        "sms_rate_limited" => {
            if let (Some(scope), Ok(retry_after_secs)) = (
                sms::LimitScope::parse(&d("scope")),
                d("retry_after_secs").parse::<i64>(),
            ) {
                return StoreError::SmsRateLimited {
                    scope,
                    retry_after_secs,
                };
            }
        }
        "filing_already_reviewed" => {
            return StoreError::FilingAlreadyReviewed {
                state: d("state"),
                wanted: d("wanted"),
            };
        }
        "not_eligible" => {
            return StoreError::NotEligible {
                violation: d("violation"),
                zh: d("zh"),
                en: d("en"),
            };
        }
        _ => {}
    }
    let code = REMOTE_CODES
        .into_iter()
        .find(|c| *c == b.error)
        .unwrap_or(if status >= 500 {
            "server_error"
        } else {
            "unknown_error"
        });
    StoreError::Remote {
        code,
        kind: b.kind,
        message: b.message,
    }
}

/// An answer that is not an [`ErrorBody`] (a proxy's page, a crash): its status in words.
pub fn from_status(status: u16, text: &str) -> StoreError {
    let snippet: String = text.chars().take(200).collect();
    match status {
        401 => StoreError::Unauthorized(snippet),
        409 => StoreError::InFlight,
        s if s >= 500 => StoreError::Unavailable(format!("HTTP {s}: {snippet}")),
        s => StoreError::Remote {
            code: "unknown_error",
            kind: ErrorKind::Invalid,
            message: format!(
                "平台应答无法识别 / The platform's answer was not understood (HTTP {s}: {snippet})"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::SchemaError;

    /// One of every variant.
    fn every_error() -> Vec<StoreError> {
        let mut all = vec![
            StoreError::PersonNotFound,
            StoreError::VehicleNotFound,
            StoreError::ViolationNotFound("5001000000000001".into()),
            StoreError::DecisionNotFound("50012022102400000001".into()),
            StoreError::FilingNotFound,
            StoreError::ReceiptNotFound,
            StoreError::NotFiled,
            StoreError::FilingAlreadyReviewed {
                state: "approved".into(),
                wanted: "rejected".into(),
            },
            StoreError::NotEligible {
                violation: "v1".into(),
                zh: "不可处理".into(),
                en: "not here".into(),
            },
            StoreError::IdempotencyKeyReused,
            StoreError::TokenOwnerMismatch,
            StoreError::SmsCodeWrong { tries_left: 3 },
            StoreError::SmsCodeExpired,
            StoreError::SmsRateLimited {
                scope: sms::LimitScope::Phone,
                retry_after_secs: 40,
            },
            StoreError::RegisteredWithOtherPhone,
            StoreError::BadPhone,
            StoreError::Invalid("plate".into()),
            StoreError::Sms(sms::SmsError::Delivery("gateway down".into())),
            StoreError::PaymentProvider(payment::ProviderError::Declined("card".into())),
            StoreError::NotPaidYet,
            StoreError::NotificationRefused("bad signature".into()),
            StoreError::Corrupt("row".into()),
            // `StoreError::Sqlite` (503) rebuilds as `Remote` with its code: see
            // `an_answer_without_a_local_form_keeps_its_code_kind_and_sentence`.
            StoreError::Schema(SchemaError::TooNew {
                found: 9,
                supported: 3,
            }),
            StoreError::Unavailable("connection refused".into()),
            StoreError::Unauthorized("unknown kiosk".into()),
            StoreError::InFlight,
            StoreError::Remote {
                code: "database_unusable",
                kind: ErrorKind::Storage,
                message: "x / y".into(),
            },
        ];
        all.extend(FILING_REFUSALS.map(StoreError::Filing));
        all.extend(PAYMENT_REFUSALS.map(StoreError::Payment));
        all.extend(TOKEN_ERRORS.map(StoreError::Token));
        all
    }

    #[test]
    fn every_error_comes_back_with_its_code_kind_and_sentence() {
        for e in every_error() {
            let st = status(&e);
            let json = serde_json::to_vec(&body(&e)).unwrap();
            let back = rebuild(st, serde_json::from_slice(&json).unwrap());
            assert_eq!(back.code(), e.code(), "{e}");
            assert_eq!(back.kind(), e.kind(), "{e}");
            assert_eq!(back.to_string(), e.to_string());
            assert_eq!(status(&back), st, "{e}");
        }
    }

    #[test]
    fn an_answer_without_a_local_form_keeps_its_code_kind_and_sentence() {
        let b = ErrorBody {
            error: "database_unavailable".into(),
            kind: ErrorKind::Storage,
            message: "数据库正忙 / The database is busy".into(),
            zh: "数据库正忙".into(),
            en: "The database is busy".into(),
            detail: BTreeMap::new(),
        };
        let e = rebuild(503, b);
        assert_eq!(e.code(), "database_unavailable");
        assert_eq!(e.kind(), ErrorKind::Storage);
        assert_eq!(e.to_string(), "数据库正忙 / The database is busy");
        assert_eq!(status(&e), 503);
        let e = from_status(502, "<html>bad gateway</html>");
        assert_eq!(e.code(), "platform_unavailable");
    }

    #[test]
    fn statuses_follow_the_kind() {
        assert_eq!(status(&StoreError::PersonNotFound), 404);
        assert_eq!(status(&StoreError::BadPhone), 400);
        assert_eq!(
            status(&StoreError::Payment(PaymentRefusal::AlreadyPaid)),
            422
        );
        assert_eq!(status(&StoreError::IdempotencyKeyReused), 422);
        assert_eq!(status(&StoreError::InFlight), 409);
        assert_eq!(status(&StoreError::Unauthorized("x".into())), 401);
        assert_eq!(
            status(&StoreError::SmsRateLimited {
                scope: crate::store::sms::LimitScope::Phone,
                retry_after_secs: 1
            }),
            429
        );
        assert_eq!(status(&StoreError::Corrupt("x".into())), 500);
    }

    #[test]
    fn the_zh_and_en_halves_are_given_apart() {
        let b = body(&StoreError::Unavailable("timeout".into()));
        assert!(b.zh.starts_with("网络连接中断"), "{}", b.zh);
        assert!(b.en.starts_with("The network is down"), "{}", b.en);
        let b = body(&StoreError::Unauthorized(
            "未登记的自助机 / Unknown kiosk".into(),
        ));
        assert_eq!(b.zh, "交管平台拒绝了本机的身份：未登记的自助机");
        assert_eq!(
            b.en,
            "The platform refused this kiosk's identity: Unknown kiosk"
        );
    }
}
