//! Alibaba Cloud SMS (阿里云短信服务, Dysmsapi `SendSms`, API version 2017-05-25) over `ureq`,
//! and the one body of protocol code its simulator ([`super::sms_aliyun_sim`]) shares: the RPC
//! signature (HMAC-SHA1 over the sorted, percent-encoded parameters, key = secret + "&"), the
//! form encoding and the JSON answer.
//!
//! A request is a `POST` of `application/x-www-form-urlencoded` parameters: the common ones
//! (`AccessKeyId`, `Action`, `Format`, `RegionId`, `SignatureMethod`, `SignatureNonce`,
//! `SignatureVersion`, `Timestamp`, `Version`), the operation's (`PhoneNumbers`, `SignName`,
//! `TemplateCode`, `TemplateParam` JSON, `OutId`: our `sms_codes` row) and `Signature`. The answer
//! is JSON `{"RequestId", "Code", "Message", "BizId"}`; `Code` is `OK` or an error code
//! (`SignatureDoesNotMatch`, `isv.BUSINESS_LIMIT_CONTROL`, …).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::SmsSection;
use crate::store::sms::{Delivered, SmsError, SmsGateway, SmsMessage, SmsTemplate};

/// The API version of `SendSms`.
pub const API_VERSION: &str = "2017-05-25";
/// The region the public endpoint serves.
pub const REGION_ID: &str = "cn-hangzhou";
/// The most of an answer read.
pub const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// RFC 3986 percent-encoding as the RPC signature wants it: every byte but `A–Z a–z 0–9 - _ . ~`
/// as `%XX` (upper-case hex; a space is `%20`, never `+`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decode `%XX` (and `+` as a space, as HTML forms send it). `None` on a bad escape or bytes
/// that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = b.get(i + 1..i + 3)?;
                let h = std::str::from_utf8(h).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The parameters, sorted by name, as `k=v&…` (both percent-encoded), `Signature` left out.
pub fn canonical_query(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .filter(|(k, _)| k.as_str() != "Signature")
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `METHOD&%2F&percent(canonical query)`.
pub fn string_to_sign(method: &str, params: &BTreeMap<String, String>) -> String {
    format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(&canonical_query(params))
    )
}

