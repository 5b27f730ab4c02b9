//! The platform's outside providers, chosen by `[payment]`, `[sms]` and `[qr]` (kiosk.toml for a
//! kiosk on its own store, the server's configuration for `kiosk serve`): the demo parts (demo mode
//! only) and the real adapters with their simulators, which speak the same bytes.
//!
//! Payment: `demo` (an order is paid the first time it is asked about; demo mode only) or
//! `alipay` (Alipay 当面付, [`alipay`], with its gateway simulator `alipay::sim`).
//!
//! `[face]` is the kiosk's own: [`face_http`] (the verification service's client, the production
//! `FaceVerifier`) and [`face_sim`] (its simulator), built by `app::assemble`.

pub mod alipay;
pub mod face_http;
pub mod face_sim;

pub mod qr;
pub mod sms_aliyun;
pub mod sms_aliyun_sim;

use crate::config::{PaymentSection, QrSection, SmsSection};
use crate::store::payment::{DemoPaymentProvider, PaymentProvider};
use crate::store::sms::{DemoSmsGateway, SmsGateway};
use crate::store::token::QrKeys;

/// What a platform store needs from outside.
pub struct PlatformParts {
    pub qr: QrKeys,
    pub sms: Box<dyn SmsGateway>,
    pub payments: Box<dyn PaymentProvider>,
}

/// A provider that cannot be built, with the configuration key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ProvidersError {
    #[error("{key}: {message}")]
    Config { key: &'static str, message: String },
}

pub(crate) fn unknown(key: &'static str, name: &str) -> ProvidersError {
    ProvidersError::Config {
        key,
        message: format!("unknown provider {name:?}"),
    }
}

/// The payment provider `[payment]` names.
pub fn payment_provider(
    payment: &PaymentSection,
) -> Result<Box<dyn PaymentProvider>, ProvidersError> {
    Ok(match payment.provider.as_str() {
        PaymentSection::DEMO => Box::new(DemoPaymentProvider),
        PaymentSection::ALIPAY => {
            Box::new(alipay::AlipayProvider::from_section(payment).map_err(|e| {
                ProvidersError::Config {
                    key: e.key,
                    message: e.message,
                }
            })?)
        }
        other => return Err(unknown("payment.provider", other)),
    })
}

/// Build the providers the sections name.
pub fn platform_parts(
    payment: &PaymentSection,
    sms: &SmsSection,
    qr: &QrSection,
) -> Result<PlatformParts, ProvidersError> {
    let payments = payment_provider(payment)?;
    let sms: Box<dyn SmsGateway> = match sms.provider.as_str() {
        "demo" => Box::new(DemoSmsGateway::default()),
        "aliyun" => Box::new(sms_aliyun::AliyunSms::from_section(sms).map_err(|e| {
            ProvidersError::Config {
                key: match &e {
                    sms_aliyun::AliyunConfigError::Section(s) => s.key,
                    sms_aliyun::AliyunConfigError::Secret { .. } => "sms.secret_file",
                },
                message: e.to_string(),
            }
        })?),
        other => return Err(unknown("sms.provider", other)),
    };
    // `demo`: the public-seed keys (demo mode only); `keyfile`: key files and published keys.
    let qr = qr::keys(qr, qr::Role::Platform)?;
    Ok(PlatformParts { qr, sms, payments })
}
