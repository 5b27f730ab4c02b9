//! `[face]`: the camera and the face verification service (issue 12, item 5).
//!
//! ```toml
//! [face]
//! provider = "http"                           # "demo": the demo verifier (demo mode only)
//! url = "https://face.example.gov.cn/v1/face/verify"
//! camera = "v4l2:/dev/video0"                 # or "files:DIR", the test camera
//! timeout_ms = 8000                           # one verification call, connection included
//! api_key_file = "/etc/kiosk/face-api-key"    # optional: sent as Authorization: Bearer
//! ```
//!
//! The service's contract is in `hardware/README.md` ("Face verification service").

use serde::{Deserialize, Serialize};

/// The shortest and longest `timeout_ms` accepted.
pub const FACE_TIMEOUT_MS: std::ops::RangeInclusive<u32> = 500..=30_000;

/// `[face]` of kiosk.toml.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaceSection {
    /// `demo`: the demo verifier (demo mode only); `http`: the verification service at `url`
    /// with the camera at `camera`.
    pub provider: String,
    /// The verification endpoint, `http(s)://HOST[:PORT]/PATH` (`http` only).
    #[serde(default)]
    pub url: String,
    /// The camera: `v4l2:/dev/videoN` or `files:DIR` (`http` only).
    #[serde(default)]
    pub camera: String,
    /// The whole verification call (connect, send, answer), in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
    /// A file holding the service's API key (sent as `Authorization: Bearer`); empty: none.
    #[serde(default)]
    pub api_key_file: String,
}

fn default_timeout_ms() -> u32 {
    8000
}

impl Default for FaceSection {
    fn default() -> Self {
        FaceSection {
            provider: "demo".into(),
            url: String::new(),
            camera: String::new(),
            timeout_ms: default_timeout_ms(),
            api_key_file: String::new(),
        }
    }
}

impl FaceSection {
    /// The values' own checks (the camera URI is parsed where the camera is opened): the key at
    /// fault and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !FACE_TIMEOUT_MS.contains(&self.timeout_ms) {
            return Err((
                "face.timeout_ms",
                format!(
                    "must be {} to {} (ms), not {}",
                    FACE_TIMEOUT_MS.start(),
                    FACE_TIMEOUT_MS.end(),
                    self.timeout_ms
                ),
            ));
        }
        if self.provider != "http" {
            return Ok(());
        }
        let url = self.url.trim();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.starts_with('/') => {}
            _ => {
                return Err((
                    "face.url",
                    format!("must be http(s)://HOST[:PORT]/PATH, not {url:?}"),
                ));
            }
        }
        if url.chars().any(char::is_whitespace) {
            return Err(("face.url", "must not contain spaces".into()));
        }
        if self.camera.trim().is_empty() {
            return Err((
                "face.camera",
                "must name the camera: v4l2:/dev/videoN or files:DIR".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> FaceSection {
        FaceSection {
            provider: "http".into(),
            url: "https://face.example/v1/face/verify".into(),
            camera: "v4l2:/dev/video0".into(),
            ..FaceSection::default()
        }
    }

    #[test]
    fn an_http_face_section_is_valid_with_a_url_and_a_camera() {
        assert_eq!(http().validate(), Ok(()));
        assert_eq!(FaceSection::default().validate(), Ok(()));
        let section: FaceSection = toml::from_str(
            "provider = \"http\"\nurl = \"http://127.0.0.1:7000/verify\"\ncamera = \"files:/tmp/f\"",
        )
        .unwrap();
        assert_eq!(section.timeout_ms, 8000);
        assert_eq!(section.validate(), Ok(()));
    }

    #[test]
    fn a_bad_face_section_names_its_key() {
        type Spoil = fn(&mut FaceSection);
        let cases: [(Spoil, &str); 6] = [
            (|s| s.url = String::new(), "face.url"),
            (|s| s.url = "ftp://face.example".into(), "face.url"),
            (|s| s.url = "https://".into(), "face.url"),
            (|s| s.url = "https://face example/v".into(), "face.url"),
            (|s| s.camera = " ".into(), "face.camera"),
            (|s| s.timeout_ms = 100, "face.timeout_ms"),
        ];
        for (spoil, key) in cases {
            let mut s = http();
            spoil(&mut s);
            assert_eq!(s.validate().unwrap_err().0, key, "{s:?}");
        }
        assert!(toml::from_str::<FaceSection>("provider = \"http\"\nurl2 = \"x\"").is_err());
    }
}
