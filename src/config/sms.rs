//! `[sms]`: who delivers verification codes (issue 12, item 4).
//!
//! `provider = "demo"`: the demo gateway (demo mode only; the demo phone's inbox in memory).
//! `provider = "aliyun"`: Alibaba Cloud SMS (`SendSms` of Dysmsapi, RPC signature HMAC-SHA1),
//! or its simulator (`kiosk sim sms`) at `endpoint`:
//!
//! ```toml
//! [sms]
//! provider = "aliyun"
//! endpoint = "https://dysmsapi.aliyuncs.com/"
//! access_key_id = "LTAI…"
//! secret_file = "/etc/kiosk/sms-secret"   # the AccessKey secret, one line, mode 0600
//! sign_name = "交管12123"
//! template_code = "SMS_100000001"          # 注册验证码: parameter `code`
//! filing_template_code = "SMS_100000002"   # 备案同意: parameters `code`, `plate`
//! timeout_secs = 10
//! ```

use serde::{Deserialize, Serialize};

/// The Alibaba Cloud SMS endpoint (the public one; a region's or the simulator's may be set).
pub const ALIYUN_ENDPOINT: &str = "https://dysmsapi.aliyuncs.com/";

/// `[sms]` of kiosk.toml and of the server's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SmsSection {
    /// `demo`: the demo gateway (demo mode only). `aliyun`: Alibaba Cloud SMS (see
    /// `crate::providers::sms_aliyun`).
    pub provider: String,
    /// The API's URL (`http(s)://HOST[:PORT]/`).
    pub endpoint: String,
    /// The AccessKey id.
    pub access_key_id: String,
    /// A file holding the AccessKey secret (never the secret itself in kiosk.toml).
    pub secret_file: String,
    /// 短信签名 (the registered sign name).
    pub sign_name: String,
    /// The registration code's template (parameter `code`).
    pub template_code: String,
    /// The filing consent's template (parameters `code`, `plate`).
    pub filing_template_code: String,
    /// Connect + answer deadline of one call, seconds (1–60).
    pub timeout_secs: u64,
}

impl Default for SmsSection {
    fn default() -> Self {
        SmsSection {
            provider: "demo".into(),
            endpoint: ALIYUN_ENDPOINT.into(),
            access_key_id: String::new(),
            secret_file: String::new(),
            sign_name: String::new(),
            template_code: String::new(),
            filing_template_code: String::new(),
            timeout_secs: 10,
        }
    }
}

/// A value of `[sms]` that cannot be used, with its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SmsConfigError {
    pub key: &'static str,
    pub message: String,
}

impl SmsSection {
    /// Check the values the provider needs (the secret file is read when the provider is built).
    pub fn validate(&self) -> Result<(), SmsConfigError> {
        let err = |key: &'static str, message: &str| {
            Err(SmsConfigError {
                key,
                message: message.to_string(),
            })
        };
        match self.provider.as_str() {
            "demo" => return Ok(()),
            "aliyun" => {}
            other => {
                return err(
                    "sms.provider",
                    &format!("unknown provider {other:?} (demo or aliyun)"),
                );
            }
        }
        let e = self.endpoint.as_str();
        let rest = e
            .strip_prefix("https://")
            .or_else(|| e.strip_prefix("http://"));
        match rest {
            Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace) => {
            }
            _ => return err("sms.endpoint", "must be http(s)://HOST[:PORT]/"),
        }
        let required = [
            ("sms.access_key_id", &self.access_key_id),
            ("sms.secret_file", &self.secret_file),
            ("sms.sign_name", &self.sign_name),
            ("sms.template_code", &self.template_code),
            ("sms.filing_template_code", &self.filing_template_code),
        ];
        for (key, v) in required {
            if v.trim().is_empty() {
                return err(key, "required with provider = \"aliyun\"");
            }
        }
        if !(1..=60).contains(&self.timeout_secs) {
            return err("sms.timeout_secs", "must be 1–60");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliyun() -> SmsSection {
        SmsSection {
            provider: "aliyun".into(),
            access_key_id: "LTAIkiosk".into(),
            secret_file: "/etc/kiosk/sms-secret".into(),
            sign_name: "交管12123".into(),
            template_code: "SMS_1".into(),
            filing_template_code: "SMS_2".into(),
            ..SmsSection::default()
        }
    }

    #[test]
    fn the_demo_section_needs_nothing_else() {
        SmsSection::default().validate().unwrap();
        let s: SmsSection = toml::from_str("provider = \"demo\"").unwrap();
        assert_eq!(s, SmsSection::default());
    }

    #[test]
    fn aliyun_names_each_missing_or_bad_key() {
        aliyun().validate().unwrap();
        type Spoil = fn(&mut SmsSection);
        let cases: [(&str, Spoil); 5] = [
            ("sms.access_key_id", |s| s.access_key_id.clear()),
            ("sms.secret_file", |s| s.secret_file = " ".into()),
            ("sms.template_code", |s| s.template_code.clear()),
            ("sms.endpoint", |s| s.endpoint = "ftp://x/".into()),
            ("sms.timeout_secs", |s| s.timeout_secs = 0),
        ];
        for (key, f) in cases {
            let mut s = aliyun();
            f(&mut s);
            assert_eq!(s.validate().unwrap_err().key, key);
        }
        let mut s = aliyun();
        s.provider = "carrier-pigeon".into();
        assert_eq!(s.validate().unwrap_err().key, "sms.provider");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<SmsSection>("provider = \"demo\"\nsecret = \"x\"").is_err());
    }
}
