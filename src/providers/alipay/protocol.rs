//! The bytes of Alipay's open platform (开放平台, gateway `gateway.do`, version 1.0) as the
//! adapter and the simulator both speak them, written once:
//!
//! - a request is a form post (`application/x-www-form-urlencoded`, UTF-8) of the common
//!   parameters (`app_id`, `method`, `format`, `charset`, `sign_type=RSA2`, `timestamp`,
//!   `version`, `notify_url`) and `biz_content` (JSON), signed with the app's private key over
//!   the *sign content*: every non-empty parameter but `sign`, sorted by name, `k=v` joined by `&`
//!   (values not encoded);
//! - the answer is JSON `{"<method with _>_response": {...}, "sign": "..."}`, the signature over
//!   the exact text of the response object, by Alipay's key;
//! - the asynchronous notification is a form post to `notify_url`, signed by Alipay over its
//!   sorted parameters without `sign` and `sign_type`; the receiver answers `success`.
//!
//! Signatures are RSA2: SHA256withRSA, PKCS#1 v1.5, base64. Amounts are yuan with two decimals
//! (`"200.00"`), parsed strictly into [`Fen`].

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::sha2::Sha256;
use rsa::{PrivateKey, PublicKey};

use crate::domain::Fen;

/// The largest form or JSON body either side reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The most parameters a form may carry.
pub const MAX_PARAMS: usize = 64;

pub const METHOD_PRECREATE: &str = "alipay.trade.precreate";
pub const METHOD_QUERY: &str = "alipay.trade.query";
pub const METHOD_REFUND: &str = "alipay.trade.refund";

/// `code` of a successful answer.
pub const CODE_SUCCESS: &str = "10000";
/// `code` of a business failure (with a `sub_code` such as `ACQ.TRADE_NOT_EXIST`).
pub const CODE_BUSINESS_FAILED: &str = "40004";
pub const SUB_TRADE_NOT_EXIST: &str = "ACQ.TRADE_NOT_EXIST";

/// What went wrong with bytes from the other side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("签名无效 / The signature is invalid")]
    BadSignature,
    #[error("报文格式错误：{0} / Malformed message: {0}")]
    Malformed(String),
    #[error("密钥无效：{0} / Invalid key: {0}")]
    Key(String),
}

fn malformed(what: impl Into<String>) -> ProtocolError {
    ProtocolError::Malformed(what.into())
}

// ------------------------------------------------------------------------------------------
// Keys and signatures
// ------------------------------------------------------------------------------------------

/// A private key that signs (RSA2).
#[derive(Clone)]
pub struct SignKey(PrivateKey);

/// A public key that verifies (RSA2).
#[derive(Clone, Debug)]
pub struct VerifyKey(PublicKey);

impl std::fmt::Debug for SignKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignKey(..)")
    }
}

/// PEM text, or Alipay's bare base64 of the DER (how its console hands keys out).
fn pem_or_bare(text: &str, label: &str) -> String {
    let t = text.trim();
    if t.starts_with("-----BEGIN") {
        t.to_string()
    } else {
        let body: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }
}

impl SignKey {
    /// A fresh key pair for tests and the simulator (RSA 2048... in practice 3072: the crate's
    /// default size).
    pub fn generate() -> SignKey {
        use rsa::Generate;
        SignKey(PrivateKey::generate())
    }

    /// PKCS#8 PEM (`BEGIN PRIVATE KEY`), PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`) or bare base64 of
    /// the PKCS#8 DER.
    pub fn from_text(text: &str) -> Result<SignKey, ProtocolError> {
        let t = text.trim();
        if t.starts_with("-----BEGIN RSA PRIVATE KEY") {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            return PrivateKey::from_pkcs1_pem(t)
                .map(SignKey)
                .map_err(|e| ProtocolError::Key(e.to_string()));
        }
        PrivateKey::from_pkcs8_pem(&pem_or_bare(t, "PRIVATE KEY"))
            .map(SignKey)
            .map_err(|e| ProtocolError::Key(e.to_string()))
    }

