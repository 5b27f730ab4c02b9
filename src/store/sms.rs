//! SMS verification codes behind the [`SmsGateway`] trait.
//!
//! A code exists in clear only in memory, between [`issue_code`] drawing it and the gateway
//! delivering it. The table `sms_codes` keeps, per code, the phone, the purpose, the kiosk that
//! asked, a random salt and HMAC-SHA256(salt, phone ‖ purpose ‖ code) — never the code, never the
//! message. Once a code is used, burned (5 wrong tries) or expired, its hash and salt are cleared
//! (the row is reduced to what the limits need) and rows older than a day are deleted.
//!
//! Limits ([`LIMITS`]): per phone 1 a minute, 5 an hour and 10 a day; per kiosk 60 an hour; per
//! filing attempt (applicant + vehicle) 3 a day, so with 5 wrong tries a code at most 15 guesses
//! a day. They are counted inside the write transaction that records the code (SQLite
//! `IMMEDIATE`, PostgreSQL `SERIALIZABLE`, retried), and the unique key `(phone, sent_minute)`
//! makes two concurrent sends to one phone collide even before the count. A refusal says when to
//! try again ([`StoreError::SmsRateLimited`]).
//!
//! The store records the code and commits first, then hands the message to the gateway outside
//! the transaction (a PostgreSQL retry never sends a second SMS); a failed delivery clears the
//! row's hash and marks it `failed` (it still counts against the limits).
//!
//! [`DemoSmsGateway`] delivers into an in-memory inbox (the demo's "phone", a development mail
//! catcher, bounded); production gateways live in `crate::providers` (Alibaba Cloud SMS).

use std::collections::VecDeque;
use std::sync::Mutex;

use hmac::{KeyInit, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::Sha256;

use super::sql::{Sql, SqlError};
use crate::sql_params;
use crate::store::StoreError;

/// Wrong tries after which a code is burned (a new one must be requested).
pub const MAX_FAILED_ATTEMPTS: i64 = 5;

/// How long a code stays valid.
pub const CODE_VALIDITY: SignedDuration = SignedDuration::from_mins(5);

/// How long a row is kept for the limits (the longest window).
pub const KEEP_FOR_LIMITS: SignedDuration = SignedDuration::from_hours(24);

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    /// Codes sent to one phone.
    Phone,
    /// Codes one kiosk asked for.
    Kiosk,
    /// Codes for one filing attempt (one applicant, one vehicle).
    Attempt,
}

impl LimitScope {
    pub fn code(self) -> &'static str {
        match self {
            LimitScope::Phone => "phone",
            LimitScope::Kiosk => "kiosk",
            LimitScope::Attempt => "attempt",
        }
    }

    pub fn parse(s: &str) -> Option<LimitScope> {
        [LimitScope::Phone, LimitScope::Kiosk, LimitScope::Attempt]
            .into_iter()
            .find(|l| l.code() == s)
    }
}

/// A wait in Chinese and in English: seconds under a minute, else minutes (rounded up), hours
/// and minutes from an hour.
pub fn wait_words(secs: i64) -> (String, String) {
    let secs = secs.max(1);
    if secs < 60 {
        return (format!("{secs}秒"), format!("{secs} s"));
    }
    let mins = (secs + 59) / 60;
    if mins < 60 {
        return (format!("{mins}分钟"), format!("{mins} min"));
    }
    let (h, m) = (mins / 60, mins % 60);
    if m == 0 {
        (format!("{h}小时"), format!("{h} h"))
    } else {
        (format!("{h}小时{m}分钟"), format!("{h} h {m} min"))
    }
}

/// The refusal of a limit, in Chinese.
pub fn limit_zh(scope: LimitScope, retry_after_secs: i64) -> String {
    let who = match scope {
        LimitScope::Phone => "该手机号获取验证码过于频繁",
        LimitScope::Kiosk => "本机发送短信过于频繁",
        LimitScope::Attempt => "本次备案申请获取验证码次数已达上限",
    };
    format!("{who}，请{}后再试", wait_words(retry_after_secs).0)
}

/// The refusal of a limit, in English.
pub fn limit_en(scope: LimitScope, retry_after_secs: i64) -> String {
    let who = match scope {
        LimitScope::Phone => "Too many codes were sent to this phone",
        LimitScope::Kiosk => "This kiosk has sent too many SMS messages",
        LimitScope::Attempt => "This filing request has had all the codes it may get today",
    };
    format!("{who}; try again in {}", wait_words(retry_after_secs).1)
}