/// Base64(HMAC-SHA1(secret + "&", string to sign)).
pub fn signature(secret: &str, method: &str, params: &BTreeMap<String, String>) -> String {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC takes any key length");
    mac.update(string_to_sign(method, params).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `given` is the signature of `params` (compared in constant time).
pub fn signature_matches(
    secret: &str,
    method: &str,
    params: &BTreeMap<String, String>,
    given: &str,
) -> bool {
    let want = signature(secret, method, params);
    want.len() == given.len()
        && want
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The form body `k=v&…` of the parameters (signature included).
pub fn form_body(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The most parameters a form may carry (the API has 15).
pub const MAX_PARAMS: usize = 64;

/// Parse a form body or query string. A repeated name, a bad escape or too many parameters is
/// an error (the text says which).
pub fn parse_form(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        if out.len() >= MAX_PARAMS {
            return Err(format!("more than {MAX_PARAMS} parameters"));
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k).ok_or("a parameter name is badly encoded")?;
        let v = percent_decode(v).ok_or_else(|| format!("{k} is badly encoded"))?;
        if out.insert(k.clone(), v).is_some() {
            return Err(format!("{k} is repeated"));
        }
    }
    Ok(out)
}

/// The `Timestamp` parameter: ISO 8601 UTC to the second (`2022-10-24T03:06:10Z`).
pub fn timestamp_param(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The answer of `SendSms` (and of every error).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SendSmsAnswer {
    pub request_id: String,
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_id: Option<String>,
}

/// Alibaba Cloud SMS as an [`SmsGateway`].
pub struct AliyunSms {
    endpoint: String,
    access_key_id: String,
    secret: String,
    sign_name: String,
    template_code: String,
    filing_template_code: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for AliyunSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AliyunSms")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Why the gateway cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum AliyunConfigError {
    #[error("{0}")]
    Section(#[from] crate::config::SmsConfigError),
    #[error("sms.secret_file: {path}: {message}")]
    Secret { path: String, message: String },
}

impl AliyunSms {
    /// The gateway `[sms]` describes; the secret is read from `secret_file` (first line, trimmed).
    pub fn from_section(s: &SmsSection) -> Result<AliyunSms, AliyunConfigError> {
        s.validate()?;
        let secret = std::fs::read_to_string(&s.secret_file)
            .map_err(|e| AliyunConfigError::Secret {
                path: s.secret_file.clone(),
                message: e.to_string(),
            })?
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if secret.is_empty() {
            return Err(AliyunConfigError::Secret {
                path: s.secret_file.clone(),
                message: "empty".into(),
            });
        }
        Ok(AliyunSms::new(s, secret))
    }

    /// The gateway with this secret (tests; `from_section` reads it from its file).
    pub fn new(s: &SmsSection, secret: String) -> AliyunSms {
        let timeout = Duration::from_secs(s.timeout_secs.clamp(1, 60));
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(timeout.min(Duration::from_secs(5))))
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        AliyunSms {
            endpoint: s.endpoint.clone(),
            access_key_id: s.access_key_id.clone(),
            secret,
            sign_name: s.sign_name.clone(),
            template_code: s.template_code.clone(),
            filing_template_code: s.filing_template_code.clone(),
            agent,
        }
    }

    /// The signed parameters of one `SendSms` call.
    pub fn request_params(&self, m: &SmsMessage, nonce: &str) -> BTreeMap<String, String> {
        let (template, param) = match &m.template {
            SmsTemplate::Register => (&self.template_code, serde_json::json!({ "code": m.code })),
            SmsTemplate::FilingConsent { plate } => (
                &self.filing_template_code,
                serde_json::json!({ "code": m.code, "plate": plate }),
            ),
        };
        let mut p: BTreeMap<String, String> = [
            ("AccessKeyId", self.access_key_id.as_str()),
            ("Action", "SendSms"),
            ("Format", "JSON"),
            ("RegionId", REGION_ID),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("Version", API_VERSION),
            ("PhoneNumbers", m.phone.as_str()),
            ("SignName", self.sign_name.as_str()),
            ("TemplateCode", template.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        p.insert("SignatureNonce".into(), nonce.to_string());
        p.insert("Timestamp".into(), timestamp_param(m.at));
        p.insert("TemplateParam".into(), param.to_string());
        p.insert("OutId".into(), m.id.to_string());
        let sig = signature(&self.secret, "POST", &p);
        p.insert("Signature".into(), sig);
        p
    }
}

/// Mask every run of 6 or more digits (a phone or a code the service might echo).
pub fn scrub_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 6 {
            out.push_str(&"*".repeat(run.chars().count()));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A fresh nonce (32 hex digits from the operating system's randomness).
fn nonce() -> Result<String, SmsError> {
    use std::io::Read as _;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| SmsError::Delivery(format!("no randomness for the nonce: {e}")))?;
    Ok(hex::encode(b))
}

impl SmsGateway for AliyunSms {
    fn deliver(&self, m: &SmsMessage) -> Result<Delivered, SmsError> {
        let params = self.request_params(m, &nonce()?);
        let resp = self
            .agent
            .post(&self.endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .send(form_body(&params));
        let mut resp = resp.map_err(|e| SmsError::Delivery(format!("aliyun: {e}")))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| SmsError::Delivery(format!("aliyun: reading the answer: {e}")))?;
        let answer: SendSmsAnswer = serde_json::from_slice(&bytes).map_err(|e| {
            SmsError::Delivery(format!("aliyun: HTTP {status}, not a SendSms answer: {e}"))
        })?;
        if answer.code != "OK" {
            // The code and message name the cause; a number the service echoes is masked.
            return Err(SmsError::Delivery(format!(
                "aliyun: {} ({}), request {}",
                scrub_numbers(&answer.code),
                scrub_numbers(&answer.message.chars().take(200).collect::<String>()),
                scrub_numbers(&answer.request_id)
            )));
        }
        tracing::info!(sms = m.id, biz_id = ?answer.biz_id, "SMS sent through Alibaba Cloud");
        Ok(Delivered {
            provider_ref: answer.biz_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_follows_the_rpc_rules() {
        assert_eq!(percent_encode("a b*c~d/é"), "a%20b%2Ac~d%2F%C3%A9");
        assert_eq!(percent_decode("a%20b+c%2A").as_deref(), Some("a b c*"));
        assert_eq!(percent_decode("%ZZ"), None);
        assert_eq!(percent_decode("%4"), None);
    }

    /// The worked example of the RPC signature in Alibaba Cloud's documentation (secret
    /// `testsecret`, `DescribeRegions` of ECS): the published signature is reproduced.
    #[test]
    fn the_documented_example_signature_is_reproduced() {
        let p: BTreeMap<String, String> = [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            string_to_sign("GET", &p),
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
        );
        assert_eq!(
            signature("testsecret", "GET", &p),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    #[test]
    fn numbers_a_service_echoes_are_masked() {
        assert_eq!(
            scrub_numbers("号码13912345678非法, code 12345"),
            "号码***********非法, code 12345"
        );
    }

    #[test]
    fn a_form_round_trips_and_bad_forms_are_refused() {
        let mut p = BTreeMap::new();
        p.insert(
            "TemplateParam".to_string(),
            "{\"code\":\"123456\"}".to_string(),
        );
        p.insert("SignName".to_string(), "交管12123".to_string());
        assert_eq!(parse_form(&form_body(&p)).unwrap(), p);
        assert!(parse_form("a=1&a=2").unwrap_err().contains("repeated"));
        assert!(parse_form("a=%G1").is_err());
        let many = (0..100)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join("&");
        assert!(parse_form(&many).unwrap_err().contains("64"));
    }
}