    pub fn from_file(path: &Path) -> Result<SignKey, ProtocolError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProtocolError::Key(format!("{}: {e}", path.display())))?;
        Self::from_text(&text)
    }

    pub fn to_pem(&self) -> String {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|z| z.to_string())
            .expect("an RSA key encodes")
    }

    pub fn verify_key(&self) -> VerifyKey {
        VerifyKey(self.0.to_public_key())
    }

    /// base64 of SHA256withRSA (PKCS#1 v1.5) over `content`.
    pub fn sign(&self, content: &str) -> String {
        let sig = self
            .0
            .pkcs1v15_sign::<Sha256>(content.as_bytes())
            .expect("signing with a valid key");
        B64.encode(sig)
    }
}

impl VerifyKey {
    /// SPKI PEM (`BEGIN PUBLIC KEY`), PKCS#1 PEM (`BEGIN RSA PUBLIC KEY`) or bare base64 of the
    /// SPKI DER (Alipay's public key as its console shows it).
    pub fn from_text(text: &str) -> Result<VerifyKey, ProtocolError> {
        let t = text.trim();
        if t.starts_with("-----BEGIN RSA PUBLIC KEY") {
            use rsa::pkcs1::DecodeRsaPublicKey;
            return PublicKey::from_pkcs1_pem(t)
                .map(VerifyKey)
                .map_err(|e| ProtocolError::Key(e.to_string()));
        }
        PublicKey::from_public_key_pem(&pem_or_bare(t, "PUBLIC KEY"))
            .map(VerifyKey)
            .map_err(|e| ProtocolError::Key(e.to_string()))
    }

    pub fn from_file(path: &Path) -> Result<VerifyKey, ProtocolError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProtocolError::Key(format!("{}: {e}", path.display())))?;
        Self::from_text(&text)
    }

    pub fn to_pem(&self) -> String {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .expect("an RSA public key encodes")
    }

    /// Check a base64 RSA2 signature over `content`.
    pub fn verify(&self, content: &str, sig_b64: &str) -> Result<(), ProtocolError> {
        let sig = B64
            .decode(sig_b64.trim())
            .map_err(|_| ProtocolError::BadSignature)?;
        self.0
            .pkcs1v15_verify::<Sha256>(content.as_bytes(), &sig)
            .map_err(|_| ProtocolError::BadSignature)
    }
}

/// The sign content: every parameter with a non-empty value but those in `skip`, sorted by
/// name, `k=v` joined by `&`.
pub fn sign_content(params: &BTreeMap<String, String>, skip: &[&str]) -> String {
    params
        .iter()
        .filter(|(k, v)| !v.is_empty() && !skip.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

// ------------------------------------------------------------------------------------------
// Forms
// ------------------------------------------------------------------------------------------

fn encode_component(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// `application/x-www-form-urlencoded` of `params` (UTF-8).
pub fn encode_form(params: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_component(k, &mut out);
        out.push('=');
        encode_component(v, &mut out);
    }
    out
}

fn decode_component(s: &str) -> Result<String, ProtocolError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| malformed("bad percent escape"))?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| malformed("not UTF-8"))
}