/// One limit: at most `max` codes per `window` for `scope`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub scope: LimitScope,
    pub max: i64,
    pub window: SignedDuration,
}

/// The limits, checked in this order (the first refusal is the one reported).
pub const LIMITS: &[Limit] = &[
    Limit {
        scope: LimitScope::Phone,
        max: 1,
        window: SignedDuration::from_mins(1),
    },
    Limit {
        scope: LimitScope::Phone,
        max: 5,
        window: SignedDuration::from_hours(1),
    },
    Limit {
        scope: LimitScope::Phone,
        max: 10,
        window: SignedDuration::from_hours(24),
    },
    Limit {
        scope: LimitScope::Attempt,
        max: 3,
        window: SignedDuration::from_hours(24),
    },
    Limit {
        scope: LimitScope::Kiosk,
        max: 60,
        window: SignedDuration::from_hours(1),
    },
];

/// Which message a code travels in (each is one template of the SMS provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsTemplate {
    /// 注册验证码.
    Register,
    /// The owner's consent to another person filing their vehicle (the plate in the message).
    FilingConsent { plate: String },
}

/// A message to deliver: the phone, the template and its parameters. `Debug` masks the phone
/// and hides the code.
#[derive(Clone)]
pub struct SmsMessage {
    /// The `sms_codes` row (the provider's `OutId`, so a delivery can be traced to it).
    pub id: i64,
    pub phone: String,
    pub template: SmsTemplate,
    pub code: String,
    /// When it was asked for (the request's time).
    pub at: Timestamp,
}

impl std::fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsMessage")
            .field("id", &self.id)
            .field("phone", &crate::privacy::mask_text(&self.phone))
            .field("template", &self.template)
            .field("code", &"******")
            .finish()
    }
}

impl SmsMessage {
    /// The text as the phone shows it (the templates' wording).
    pub fn text(&self) -> String {
        match &self.template {
            SmsTemplate::Register => {
                format!("【交管12123】您的注册验证码为{}，5分钟内有效。", self.code)
            }
            SmsTemplate::FilingConsent { plate } => format!(
                "【交管12123】有人申请备案您的车辆{plate}，如同意请告知其验证码{}，5分钟内有效。",
                self.code
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("短信发送失败，请稍后再试 / The SMS could not be sent, please try again later ({0})")]
    Delivery(String),
}

/// The provider's receipt of a message (its id for the message, e.g. Alibaba Cloud's `BizId`).
#[derive(Debug, Clone, Default)]
pub struct Delivered {
    pub provider_ref: Option<String>,
}

/// A message as the demo's phone received it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DemoSms {
    pub id: i64,
    pub phone: String,
    pub text: String,
    pub code: String,
    pub at: Timestamp,
}

/// Delivers SMS messages.
pub trait SmsGateway: Send + Sync {
    fn deliver(&self, message: &SmsMessage) -> Result<Delivered, SmsError>;

    /// The messages a demo phone received, newest first (the demo gateway only).
    fn demo_inbox(&self, _limit: usize) -> Option<Vec<DemoSms>> {
        None
    }
}

/// How many messages the demo inbox keeps (the oldest dropped first).
pub const DEMO_INBOX_MAX: usize = 200;

/// The demo gateway: messages go to an in-memory inbox, the demo's "phone" (demo mode only).
#[derive(Debug, Default)]
pub struct DemoSmsGateway {
    inbox: Mutex<VecDeque<DemoSms>>,
}

impl SmsGateway for DemoSmsGateway {
    fn deliver(&self, message: &SmsMessage) -> Result<Delivered, SmsError> {
        tracing::info!(phone = %crate::privacy::mask_text(&message.phone), id = message.id, "demo SMS delivered to the demo phone");
        let mut inbox = self.inbox.lock().unwrap_or_else(|p| p.into_inner());
        if inbox.len() >= DEMO_INBOX_MAX {
            inbox.pop_front();
        }
        inbox.push_back(DemoSms {
            id: message.id,
            phone: message.phone.clone(),
            text: message.text(),
            code: message.code.clone(),
            at: message.at,
        });
        Ok(Delivered::default())
    }

