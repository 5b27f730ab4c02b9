//! The append-only audit log: every state change appends one entry inside the same transaction,
//! chained by SHA-256 (`hash = SHA-256(prev_hash | seq | at | action | subject | detail)`), so a
//! removed, edited or reordered entry breaks the chain at that point.
//!
//! Entries name rows by their internal ids and numbers, never by ID number, name or phone.

use sha2::{Digest, Sha256};

use super::sql::{Sql, SqlError};
use crate::sql_params;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn entry_hash(prev: &str, seq: i64, at: i64, action: &str, subject: &str, detail: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        prev.as_bytes(),
        seq.to_string().as_bytes(),
        at.to_string().as_bytes(),
        action.as_bytes(),
        subject.as_bytes(),
        detail.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// Append one entry (call inside the operation's transaction).
///
/// On PostgreSQL two concurrent appends read the same last entry; the serializable transaction
/// (and the primary key on `seq`) lets one commit and makes the other run again, so the chain
/// never forks.
pub fn append(
    conn: &dyn Sql,
    at: i64,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<(), SqlError> {
    let last: Option<(i64, String)> = match conn.query_opt(
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
        &[],
    )? {
        Some(r) => Some((r.get(0)?, r.get(1)?)),
        None => None,
    };
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let detail = detail.to_string();
    let hash = entry_hash(&prev, seq, at, action, subject, &detail);
    conn.exec(
        "INSERT INTO audit_log (seq, at, action, subject, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &sql_params![seq, at, action, subject, detail, prev, hash],
    )?;
    Ok(())
}

/// A break in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreach {
    pub seq: i64,
    pub what: String,
}

/// Entries read per query while walking the chain.
const PAGE: i64 = 5000;

/// Walk the whole chain (a page at a time); returns the number of entries or the first breach.
pub fn verify(conn: &dyn Sql) -> Result<Result<u64, ChainBreach>, SqlError> {
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1i64;
    let mut n = 0u64;
    let mut after = i64::MIN;
    loop {
        let page = conn.query(
        "SELECT seq, at, action, subject, detail, prev_hash, hash FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        &sql_params![after, PAGE],
    )?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.get(0)?;
        for r in &page {
            let seq: i64 = r.get(0)?;
            let at: i64 = r.get(1)?;
            let action: String = r.get(2)?;
            let subject: String = r.get(3)?;
            let detail: String = r.get(4)?;
            let prev_hash: String = r.get(5)?;
            let hash: String = r.get(6)?;
            if seq != expected_seq {
                return Ok(Err(ChainBreach {
                    seq,
                    what: format!("entry {expected_seq} is missing"),
                }));
            }
            if prev_hash != prev {
                return Ok(Err(ChainBreach {
                    seq,
                    what: "prev_hash does not match the previous entry".into(),
                }));
            }
            if entry_hash(&prev, seq, at, &action, &subject, &detail) != hash {
                return Ok(Err(ChainBreach {
                    seq,
                    what: "hash does not match the entry's content".into(),
                }));
            }
            prev = hash;
            expected_seq += 1;
            n += 1;
        }
    }
    Ok(Ok(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;

    #[test]
    fn an_intact_chain_verifies_and_an_edited_entry_is_named() {
        let conn = schema::open_in_memory().unwrap();
        for i in 0..5 {
            append(
                &conn,
                i,
                "test",
                &format!("s{i}"),
                &serde_json::json!({"i": i}),
            )
            .unwrap();
        }
        assert_eq!(verify(&conn).unwrap(), Ok(5));
        // Tamper behind the triggers' back (an attacker with the file).
        conn.execute_batch(
            "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = '{\"i\":9}' WHERE seq = 3;",
        )
        .unwrap();
        let breach = verify(&conn).unwrap().unwrap_err();
        assert_eq!(breach.seq, 3);
    }

    #[test]
    fn a_deleted_entry_breaks_the_chain() {
        let conn = schema::open_in_memory().unwrap();
        for i in 0..4 {
            append(&conn, i, "test", "s", &serde_json::json!({})).unwrap();
        }
        conn.execute_batch(
            "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2;",
        )
        .unwrap();
        let breach = verify(&conn).unwrap().unwrap_err();
        assert_eq!(breach.seq, 3);
        assert!(breach.what.contains("missing"));
    }
}