/// Parse a form body: at most [`MAX_BODY_BYTES`] and [`MAX_PARAMS`]; a repeated name is refused.
pub fn decode_form(body: &[u8]) -> Result<BTreeMap<String, String>, ProtocolError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(malformed(format!("more than {MAX_BODY_BYTES} bytes")));
    }
    let text = std::str::from_utf8(body).map_err(|_| malformed("not UTF-8"))?;
    let mut out = BTreeMap::new();
    for pair in text.trim().split('&').filter(|p| !p.is_empty()) {
        if out.len() >= MAX_PARAMS {
            return Err(malformed(format!("more than {MAX_PARAMS} parameters")));
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode_component(k)?;
        if out.insert(k.clone(), decode_component(v)?).is_some() {
            return Err(malformed(format!("parameter {k} repeated")));
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// Amounts and times
// ------------------------------------------------------------------------------------------

/// `Fen(20000)` → `"200.00"`.
pub fn yuan(amount: Fen) -> String {
    let f = amount.as_fen();
    let sign = if f < 0 { "-" } else { "" };
    let a = f.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// `"200.00"`, `"200.5"` or `"200"` → fen; anything else (signs, more than two decimals,
/// more than 10⁹ yuan, spaces) is refused, never rounded.
pub fn parse_yuan(text: &str) -> Result<Fen, ProtocolError> {
    let bad = || malformed(format!("amount {text:?}"));
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty()
        || int.len() > 10
        || frac.len() > 2
        || (text.contains('.') && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let int: i64 = int.parse().map_err(|_| bad())?;
    if int > 1_000_000_000 {
        return Err(bad());
    }
    let mut fen = int * 100;
    if !frac.is_empty() {
        let f: i64 = frac.parse().map_err(|_| bad())?;
        fen += if frac.len() == 1 { f * 10 } else { f };
    }
    Ok(Fen(fen))
}

/// `yyyy-MM-dd HH:mm:ss` in Beijing time (UTC+8), the gateway's `timestamp`.
pub fn gateway_time(now: jiff::Timestamp) -> String {
    jiff::tz::offset(8)
        .to_datetime(now)
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

// ------------------------------------------------------------------------------------------
// Requests
// ------------------------------------------------------------------------------------------

/// The common parameters and `biz_content` of one gateway call, signed.
pub fn signed_request(
    key: &SignKey,
    app_id: &str,
    method: &str,
    notify_url: Option<&str>,
    biz_content: &serde_json::Value,
    now: jiff::Timestamp,
) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    p.insert("app_id".into(), app_id.to_string());
    p.insert("method".into(), method.to_string());
    p.insert("format".into(), "JSON".into());
    p.insert("charset".into(), "utf-8".into());
    p.insert("sign_type".into(), "RSA2".into());
    p.insert("timestamp".into(), gateway_time(now));
    p.insert("version".into(), "1.0".into());
    if let Some(url) = notify_url {
        p.insert("notify_url".into(), url.to_string());
    }
    p.insert("biz_content".into(), biz_content.to_string());
    let sig = key.sign(&sign_content(&p, &["sign"]));
    p.insert("sign".into(), sig);
    p
}

/// A request as the gateway reads it: signature checked with the app's public key.
#[derive(Debug, Clone)]
pub struct GatewayRequest {
    pub app_id: String,
    pub method: String,
    pub notify_url: Option<String>,
    pub biz: serde_json::Map<String, serde_json::Value>,
}

/// Verify and read a gateway request (the simulator's side of [`signed_request`]).
pub fn read_request(
    params: &BTreeMap<String, String>,
    app_key: &VerifyKey,
) -> Result<GatewayRequest, ProtocolError> {
    let get = |k: &str| {
        params
            .get(k)
            .cloned()
            .ok_or_else(|| malformed(format!("{k} missing")))
    };
    if get("sign_type")? != "RSA2" {
        return Err(malformed("sign_type must be RSA2"));
    }
    app_key.verify(&sign_content(params, &["sign"]), &get("sign")?)?;
    let biz: serde_json::Value =
        serde_json::from_str(&get("biz_content")?).map_err(|e| malformed(e.to_string()))?;
    let serde_json::Value::Object(biz) = biz else {
        return Err(malformed("biz_content is not an object"));
    };
    Ok(GatewayRequest {
        app_id: get("app_id")?,
        method: get("method")?,
        notify_url: params.get("notify_url").cloned(),
        biz,
    })
}

// ------------------------------------------------------------------------------------------
// Answers
// ------------------------------------------------------------------------------------------

/// `alipay.trade.query` → `alipay_trade_query_response`.
pub fn response_key(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// The answer body for `method`: the response object's text signed by the gateway's key.
pub fn signed_response(key: &SignKey, method: &str, response: &serde_json::Value) -> String {
    let text = response.to_string();
    let sig = key.sign(&text);
    format!(
        "{{{}:{text},\"sign\":{}}}",
        serde_json::Value::String(response_key(method)),
        serde_json::Value::String(sig)
    )
}

/// A verified answer's response object.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub code: String,
    pub msg: String,
    pub sub_code: Option<String>,
    pub sub_msg: Option<String>,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Response {
    pub fn ok(&self) -> bool {
        self.code == CODE_SUCCESS
    }

    /// A string field (`qr_code`, `trade_status`, `total_amount`, …).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(|v| v.as_str())
    }
}

/// The answer's members, each kept as its exact text.
struct Envelope<'a> {
    members: BTreeMap<String, &'a serde_json::value::RawValue>,
}

/// Verify an answer to `method` with the gateway's public key and read its response object.
/// The signature is over the response object's exact text.
pub fn read_response(
    body: &[u8],
    method: &str,
    alipay_key: &VerifyKey,
) -> Result<Response, ProtocolError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(malformed(format!("more than {MAX_BODY_BYTES} bytes")));
    }
    let text = std::str::from_utf8(body).map_err(|_| malformed("not UTF-8"))?;
    let env = Envelope {
        members: serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?,
    };
    let key = response_key(method);
    let raw = match env.members.get(&key) {
        Some(r) => *r,
        None => {
            return Err(match env.members.get("error_response") {
                Some(e) => malformed(format!("error_response {}", e.get())),
                None => malformed(format!("{key} missing")),
            });
        }
    };
    let sign: String = env
        .members
        .get("sign")
        .ok_or(ProtocolError::BadSignature)
        .and_then(|s| serde_json::from_str(s.get()).map_err(|_| ProtocolError::BadSignature))?;
    alipay_key.verify(raw.get(), &sign)?;
    let serde_json::Value::Object(mut fields) =
        serde_json::from_str(raw.get()).map_err(|e| malformed(e.to_string()))?
    else {
        return Err(malformed(format!("{key} is not an object")));
    };
    let mut take = |k: &str| match fields.remove(k) {
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    };
    Ok(Response {
        code: take("code").ok_or_else(|| malformed("code missing"))?,
        msg: take("msg").unwrap_or_default(),
        sub_code: take("sub_code"),
        sub_msg: take("sub_msg"),
        fields,
    })
}

// ------------------------------------------------------------------------------------------
// Notifications
// ------------------------------------------------------------------------------------------

/// The asynchronous notification (`notify_type=trade_status_sync`), as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub notify_id: String,
    pub app_id: String,
    pub out_trade_no: String,
    pub trade_no: String,
    pub trade_status: String,
    pub total_amount: Fen,
}

/// The signed form of a notification (the simulator's side of [`read_notification`]).
pub fn signed_notification(
    key: &SignKey,
    n: &Notification,
    now: jiff::Timestamp,
) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    p.insert("notify_time".into(), gateway_time(now));
    p.insert("notify_type".into(), "trade_status_sync".into());
    p.insert("notify_id".into(), n.notify_id.clone());
    p.insert("app_id".into(), n.app_id.clone());
    p.insert("charset".into(), "utf-8".into());
    p.insert("version".into(), "1.0".into());
    p.insert("trade_no".into(), n.trade_no.clone());
    p.insert("out_trade_no".into(), n.out_trade_no.clone());
    p.insert("trade_status".into(), n.trade_status.clone());
    p.insert("total_amount".into(), yuan(n.total_amount));
    p.insert("receipt_amount".into(), yuan(n.total_amount));
    p.insert("gmt_payment".into(), gateway_time(now));
    let sig = key.sign(&sign_content(&p, &["sign", "sign_type"]));
    p.insert("sign".into(), sig);
    p.insert("sign_type".into(), "RSA2".into());
    p
}

