//! `[staff_call]`: who hears 呼叫工作人员.
//!
//! ```toml
//! [staff_call]
//! provider = "wecom"          # "platform": a staff_call kiosk event (the fleet page shows it);
//!                             # "demo": the simulator panel's pager (demo mode only)
//! url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"   # wecom: the group robot's webhook
//! mentioned_mobile_list = ["13800001111"]   # wecom: whom to @ in the group ("@all": everyone)
//! timeout_ms = 3000           # one delivery, connection included (500–5000)
//! ```
//!
//! The webhook URL holds the robot's secret key: it is never logged in clear
//! ([`StaffCallSection::masked_url`]).

use serde::{Deserialize, Serialize};

/// The shortest and longest `timeout_ms` accepted (the flow gives a call 5 s in all).
pub const STAFF_CALL_TIMEOUT_MS: std::ops::RangeInclusive<u32> = 500..=5_000;
/// The most people a call mentions.
pub const MAX_MENTIONED: usize = 20;

/// `[staff_call]` of kiosk.toml. `Debug` shows the webhook masked.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaffCallSection {
    /// `demo` (the simulator panel's pager, demo mode only), `platform` (a `staff_call` kiosk
    /// event on the platform: the fleet page lists it) or `wecom` (a WeCom group robot).
    pub provider: String,
    /// `wecom`: the robot's webhook, `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`
    /// (or `kiosk sim wecom`'s). Holds a secret: never logged in clear.
    #[serde(default)]
    pub url: String,
    /// `wecom`: mobile numbers of the group members to @ (`@all`: everyone).
    #[serde(default)]
    pub mentioned_mobile_list: Vec<String>,
    /// One delivery (connect, send, answer), in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
}

impl std::fmt::Debug for StaffCallSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffCallSection")
            .field("provider", &self.provider)
            .field("url", &self.masked_url())
            .field("mentioned_mobile_list", &self.mentioned_mobile_list.len())
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

fn default_timeout_ms() -> u32 {
    3000
}

impl Default for StaffCallSection {
    fn default() -> Self {
        StaffCallSection {
            provider: Self::DEMO.into(),
            url: String::new(),
            mentioned_mobile_list: Vec::new(),
            timeout_ms: default_timeout_ms(),
        }
    }
}

impl StaffCallSection {
    pub const DEMO: &'static str = "demo";
    pub const PLATFORM: &'static str = "platform";
    pub const WECOM: &'static str = "wecom";

    /// The webhook URL with its query (the key) masked, for logs and messages.
    pub fn masked_url(&self) -> String {
        mask_url(&self.url)
    }

    /// The values' own checks: the key at fault and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !STAFF_CALL_TIMEOUT_MS.contains(&self.timeout_ms) {
            return Err((
                "staff_call.timeout_ms",
                format!(
                    "must be {} to {} (ms), not {}",
                    STAFF_CALL_TIMEOUT_MS.start(),
                    STAFF_CALL_TIMEOUT_MS.end(),
                    self.timeout_ms
                ),
            ));
        }
        match self.provider.as_str() {
            Self::DEMO | Self::PLATFORM => {
                if !self.url.trim().is_empty() {
                    return Err((
                        "staff_call.url",
                        format!("is only for provider = \"wecom\", not {:?}", self.provider),
                    ));
                }
                return Ok(());
            }
            Self::WECOM => {}
            other => {
                return Err((
                    "staff_call.provider",
                    format!("unknown provider {other:?} (demo, platform or wecom)"),
                ));
            }
        }
        let url = self.url.trim();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        let ok =
            matches!(rest, Some(r) if !r.is_empty() && !r.starts_with('/') && !r.starts_with('?'));
        if !ok || url.chars().any(char::is_whitespace) || url.contains('@') {
            return Err((
                "staff_call.url",
                format!(
                    "must be the robot's webhook, https://HOST/PATH?key=KEY, not {:?}",
                    mask_url(url)
                ),
            ));
        }
        if self.mentioned_mobile_list.len() > MAX_MENTIONED {
            return Err((
                "staff_call.mentioned_mobile_list",
                format!("at most {MAX_MENTIONED} entries"),
            ));
        }
        for m in &self.mentioned_mobile_list {
            let mobile =
                m.len() == 11 && m.starts_with('1') && m.bytes().all(|b| b.is_ascii_digit());
            if !(mobile || m == "@all") {
                return Err((
                    "staff_call.mentioned_mobile_list",
                    "each entry an 11-digit mobile number starting with 1, or \"@all\"".into(),
                ));
            }
        }
        Ok(())
    }
}

/// `url` with everything after `?` replaced by `…` (the webhook key is a secret).
pub fn mask_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wecom() -> StaffCallSection {
        StaffCallSection {
            provider: "wecom".into(),
            url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx".into(),
            mentioned_mobile_list: vec!["13800001111".into(), "@all".into()],
            ..StaffCallSection::default()
        }
    }

    #[test]
    fn a_staff_call_section_is_valid_for_each_provider() {
        assert_eq!(StaffCallSection::default().validate(), Ok(()));
        assert_eq!(wecom().validate(), Ok(()));
        let platform: StaffCallSection = toml::from_str("provider = \"platform\"").unwrap();
        assert_eq!(platform.timeout_ms, 3000);
        assert_eq!(platform.validate(), Ok(()));
    }

    #[test]
    fn a_bad_staff_call_section_names_its_key_and_never_shows_the_webhook_key() {
        type Spoil = fn(&mut StaffCallSection);
        let cases: [(Spoil, &str); 9] = [
            (|s| s.provider = "pager".into(), "staff_call.provider"),
            (|s| s.url = String::new(), "staff_call.url"),
            (
                |s| s.url = "ftp://x/?key=693a91f6-7xxx".into(),
                "staff_call.url",
            ),
            (
                |s| s.url = "https://?key=693a91f6-7xxx".into(),
                "staff_call.url",
            ),
            (
                |s| s.url = "https://a b/?key=693a91f6-7xxx".into(),
                "staff_call.url",
            ),
            (|s| s.timeout_ms = 60_000, "staff_call.timeout_ms"),
            (
                |s| s.mentioned_mobile_list = vec!["023-6862".into()],
                "staff_call.mentioned_mobile_list",
            ),
            (
                |s| s.mentioned_mobile_list = vec!["13800001111".into(); 21],
                "staff_call.mentioned_mobile_list",
            ),
            (
                |s| {
                    s.provider = "platform".into();
                },
                "staff_call.url",
            ),
        ];
        for (spoil, key) in cases {
            let mut s = wecom();
            spoil(&mut s);
            let (k, message) = s.validate().unwrap_err();
            assert_eq!(k, key, "{s:?}");
            assert!(!message.contains("693a91f6"), "{message}");
        }
        assert!(
            toml::from_str::<StaffCallSection>("provider = \"demo\"\nwebhook = \"x\"").is_err()
        );
        assert_eq!(
            wecom().masked_url(),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?…"
        );
        // Nor in a debug print of the configuration (nor the mobiles to @).
        let shown = format!("{:?}", wecom());
        assert!(
            !shown.contains("693a91f6") && !shown.contains("13800001111"),
            "{shown}"
        );
    }
}