    fn demo_inbox(&self, limit: usize) -> Option<Vec<DemoSms>> {
        let inbox = self.inbox.lock().unwrap_or_else(|p| p.into_inner());
        Some(inbox.iter().rev().take(limit).cloned().collect())
    }
}

/// `n` random bytes from the operating system.
fn random_bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    use std::io::Read as _;
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| StoreError::Sms(SmsError::Delivery(format!("no randomness: {e}"))))?;
    Ok(buf)
}

/// A fresh six-digit code from the operating system's randomness (no modulo bias).
pub fn fresh_code() -> Result<String, StoreError> {
    loop {
        let n = u32::from_le_bytes(random_bytes::<4>()?);
        // 4_294_000_000 is the largest multiple of 1_000_000 below 2^32.
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

/// HMAC-SHA256 keyed by the row's salt over phone, purpose and code, as hex.
pub fn code_hash(salt: &[u8], phone: &str, purpose: &str, code: &str) -> String {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(salt).expect("HMAC takes any key length");
    for part in [phone, purpose, code] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}

fn retry_refusal(scope: LimitScope, retry_at: i64, now: Timestamp) -> StoreError {
    let retry_after_secs = (retry_at - now.as_second()).max(1);
    StoreError::SmsRateLimited {
        scope,
        retry_after_secs,
    }
}

/// Refuse when a limit is reached, with the time the oldest counted code leaves its window.
fn check_limits(
    conn: &dyn Sql,
    phone: &str,
    purpose: &str,
    kiosk: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    for l in LIMITS {
        let since = (now - l.window).as_second();
        let (column, value) = match l.scope {
            LimitScope::Phone => ("phone", phone),
            LimitScope::Kiosk => ("kiosk_id", kiosk),
            // Registration is bounded by the phone's limits; a filing attempt by its own.
            LimitScope::Attempt if purpose.starts_with("filing:") => ("purpose", purpose),
            LimitScope::Attempt => continue,
        };
        let sql = format!(
            "SELECT created_at FROM sms_codes WHERE {column} = ?1 AND created_at > ?2 ORDER BY created_at DESC LIMIT ?3"
        );
        let rows = conn.query(&sql, &sql_params![value, since, l.max])?;
        if rows.len() as i64 >= l.max {
            let oldest: i64 = rows[rows.len() - 1].get(0)?;
            return Err(retry_refusal(l.scope, oldest + l.window.as_secs(), now));
        }
    }
    Ok(())
}

/// Clear the hashes of codes no longer usable and delete rows the limits no longer need.
pub fn purge(conn: &dyn Sql, now: Timestamp) -> Result<(), SqlError> {
    conn.exec(
        "UPDATE sms_codes SET code_hash = NULL, salt = NULL WHERE code_hash IS NOT NULL AND expires_at <= ?1",
        &sql_params![now.as_second()],
    )?;
    conn.exec(
        "DELETE FROM sms_codes WHERE created_at <= ?1",
        &sql_params![(now - KEEP_FOR_LIMITS).as_second()],
    )?;
    Ok(())
}

/// A code recorded (hashed) and ready to deliver once the transaction commits.
#[derive(Clone)]
pub struct Pending {
    pub message: SmsMessage,
    pub expires_at: Timestamp,
}

/// Check the limits, draw a code and record its hash (inside the caller's write transaction).
/// The caller delivers [`Pending::message`] after the commit ([`deliver`]).
pub fn issue_code(
    conn: &dyn Sql,
    kiosk: &str,
    phone: &str,
    purpose: &str,
    template: SmsTemplate,
    now: Timestamp,
) -> Result<Pending, StoreError> {
    purge(conn, now)?;
    check_limits(conn, phone, purpose, kiosk, now)?;
    let code = fresh_code()?;
    let salt = random_bytes::<16>()?;
    let hash = code_hash(&salt, phone, purpose, &code);
    let expires = now + CODE_VALIDITY;
    let id: i64 = conn.one(
        "INSERT INTO sms_codes (phone, purpose, kiosk_id, salt, code_hash, created_at, sent_minute, expires_at, delivery)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending') RETURNING id",
        &sql_params![
            phone,
            purpose,
            kiosk,
            hex::encode(salt),
            hash,
            now.as_second(),
            now.as_second().div_euclid(60),
            expires.as_second()
        ],
    )?;
    Ok(Pending {
        message: SmsMessage {
            id,
            phone: phone.to_string(),
            template,
            code,
            at: now,
        },
        expires_at: expires,
    })
}

/// After the gateway answered: mark the row sent (with the provider's reference) or failed (its
/// hash cleared: the code was never delivered).
pub fn record_delivery(
    conn: &dyn Sql,
    id: i64,
    outcome: &Result<Delivered, SmsError>,
    now: Timestamp,
) -> Result<(), SqlError> {
    match outcome {
        Ok(d) => conn.exec(
            "UPDATE sms_codes SET delivery = 'sent', provider_ref = ?2 WHERE id = ?1",
            &sql_params![id, d.provider_ref.clone()],
        ),
        Err(_) => conn.exec(
            "UPDATE sms_codes SET delivery = 'failed', code_hash = NULL, salt = NULL, expires_at = ?2 WHERE id = ?1",
            &sql_params![id, now.as_second()],
        ),
    }
    .map(|_| ())
}

/// Check `code` against the latest usable code for `purpose` to `phone`; mark it used (its hash
/// cleared). A wrong code counts an attempt (the caller commits it, see
/// [`StoreError::keeps_writes`]); after [`MAX_FAILED_ATTEMPTS`] the code is burned.
pub fn consume_code(
    conn: &dyn Sql,
    phone: &str,
    purpose: &str,
    code: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let id = verify_code(conn, phone, purpose, code, now)?.id;
    conn.exec(
        "UPDATE sms_codes SET used_at = ?1, code_hash = NULL, salt = NULL WHERE id = ?2",
        &sql_params![now.as_second(), id],
    )?;
    Ok(())
}

/// Check `code` as [`consume_code`] does, without using it: a right code stays usable (nothing
/// is written), a wrong one counts an attempt exactly as a wrong try at [`consume_code`] does
/// (the same [`MAX_FAILED_ATTEMPTS`] across checks and uses, so a check gives no extra guess).
/// Returns when the code expires.
pub fn check_code(
    conn: &dyn Sql,
    phone: &str,
    purpose: &str,
    code: &str,
    now: Timestamp,
) -> Result<Timestamp, StoreError> {
    Ok(ts(verify_code(conn, phone, purpose, code, now)?.expires_at))
}

/// The usable code a try matched.
struct Matched {
    id: i64,
    expires_at: i64,
}

/// The one comparison behind [`consume_code`] and [`check_code`]: the latest usable code for
/// `purpose` to `phone` against `code`; a wrong try is counted (and burns the code at the
/// [`MAX_FAILED_ATTEMPTS`]th).
fn verify_code(
    conn: &dyn Sql,
    phone: &str,
    purpose: &str,
    code: &str,
    now: Timestamp,
) -> Result<Matched, StoreError> {
    let row = conn.query_opt(
        "SELECT id, salt, code_hash, failed_attempts, expires_at FROM sms_codes
         WHERE phone = ?1 AND purpose = ?2 AND used_at IS NULL AND code_hash IS NOT NULL AND expires_at > ?3
         ORDER BY id DESC LIMIT 1",
        &sql_params![phone, purpose, now.as_second()],
    )?;
    let Some(r) = row else {
        return Err(StoreError::SmsCodeExpired);
    };
    let (id, salt, want, failed, expires_at): (i64, String, String, i64, i64) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
    let salt = hex::decode(&salt).map_err(|e| StoreError::Corrupt(format!("sms salt: {e}")))?;
    let got = code_hash(&salt, phone, purpose, code.trim());
    let same = got.len() == want.len()
        && got
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        conn.exec(
            "UPDATE sms_codes SET failed_attempts = failed_attempts + 1,
                 code_hash = CASE WHEN failed_attempts + 1 >= ?2 THEN NULL ELSE code_hash END,
                 salt = CASE WHEN failed_attempts + 1 >= ?2 THEN NULL ELSE salt END,
                 expires_at = CASE WHEN failed_attempts + 1 >= ?2 THEN ?3 ELSE expires_at END
             WHERE id = ?1",
            &sql_params![id, MAX_FAILED_ATTEMPTS, now.as_second()],
        )?;
        let tries_left = (MAX_FAILED_ATTEMPTS - failed - 1).clamp(0, MAX_FAILED_ATTEMPTS);
        return Err(StoreError::SmsCodeWrong {
            tries_left: u32::try_from(tries_left).unwrap_or(0),
        });
    }
    Ok(Matched { id, expires_at })
}

/// One code as the operator sees it (`kiosk platform sms-outbox`): never the code. `message`:
/// the text the demo phone received, when this process's demo gateway delivered it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub phone_masked: String,
    pub purpose: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used: bool,
    pub failed_attempts: i64,
    /// `pending`, `sent` or `failed`.
    pub delivery: String,
    pub message: Option<DemoSms>,
}