/// Verify a notification's form body with Alipay's public key (over its sorted parameters
/// without `sign` and `sign_type`) and read it.
pub fn read_notification(
    body: &[u8],
    alipay_key: &VerifyKey,
) -> Result<Notification, ProtocolError> {
    let p = decode_form(body)?;
    let sign = p.get("sign").ok_or(ProtocolError::BadSignature)?;
    if p.get("sign_type").is_some_and(|t| t != "RSA2") {
        return Err(malformed("sign_type must be RSA2"));
    }
    alipay_key.verify(&sign_content(&p, &["sign", "sign_type"]), sign)?;
    let get = |k: &str| {
        p.get(k)
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .cloned()
            .ok_or_else(|| malformed(format!("{k} missing")))
    };
    Ok(Notification {
        notify_id: get("notify_id")?,
        app_id: get("app_id")?,
        out_trade_no: get("out_trade_no")?,
        trade_no: get("trade_no")?,
        trade_status: get("trade_status")?,
        total_amount: parse_yuan(&get("total_amount")?)?,
    })
}

/// Whether a `trade_status` means the money is in (`TRADE_SUCCESS`, `TRADE_FINISHED`).
pub fn is_paid_status(status: &str) -> bool {
    matches!(status, "TRADE_SUCCESS" | "TRADE_FINISHED")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    pub(crate) fn keys() -> &'static (SignKey, SignKey) {
        static K: OnceLock<(SignKey, SignKey)> = OnceLock::new();
        K.get_or_init(|| (SignKey::generate(), SignKey::generate()))
    }

    #[test]
    fn the_sign_content_is_sorted_without_sign_and_empty_values() {
        let mut p = BTreeMap::new();
        for (k, v) in [
            ("method", "m"),
            ("app_id", "2021"),
            ("sign", "x"),
            ("notify_url", ""),
        ] {
            p.insert(k.to_string(), v.to_string());
        }
        assert_eq!(sign_content(&p, &["sign"]), "app_id=2021&method=m");
    }

    #[test]
    fn forms_round_trip_utf8_and_reserved_characters() {
        let mut p = BTreeMap::new();
        p.insert(
            "biz_content".to_string(),
            r#"{"subject":"交通罚款 a&b=c+d%"}"#.to_string(),
        );
        p.insert("timestamp".to_string(), "2022-10-24 11:06:10".to_string());
        assert_eq!(decode_form(encode_form(&p).as_bytes()).unwrap(), p);
    }

    #[test]
    fn hostile_forms_are_refused_with_bounds() {
        assert!(decode_form(b"a=1&a=2").is_err());
        assert!(decode_form(b"a=%zz").is_err());
        assert!(decode_form(b"a=%e4").is_err());
        assert!(decode_form(&vec![b'a'; MAX_BODY_BYTES + 1]).is_err());
        let many: String = (0..=MAX_PARAMS).map(|i| format!("k{i}=v&")).collect();
        assert!(decode_form(many.as_bytes()).is_err());
    }

    #[test]
    fn amounts_are_parsed_strictly_never_rounded() {
        assert_eq!(parse_yuan("200.00").unwrap(), Fen(20000));
        assert_eq!(parse_yuan("0.5").unwrap(), Fen(50));
        assert_eq!(parse_yuan("7").unwrap(), Fen(700));
        for bad in [
            "",
            "-1.00",
            "1.005",
            "1.",
            ".5",
            " 1",
            "1e3",
            "99999999999",
            "１",
        ] {
            assert!(parse_yuan(bad).is_err(), "{bad:?}");
        }
        assert_eq!(yuan(Fen(20005)), "200.05");
    }

    #[test]
    fn a_signed_request_verifies_and_a_changed_one_does_not() {
        let (app, _) = keys();
        let now: jiff::Timestamp = "2022-10-24T03:06:10Z".parse().unwrap();
        let biz = serde_json::json!({"out_trade_no": "T1", "total_amount": "1.00"});
        let p = signed_request(
            app,
            "2021",
            METHOD_PRECREATE,
            Some("http://x/notify"),
            &biz,
            now,
        );
        assert_eq!(p["timestamp"], "2022-10-24 11:06:10");
        let back = decode_form(encode_form(&p).as_bytes()).unwrap();
        let r = read_request(&back, &app.verify_key()).unwrap();
        assert_eq!(r.biz["out_trade_no"], "T1");
        let mut forged = back.clone();
        forged.insert(
            "biz_content".into(),
            r#"{"out_trade_no":"T1","total_amount":"0.01"}"#.into(),
        );
        assert_eq!(
            read_request(&forged, &app.verify_key()).unwrap_err(),
            ProtocolError::BadSignature
        );
    }

    #[test]
    fn a_response_is_verified_over_its_exact_text() {
        let (_, ali) = keys();
        let body = signed_response(
            ali,
            METHOD_QUERY,
            &serde_json::json!({"code": "10000", "msg": "Success", "trade_status": "TRADE_SUCCESS"}),
        );
        let r = read_response(body.as_bytes(), METHOD_QUERY, &ali.verify_key()).unwrap();
        assert!(r.ok());
        assert_eq!(r.field("trade_status"), Some("TRADE_SUCCESS"));
        let tampered = body.replace("TRADE_SUCCESS", "TRADE_FINISHED");
        assert_eq!(
            read_response(tampered.as_bytes(), METHOD_QUERY, &ali.verify_key()).unwrap_err(),
            ProtocolError::BadSignature
        );
        // Signed by another key (the app's, not Alipay's).
        let (app, _) = keys();
        let other = signed_response(app, METHOD_QUERY, &serde_json::json!({"code": "10000"}));
        assert!(read_response(other.as_bytes(), METHOD_QUERY, &ali.verify_key()).is_err());
        assert!(read_response(b"{}", METHOD_QUERY, &ali.verify_key()).is_err());
        assert!(read_response(b"not json", METHOD_QUERY, &ali.verify_key()).is_err());
    }

    #[test]
    fn a_notification_round_trips_and_a_forged_one_is_refused() {
        let (app, ali) = keys();
        let n = Notification {
            notify_id: "N1".into(),
            app_id: "2021".into(),
            out_trade_no: "T1".into(),
            trade_no: "2022102422001".into(),
            trade_status: "TRADE_SUCCESS".into(),
            total_amount: Fen(35000),
        };
        let now: jiff::Timestamp = "2022-10-24T03:06:10Z".parse().unwrap();
        let body = encode_form(&signed_notification(ali, &n, now));
        assert_eq!(
            read_notification(body.as_bytes(), &ali.verify_key()).unwrap(),
            n
        );
        let forged = encode_form(&signed_notification(app, &n, now));
        assert_eq!(
            read_notification(forged.as_bytes(), &ali.verify_key()).unwrap_err(),
            ProtocolError::BadSignature
        );
        let cheaper = body.replace("total_amount=350.00", "total_amount=0.01");
        assert_eq!(
            read_notification(cheaper.as_bytes(), &ali.verify_key()).unwrap_err(),
            ProtocolError::BadSignature
        );
    }

    #[test]
    fn keys_load_from_pem_and_from_bare_base64() {
        let (app, _) = keys();
        let pem = app.to_pem();
        let again = SignKey::from_text(&pem).unwrap();
        let public = app.verify_key().to_pem();
        let bare: String = public.lines().filter(|l| !l.starts_with("-----")).collect();
        let vk = VerifyKey::from_text(&bare).unwrap();
        vk.verify("x=1", &again.sign("x=1")).unwrap();
        assert!(SignKey::from_text("not a key").is_err());
        assert!(VerifyKey::from_text("").is_err());
    }
}
