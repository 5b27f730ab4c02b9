//! SMS verification codes behind the [`SmsGateway`] trait.
//!
//! The store records every code it issues in `sms_outbox` (purpose, phone, expiry, when used) and
//! hands the message to the gateway inside the same transaction. [`DemoSmsGateway`] delivers
//! nothing: the outbox row *is* the delivery, and the demo shows it like a development mail
//! catcher (`kiosk platform sms-outbox`). A production gateway sends through the carrier's API.

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use super::sql::{Sql, SqlError};
use crate::sql_params;

/// Wrong tries after which a code is burned (a new one must be requested).
pub const MAX_FAILED_ATTEMPTS: i64 = 5;

/// How long a code stays valid.
pub const CODE_VALIDITY: SignedDuration = SignedDuration::from_mins(5);

/// A message to deliver.
#[derive(Debug, Clone)]
pub struct SmsMessage {
    pub phone: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("短信发送失败，请稍后再试 / The SMS could not be sent, please try again later ({0})")]
    Delivery(String),
}

/// Delivers SMS messages.
pub trait SmsGateway: Send + Sync {
    fn deliver(&self, message: &SmsMessage) -> Result<(), SmsError>;
}

/// The demo gateway: the `sms_outbox` row is the delivery.
#[derive(Debug, Default, Clone, Copy)]
pub struct DemoSmsGateway;

impl SmsGateway for DemoSmsGateway {
    fn deliver(&self, message: &SmsMessage) -> Result<(), SmsError> {
        tracing::info!(phone = %crate::privacy::mask_text(&message.phone), "demo SMS kept in the outbox");
        Ok(())
    }
}

/// A fresh six-digit code: SHA-256 over a per-process random key, the time and a counter.
pub fn fresh_code(now: Timestamp) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut rs = std::collections::hash_map::RandomState::new().build_hasher();
    rs.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut h = Sha256::new();
    h.update(rs.finish().to_le_bytes());
    h.update(now.as_nanosecond().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    let d = h.finalize();
    let n = u32::from_le_bytes([d[0], d[1], d[2], d[3]]) % 1_000_000;
    format!("{n:06}")
}

/// Record a code in the outbox and deliver it (inside the caller's transaction).
pub fn issue_code(
    conn: &dyn Sql,
    gateway: &dyn SmsGateway,
    phone: &str,
    purpose: &str,
    body_template: &str,
    now: Timestamp,
) -> Result<(i64, Timestamp), crate::store::StoreError> {
    let code = fresh_code(now);
    let body = body_template.replace("{code}", &code);
    let expires = now + CODE_VALIDITY;
    let id: i64 = conn.one(
        "INSERT INTO sms_outbox (phone, purpose, code, body, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        &sql_params![phone, purpose, code, &body, now.as_second(), expires.as_second()],
    )?;
    gateway.deliver(&SmsMessage {
        phone: phone.to_string(),
        body,
    })?;
    Ok((id, expires))
}

/// Check `code` against the latest unused, unexpired code for `purpose` to `phone`; mark it used.
/// A wrong code counts an attempt (the caller commits it, see `SqlitePlatform::with_tx`); after
/// [`MAX_FAILED_ATTEMPTS`] the code expires.
pub fn consume_code(
    conn: &dyn Sql,
    phone: &str,
    purpose: &str,
    code: &str,
    now: Timestamp,
) -> Result<(), crate::store::StoreError> {
    let row: Option<(i64, String)> = match conn.query_opt(
        "SELECT id, code FROM sms_outbox WHERE phone = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3 ORDER BY id DESC LIMIT 1",
        &sql_params![phone, purpose, now.as_second()],
    )? {
        Some(r) => Some((r.get(0)?, r.get(1)?)),
        None => None,
    };
    let Some((id, want)) = row else {
        return Err(crate::store::StoreError::SmsCodeExpired);
    };
    if want != code.trim() {
        conn.exec(
            "UPDATE sms_outbox SET failed_attempts = failed_attempts + 1,
                 expires_at = CASE WHEN failed_attempts + 1 >= ?2 THEN ?3 ELSE expires_at END
             WHERE id = ?1",
            &sql_params![id, MAX_FAILED_ATTEMPTS, now.as_second()],
        )?;
        return Err(crate::store::StoreError::SmsCodeWrong);
    }
    conn.exec(
        "UPDATE sms_outbox SET used_at = ?1 WHERE id = ?2",
        &sql_params![now.as_second(), id],
    )?;
    Ok(())
}

/// One outbox row, for the demo's mail-catcher view.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub phone: String,
    pub purpose: String,
    pub code: String,
    pub body: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used: bool,
}

/// The latest `limit` outbox rows, newest first.
pub fn outbox(conn: &dyn Sql, limit: u32) -> Result<Vec<OutboxEntry>, SqlError> {
    conn.query(
        "SELECT id, phone, purpose, code, body, created_at, expires_at, used_at FROM sms_outbox ORDER BY id DESC LIMIT ?1",
        &sql_params![limit],
    )?
    .iter()
    .map(|r| {
        Ok(OutboxEntry {
            id: r.get(0)?,
            phone: r.get(1)?,
            purpose: r.get(2)?,
            code: r.get(3)?,
            body: r.get(4)?,
            created_at: ts(r.get(5)?),
            expires_at: ts(r.get(6)?),
            used: r.get::<Option<i64>>(7)?.is_some(),
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
    use crate::store::{StoreError, schema};

    #[test]
    fn a_code_is_accepted_once_and_refused_when_wrong_or_expired() {
        let conn = schema::open_in_memory().unwrap();
        let now: Timestamp = "2022-10-24T11:00:00+08:00".parse().unwrap();
        issue_code(
            &conn,
            &DemoSmsGateway,
            "13800001234",
            "register",
            "码{code}",
            now,
        )
        .unwrap();
        let code: String = conn
            .query_row("SELECT code FROM sms_outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(code.len(), 6);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        assert!(matches!(
            consume_code(&conn, "13800001234", "register", wrong, now),
            Err(StoreError::SmsCodeWrong)
        ));
        assert!(matches!(
            consume_code(&conn, "13800001234", "other", &code, now),
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
        assert!(out[0].body.contains(&code));
    }

    #[test]
    fn fresh_codes_differ() {
        let now = Timestamp::UNIX_EPOCH;
        let codes: std::collections::BTreeSet<String> = (0..50).map(|_| fresh_code(now)).collect();
        assert!(codes.len() > 45);
    }
}
