//! The platform's outside providers, chosen by `[payment]`, `[sms]` and `[qr]` (kiosk.toml for a
//! kiosk on its own store, the server's configuration for `kiosk serve`): the demo parts (demo mode
//! only) and the real adapters with their simulators, which speak the same bytes.
//!
//! Payment: `demo` (an order is paid the first time it is asked about; demo mode only),
//! `simulator` (demo mode only, a kiosk on its own store: [`start_payment_simulator`] starts
//! Alipay's gateway simulator in the kiosk's process and the real [`alipay::AlipayProvider`]
//! talks to it; the simulator panel's phone pays the QR on screen) or `alipay` (Alipay 当面付,
//! [`alipay`], with its gateway simulator `alipay::sim`, `kiosk sim alipay`).
//!
//! `[face]` is the kiosk's own: [`face_http`] (the verification service's client, the production
//! `FaceVerifier`) and [`face_sim`] (its simulator), built by `app::assemble`.

pub mod alipay;
pub mod face_http;
pub mod face_sim;

pub mod qr;
pub mod sim_serve;
pub mod sms_aliyun;
pub mod sms_aliyun_sim;
pub mod wecom;
pub mod wecom_sim;

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
        // Its phone is the kiosk's simulator panel: only `app::assemble` starts it.
        PaymentSection::SIMULATOR => {
            return Err(ProvidersError::Config {
                key: "payment.provider",
                message: "\"simulator\" runs Alipay's gateway simulator inside a demo kiosk on its own store; elsewhere use \"alipay\" against `kiosk sim alipay`, or \"demo\"".into(),
            });
        }
        other => return Err(unknown("payment.provider", other)),
    })
}

/// The app id the in-process simulator and its adapter use.
pub const SIMULATOR_APP_ID: &str = "2021000000000000";

/// `[payment] provider = "simulator"`: Alipay's gateway simulator started in this process on
/// 127.0.0.1 (a free port) with the process's test keys, and the real adapter against it (the
/// same bytes, the same parser). No notify URL: a kiosk on its own store has no notification
/// route, so payments are found by the order query the payment screen's polls make. The handle
/// is the demo's phone.
pub fn start_payment_simulator()
-> Result<(alipay::AlipayProvider, alipay::sim::SimHandle), ProvidersError> {
    let phone = alipay::sim::spawn(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        SIMULATOR_APP_ID,
        alipay::sim::test_keys(),
    )
    .map_err(|e| ProvidersError::Config {
        key: "payment.provider",
        message: format!("the Alipay gateway simulator: {e}"),
    })?;
    Ok((simulator_adapter(&phone), phone))
}

/// The real adapter against the in-process simulator `phone` (no notify URL).
pub fn simulator_adapter(phone: &alipay::sim::SimHandle) -> alipay::AlipayProvider {
    alipay::AlipayProvider::new(
        &phone.gateway(),
        &phone.app_id,
        "",
        phone.keys.app.clone(),
        phone.keys.alipay.verify_key(),
    )
}

/// Build the providers the sections name.
pub fn platform_parts(
    payment: &PaymentSection,
    sms: &SmsSection,
    qr: &QrSection,
) -> Result<PlatformParts, ProvidersError> {
    platform_parts_with(payment_provider(payment)?, sms, qr)
}

/// Build the providers `[sms]` and `[qr]` name, with this payment provider.
pub fn platform_parts_with(
    payments: Box<dyn PaymentProvider>,
    sms: &SmsSection,
    qr: &QrSection,
) -> Result<PlatformParts, ProvidersError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// "simulator" is the demo kiosk's own: a server (or anything building parts from a section)
    /// refuses it, naming the key; the kiosk starts it with `start_payment_simulator`.
    #[test]
    fn the_simulator_provider_is_built_only_by_the_kiosk() {
        let section = PaymentSection {
            provider: PaymentSection::SIMULATOR.into(),
            ..PaymentSection::default()
        };
        let Err(ProvidersError::Config { key, .. }) = payment_provider(&section) else {
            panic!("a section built the in-process simulator")
        };
        assert_eq!(key, "payment.provider");
        let (provider, phone) = start_payment_simulator().unwrap();
        assert_eq!(provider.method(), "alipay");
        assert!(phone.gateway().starts_with("http://127.0.0.1:"));
    }
}