/// The latest `limit` codes, newest first.
pub fn outbox(conn: &dyn Sql, limit: u32) -> Result<Vec<OutboxEntry>, SqlError> {
    conn.query(
        "SELECT id, phone, purpose, created_at, expires_at, used_at, failed_attempts, delivery FROM sms_codes ORDER BY id DESC LIMIT ?1",
        &sql_params![limit],
    )?
    .iter()
    .map(|r| {
        Ok(OutboxEntry {
            id: r.get(0)?,
            phone_masked: crate::privacy::mask_text(&r.get::<String>(1)?),
            purpose: r.get(2)?,
            created_at: ts(r.get(3)?),
            expires_at: ts(r.get(4)?),
            used: r.get::<Option<i64>>(5)?.is_some(),
            failed_attempts: r.get(6)?,
            delivery: r.get(7)?,
            message: None,
        })
    })
    .collect()
}

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;

    /// Kiosk `kiosk` asks for a registration code to `phone` at `at` (recorded, not delivered).
    fn send(
        conn: &dyn Sql,
        kiosk: &str,
        phone: &str,
        at: Timestamp,
    ) -> Result<Pending, StoreError> {
        issue_code(conn, kiosk, phone, "register", SmsTemplate::Register, at)
    }

    /// Why one more code was refused: the limit's scope, how long until the next may go, and
    /// what the person is told.
    fn refused(r: Result<Pending, StoreError>) -> (LimitScope, i64, String) {
        match r {
            Err(
                e @ StoreError::SmsRateLimited {
                    scope,
                    retry_after_secs,
                },
            ) => (scope, retry_after_secs, e.to_string()),
            Err(e) => panic!("refused for another reason: {e}"),
            Ok(_) => panic!("a code was sent past the limit"),
        }
    }

    /// A registration code from K1 to 13800001234 at `at`, delivered by `g`: the code the phone
    /// shows.
    fn issue(conn: &rusqlite::Connection, g: &DemoSmsGateway, at: Timestamp) -> String {
        let p = send(conn, "K1", "13800001234", at).unwrap();
        let out = g.deliver(&p.message);
        record_delivery(conn, p.message.id, &out, at).unwrap();
        g.demo_inbox(1).unwrap()[0].code.clone()
    }

    #[test]
    fn a_code_is_accepted_once_and_refused_when_wrong_or_expired() {
        let conn = schema::open_in_memory().unwrap();
        let g = DemoSmsGateway::default();
        let now: Timestamp = "2022-10-24T11:00:00+08:00".parse().unwrap();
        let code = issue(&conn, &g, now);
        assert_eq!(code.len(), 6);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        assert!(matches!(
            consume_code(&conn, "13800001234", "register", wrong, now),
            Err(StoreError::SmsCodeWrong { tries_left: 4 })
        ));
        assert!(matches!(
            consume_code(&conn, "13800001234", "other", &code, now),
            Err(StoreError::SmsCodeExpired)
        ));
        assert!(matches!(
            consume_code(&conn, "13900001234", "register", &code, now),
            Err(StoreError::SmsCodeExpired)
        ));
        assert!(matches!(
            consume_code(&conn, "13800001234", "register", &code, now + CODE_VALIDITY),
            Err(StoreError::SmsCodeExpired)
        ));
        consume_code(&conn, "13800001234", "register", &code, now).unwrap();
        assert!(matches!(
            consume_code(&conn, "13800001234", "register", &code, now),
            Err(StoreError::SmsCodeExpired)
        ));
        let out = outbox(&conn, 10).unwrap();
        assert_eq!(out.len(), 1);
        assert!(out[0].used);
        assert_eq!(out[0].delivery, "sent");
        assert!(g.demo_inbox(1).unwrap()[0].text.contains(&code));
    }

    /// A check answers as a use would but leaves a right code usable and the row unchanged; its
    /// wrong tries and a use's share the five: 2 wrong checks + 2 wrong uses + 1 wrong check burn
    /// the code.
    #[test]
    fn a_check_leaves_a_right_code_usable_and_shares_the_wrong_tries_with_its_use() {
        let conn = schema::open_in_memory().unwrap();
        let g = DemoSmsGateway::default();
        let now: Timestamp = "2022-10-24T11:00:00+08:00".parse().unwrap();
        let code = issue(&conn, &g, now);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let phone = "13800001234";
        let row = |conn: &rusqlite::Connection| -> Vec<Option<String>> {
            conn.query_row(
                "SELECT salt, code_hash, CAST(expires_at AS TEXT), CAST(used_at AS TEXT), CAST(failed_attempts AS TEXT) FROM sms_codes",
                [],
                |r| Ok((0..5).map(|i| r.get(i).unwrap()).collect()),
            )
            .unwrap()
        };
        let before = row(&conn);
        let until = check_code(&conn, phone, "register", &code, now).unwrap();
        assert_eq!(until, now + CODE_VALIDITY);
        check_code(&conn, phone, "register", &format!(" {code} "), now).unwrap();
        assert_eq!(row(&conn), before, "a right check writes nothing");
        // Another purpose or another phone: no such code.
        assert!(matches!(
            check_code(&conn, phone, "other", &code, now),
            Err(StoreError::SmsCodeExpired)
        ));
        assert!(matches!(
            check_code(&conn, "13900001234", "register", &code, now),
            Err(StoreError::SmsCodeExpired)
        ));
        assert!(matches!(
            check_code(&conn, phone, "register", &code, now + CODE_VALIDITY),
            Err(StoreError::SmsCodeExpired)
        ));
        for (left, consume) in [(4, false), (3, false), (2, true), (1, true)] {
            let r = if consume {
                consume_code(&conn, phone, "register", wrong, now)
            } else {
                check_code(&conn, phone, "register", wrong, now).map(|_| ())
            };
            assert!(
                matches!(r, Err(StoreError::SmsCodeWrong { tries_left }) if tries_left == left),
                "{r:?}"
            );
        }
        // The right code still passes a check and is still usable after it.
        check_code(&conn, phone, "register", &code, now).unwrap();
        assert!(matches!(
            check_code(&conn, phone, "register", wrong, now),
            Err(StoreError::SmsCodeWrong { tries_left: 0 })
        ));
        // The fifth wrong try (a check) burned it: the right code no longer passes, nor is used.
        assert!(matches!(
            check_code(&conn, phone, "register", &code, now),
            Err(StoreError::SmsCodeExpired)
        ));
        assert!(matches!(
            consume_code(&conn, phone, "register", &code, now),
            Err(StoreError::SmsCodeExpired)
        ));
        assert_eq!(row(&conn)[..2], [None, None], "a burned code keeps no hash");
    }

    /// A right check, then the use: the code is used once.
    #[test]
    fn a_checked_code_is_used_once() {
        let conn = schema::open_in_memory().unwrap();
        let g = DemoSmsGateway::default();
        let now: Timestamp = "2022-10-24T11:00:00+08:00".parse().unwrap();
        let code = issue(&conn, &g, now);
        check_code(&conn, "13800001234", "register", &code, now).unwrap();
        consume_code(&conn, "13800001234", "register", &code, now).unwrap();
        assert!(matches!(
            check_code(&conn, "13800001234", "register", &code, now),
            Err(StoreError::SmsCodeExpired)
        ));
        assert!(outbox(&conn, 1).unwrap()[0].used);
    }

    #[test]
    fn the_row_keeps_a_salted_hash_never_the_code_and_clears_it_once_used() {
        let conn = schema::open_in_memory().unwrap();
        let g = DemoSmsGateway::default();
        let now: Timestamp = "2022-10-24T11:00:00+08:00".parse().unwrap();
        let code = issue(&conn, &g, now);
        let (salt, hash): (String, String) = conn
            .query_row("SELECT salt, code_hash FROM sms_codes", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert!(!salt.contains(&code) && !hash.contains(&code));
        assert_eq!(
            hash,
            code_hash(
                &hex::decode(&salt).unwrap(),
                "13800001234",
                "register",
                &code
            )
        );
        consume_code(&conn, "13800001234", "register", &code, now).unwrap();
        let cleared: (Option<String>, Option<String>) = conn
            .query_row("SELECT salt, code_hash FROM sms_codes", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(cleared, (None, None));
    }

    #[test]
    fn limits_per_phone_say_when_to_try_again() {
        let conn = schema::open_in_memory().unwrap();
        let g = DemoSmsGateway::default();
        let t0: Timestamp = "2022-10-24T11:00:00+08:00".parse().unwrap();
        issue(&conn, &g, t0);
        let (scope, wait, _) = refused(send(
            &conn,
            "K1",
            "13800001234",
            t0 + SignedDuration::from_secs(20),
        ));
        assert_eq!((scope, wait), (LimitScope::Phone, 40));
        for m in 1..5 {
            issue(&conn, &g, t0 + SignedDuration::from_mins(m));
        }
        let (scope, wait, said) = refused(send(
            &conn,
            "K1",
            "13800001234",
            t0 + SignedDuration::from_mins(10),
        ));
        assert_eq!((scope, wait), (LimitScope::Phone, 3000));
        assert!(said.contains("50分钟") && said.contains("50 min"), "{said}");
        // An hour after the first, one more.
        issue(&conn, &g, t0 + SignedDuration::from_mins(60));
    }

    #[test]
    fn a_filing_attempt_gets_three_codes_a_day() {
        let conn = schema::open_in_memory().unwrap();
        let t0: Timestamp = "2022-10-24T11:00:00+08:00".parse().unwrap();
        let send = |m: i64, phone: &str| {
            issue_code(
                &conn,
                "K1",
                phone,
                "filing:1:2",
                SmsTemplate::FilingConsent {
                    plate: "渝A12345".into(),
                },
                t0 + SignedDuration::from_mins(m),
            )
        };
        send(0, "13800001234").unwrap();
        send(2, "13800001234").unwrap();
        send(4, "13800001234").unwrap();
        assert_eq!(refused(send(6, "13800001234")).0, LimitScope::Attempt);
    }

    #[test]
    fn a_kiosk_sends_sixty_codes_an_hour() {
        let conn = schema::open_in_memory().unwrap();
        let t0: Timestamp = "2022-10-24T11:00:00+08:00".parse().unwrap();
        for n in 0..60 {
            send(&conn, "K1", &format!("1380000{n:04}"), t0).unwrap();
        }
        let (scope, wait, said) = refused(send(
            &conn,
            "K1",
            "13900000000",
            t0 + SignedDuration::from_mins(1),
        ));
        assert_eq!((scope, wait), (LimitScope::Kiosk, 3540));
        assert!(
            said.contains("本机发送短信过于频繁，请59分钟后再试"),
            "{said}"
        );
        send(&conn, "K2", "13900000000", t0).unwrap();
    }

    #[test]
    fn a_failed_delivery_leaves_no_usable_code() {
        let conn = schema::open_in_memory().unwrap();
        let now: Timestamp = "2022-10-24T11:00:00+08:00".parse().unwrap();
        let p = send(&conn, "K1", "13800001234", now).unwrap();
        record_delivery(
            &conn,
            p.message.id,
            &Err(SmsError::Delivery("down".into())),
            now,
        )
        .unwrap();
        assert!(matches!(
            consume_code(&conn, "13800001234", "register", &p.message.code, now),
            Err(StoreError::SmsCodeExpired)
        ));
        assert_eq!(outbox(&conn, 1).unwrap()[0].delivery, "failed");
    }

    #[test]
    fn old_rows_are_purged() {
        let conn = schema::open_in_memory().unwrap();
        let g = DemoSmsGateway::default();
        let t0: Timestamp = "2022-10-24T11:00:00+08:00".parse().unwrap();
        issue(&conn, &g, t0);
        purge(&conn, t0 + CODE_VALIDITY).unwrap();
        let h: Option<String> = conn
            .query_row("SELECT code_hash FROM sms_codes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(h, None);
        purge(&conn, t0 + KEEP_FOR_LIMITS).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM sms_codes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn fresh_codes_differ_and_have_six_digits() {
        let codes: std::collections::BTreeSet<String> =
            (0..50).map(|_| fresh_code().unwrap()).collect();
        assert!(codes.len() > 45);
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
    }

    #[test]
    fn the_message_debug_never_shows_the_code_or_the_phone() {
        let m = SmsMessage {
            id: 1,
            phone: "13812345678".into(),
            template: SmsTemplate::Register,
            code: "987654".into(),
            at: Timestamp::UNIX_EPOCH,
        };
        let d = format!("{m:?}");
        assert!(!d.contains("987654") && !d.contains("13812345678"), "{d}");
    }
}
