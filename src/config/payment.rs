//! `[payment]`: who collects the money (issue 12, item 2).
//!
//! ```toml
//! [payment]
//! provider = "alipay"                       # or "demo", "simulator" (demo mode only)
//! gateway = "https://openapi.alipay.com/gateway.do"
//! app_id = "2021000000000000"
//! private_key_file = "/etc/kiosk/alipay_app_private_key.pem"   # ours: signs requests
//! alipay_public_key_file = "/etc/kiosk/alipay_public_key.pem"  # Alipay's: verifies answers
//! notify_url = "https://platform.example.gov.cn/notify/alipay"  # `kiosk serve`'s route
//! ```

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The only spelling of the demo provider.
const DEMO_PROVIDER: &str = "demo";
/// The demo's Alipay: the kiosk starts Alipay's gateway simulator in its own process and pays
/// through the real adapter against it (demo mode only; a kiosk on its own store).
const SIMULATOR_PROVIDER: &str = "simulator";
/// Alipay 当面付 (face-to-face QR payment: precreate / query / notify / refund, RSA2).
const ALIPAY_PROVIDER: &str = "alipay";

/// `[payment]` of kiosk.toml and of the server's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PaymentSection {
    /// `demo`: the demo provider (demo mode only); `simulator`: Alipay 当面付 against its gateway
    /// simulator started inside the kiosk (demo mode only); `alipay`: Alipay 当面付. See
    /// `crate::providers`.
    pub provider: String,
    /// Alipay's gateway (`https://openapi.alipay.com/gateway.do`; the simulator's
    /// `http://HOST:PORT/gateway.do`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// The app's id on Alipay's open platform.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app_id: String,
    /// Our RSA private key (PKCS#8 or PKCS#1 PEM, or Alipay's bare base64), signs requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_file: Option<PathBuf>,
    /// Alipay's RSA public key (PEM or bare base64), verifies answers and notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alipay_public_key_file: Option<PathBuf>,
    /// Where Alipay posts its notifications: `kiosk serve`'s `POST /notify/alipay`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notify_url: String,
}

impl Default for PaymentSection {
    fn default() -> Self {
        PaymentSection {
            provider: DEMO_PROVIDER.into(),
            gateway: String::new(),
            app_id: String::new(),
            private_key_file: None,
            alipay_public_key_file: None,
            notify_url: String::new(),
        }
    }
}

impl PaymentSection {
    /// The only spelling of the demo provider.
    pub const DEMO: &'static str = DEMO_PROVIDER;
    /// Alipay 当面付 against the gateway simulator inside the kiosk (demo mode only).
    pub const SIMULATOR: &'static str = SIMULATOR_PROVIDER;
    /// Alipay 当面付.
    pub const ALIPAY: &'static str = ALIPAY_PROVIDER;

    /// Whether this is a demo part: the demo provider or the in-process simulator (never with
    /// `demo = false`).
    pub fn is_demo(&self) -> bool {
        self.provider == DEMO_PROVIDER || self.provider == SIMULATOR_PROVIDER
    }

    /// The section's values checked without reading files: the key at fault and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match self.provider.as_str() {
            DEMO_PROVIDER | SIMULATOR_PROVIDER => Ok(()),
            ALIPAY_PROVIDER => {
                let url = |key: &'static str, v: &str| {
                    if v.starts_with("http://") || v.starts_with("https://") {
                        Ok(())
                    } else {
                        Err((
                            key,
                            format!("{v:?}: an http:// or https:// URL is required"),
                        ))
                    }
                };
                url("payment.gateway", &self.gateway)?;
                url("payment.notify_url", &self.notify_url)?;
                if self.app_id.is_empty()
                    || self.app_id.len() > 32
                    || !self.app_id.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err((
                        "payment.app_id",
                        "the app id (letters and digits) is required".into(),
                    ));
                }
                if self.private_key_file.is_none() {
                    return Err((
                        "payment.private_key_file",
                        "required with provider = \"alipay\"".into(),
                    ));
                }
                if self.alipay_public_key_file.is_none() {
                    return Err((
                        "payment.alipay_public_key_file",
                        "required with provider = \"alipay\"".into(),
                    ));
                }
                Ok(())
            }
            other => Err((
                "payment.provider",
                format!("unknown provider {other:?} (demo, simulator, alipay)"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alipay_section_names_the_missing_key() {
        let mut s = PaymentSection {
            provider: "alipay".into(),
            ..PaymentSection::default()
        };
        assert_eq!(s.validate().unwrap_err().0, "payment.gateway");
        s.gateway = "http://127.0.0.1:9/gateway.do".into();
        assert_eq!(s.validate().unwrap_err().0, "payment.notify_url");
        s.notify_url = "http://127.0.0.1:8/notify/alipay".into();
        assert_eq!(s.validate().unwrap_err().0, "payment.app_id");
        s.app_id = "2021000000000001".into();
        assert_eq!(s.validate().unwrap_err().0, "payment.private_key_file");
        s.private_key_file = Some("k.pem".into());
        assert_eq!(
            s.validate().unwrap_err().0,
            "payment.alipay_public_key_file"
        );
        s.alipay_public_key_file = Some("a.pem".into());
        s.validate().unwrap();
        assert!(!s.is_demo());
        let bad = PaymentSection {
            provider: "Demo".into(),
            ..PaymentSection::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "payment.provider");
        assert!(PaymentSection::default().is_demo());
        let sim = PaymentSection {
            provider: "simulator".into(),
            ..PaymentSection::default()
        };
        sim.validate().unwrap();
        assert!(sim.is_demo());
    }
}
