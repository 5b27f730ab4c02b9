//! The append-only audit log: every state change appends one entry inside the same transaction,
//! chained by SHA-256 (`hash = SHA-256(prev_hash | seq | at | action | subject | detail)`), so a
//! removed, edited or reordered entry breaks the chain at that point.
//!
//! The database alone can recompute that chain, so each entry is also *anchored*: an
//! HMAC-SHA256 with a key the database does not hold ([`AuditKey`], from a key file; the demo
//! uses a key derived from a public seed) over the entry's `seq` and `hash`, in the append-only
//! table `audit_anchors` (migration 7). An entry edited and the chain recomputed with SQL no
//! longer matches its anchor; an entry appended with SQL has none. The platform anchors every
//! entry its write transaction appended, inside that transaction ([`anchor_after`]).
//!
//! Entries name rows by their internal ids and numbers, never by ID number, name or phone.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::sql::{Sql, SqlError};
use crate::sql_params;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain's hash of one entry (public: anyone can recompute it; the anchor is what they cannot).
pub fn entry_hash(
    prev: &str,
    seq: i64,
    at: i64,
    action: &str,
    subject: &str,
    detail: &str,
) -> String {
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

/// The key anchoring the audit chain. `Debug` shows its id only.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey {
    key: [u8; 32],
    id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", self.id)
    }
}

/// Why an audit key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuditKeyError {
    #[error("cannot read the audit key file {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error(
        "the audit key file {0} must hold 64 hex digits (32 bytes) and nothing else; make one with `kiosk db audit-key --out FILE`"
    )]
    Form(String),
    #[error("cannot write the audit key file {path}: {cause}")]
    Write { path: String, cause: std::io::Error },
}

/// The seed of the demo key (public: only a demo database is anchored with it).
const DEMO_KEY_SEED: &[u8] = b"kiosk demo audit key v1 (public; demo mode only)";

impl AuditKey {
    pub fn from_bytes(key: [u8; 32]) -> Self {
        let mut h = Sha256::new();
        h.update(b"kiosk audit key id");
        h.update(key);
        let id = hex::encode(&h.finalize()[..8]);
        AuditKey { key, id }
    }

    /// The demo key, derived from a public seed.
    pub fn demo() -> Self {
        let d = Sha256::digest(DEMO_KEY_SEED);
        let mut key = [0u8; 32];
        key.copy_from_slice(&d);
        Self::from_bytes(key)
    }

    pub fn is_demo(&self) -> bool {
        *self == Self::demo()
    }

    /// A short public name of the key (stored beside each anchor; never the key).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Read a key file: 64 hex digits (surrounding white space allowed), at most 4 KiB read.
    pub fn from_file(path: &std::path::Path) -> Result<Self, AuditKeyError> {
        use std::io::Read as _;
        let shown = path.display().to_string();
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(4096).read_to_string(&mut text))
            .map_err(|cause| AuditKeyError::Read {
                path: shown.clone(),
                cause,
            })?;
        let bytes = hex::decode(text.trim()).map_err(|_| AuditKeyError::Form(shown.clone()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| AuditKeyError::Form(shown.clone()))?;
        Ok(Self::from_bytes(key))
    }

    /// Write `key` as a new key file (never over an existing file; mode 0600).
    pub fn write_new(path: &std::path::Path, key: [u8; 32]) -> Result<Self, AuditKeyError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let w = |cause| AuditKeyError::Write {
            path: path.display().to_string(),
            cause,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(w)?;
        f.write_all(format!("{}\n", hex::encode(key)).as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(w)?;
        Ok(Self::from_bytes(key))
    }

    /// The anchor of entry `seq` whose hash is `hash`.
    pub fn mac(&self, seq: i64, hash: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&seq.to_be_bytes());
        mac.update(hash.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Sorted ids as inclusive ranges `[lo, hi]` (an audit entry naming many rows compactly).
pub fn id_ranges(sorted: &[i64]) -> Vec<[i64; 2]> {
    let mut out: Vec<[i64; 2]> = Vec::new();
    for &id in sorted {
        match out.last_mut() {
            Some(r) if r[1].checked_add(1) == Some(id) => r[1] = id,
            _ => out.push([id, id]),
        }
    }
    out
}

/// The last entry's `seq` (0 for an empty log): where a transaction's own entries begin.
pub fn last_seq(conn: &dyn Sql) -> Result<i64, SqlError> {
    conn.one("SELECT coalesce(max(seq), 0) FROM audit_log", &[])
}

/// Anchor, with `key`, every entry after `after` that has no anchor yet (call inside the
/// transaction that appended them, with `after` read at its start: entries someone else
/// appended before stay unanchored, and `db check` names them).
pub fn anchor_after(conn: &dyn Sql, key: &AuditKey, after: i64) -> Result<usize, SqlError> {
    let rows = conn.query(
        "SELECT l.seq, l.hash FROM audit_log l LEFT JOIN audit_anchors a ON a.seq = l.seq
         WHERE l.seq > ?1 AND a.seq IS NULL ORDER BY l.seq",
        &sql_params![after],
    )?;
    for r in &rows {
        let seq: i64 = r.get(0)?;
        let hash: String = r.get(1)?;
        conn.exec(
            "INSERT INTO audit_anchors (seq, key_id, mac) VALUES (?1, ?2, ?3)",
            &sql_params![seq, key.id(), key.mac(seq, &hash)],
        )?;
    }
    Ok(rows.len())
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
) -> Result<i64, SqlError> {
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
    Ok(seq)
}

/// A break in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreach {
    pub seq: i64,
    pub what: String,
}

/// Entries read per query while walking the chain.
const PAGE: i64 = 5000;

/// Walk the whole chain (a page at a time) with the demo key; see [`verify_with`].
pub fn verify(conn: &dyn Sql) -> Result<Result<u64, ChainBreach>, SqlError> {
    verify_with(conn, &AuditKey::demo(), &mut |_, _, _| {})
}

/// Walk the whole chain (a page at a time), each entry's hash and its anchor under `key`;
/// returns the number of entries or the first breach. `each(action, subject, detail)` sees
/// every entry that held (the coverage check collects what they name).
pub fn verify_with(
    conn: &dyn Sql,
    key: &AuditKey,
    each: &mut dyn FnMut(&str, &str, &str),
) -> Result<Result<u64, ChainBreach>, SqlError> {
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1i64;
    let mut n = 0u64;
    let mut after = i64::MIN;
    loop {
        let page = conn.query(
            "SELECT l.seq, l.at, l.action, l.subject, l.detail, l.prev_hash, l.hash, a.key_id, a.mac
             FROM audit_log l LEFT JOIN audit_anchors a ON a.seq = l.seq
             WHERE l.seq > ?1 ORDER BY l.seq LIMIT ?2",
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
            let key_id: Option<String> = r.get(7)?;
            let mac: Option<String> = r.get(8)?;
            let breach = |what: String| Ok(Err(ChainBreach { seq, what }));
            if seq != expected_seq {
                return breach(format!("entry {expected_seq} is missing"));
            }
            if prev_hash != prev {
                return breach("prev_hash does not match the previous entry".into());
            }
            if entry_hash(&prev, seq, at, &action, &subject, &detail) != hash {
                return breach("hash does not match the entry's content".into());
            }
            match (key_id, mac) {
                (Some(id), Some(mac)) => {
                    if id != key.id() {
                        return breach(format!(
                            "anchored with audit key {id}, not with the key given ({}{}); give the key file with --audit-key",
                            key.id(),
                            if key.is_demo() { ", the demo key" } else { "" }
                        ));
                    }
                    let want = key.mac(seq, &hash);
                    let same = want.len() == mac.len()
                        && want
                            .bytes()
                            .zip(mac.bytes())
                            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                            == 0;
                    if !same {
                        return breach(
                            "its anchor (HMAC) does not match: the entry was edited and the chain recomputed".into(),
                        );
                    }
                }
                _ => {
                    return breach(
                        "has no anchor: it was not appended by the platform (inserted with SQL?)"
                            .into(),
                    );
                }
            }
            each(&action, &subject, &detail);
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
        anchor_after(&conn, &AuditKey::demo(), 0).unwrap();
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
        anchor_after(&conn, &AuditKey::demo(), 0).unwrap();
        conn.execute_batch(
            "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2;",
        )
        .unwrap();
        let breach = verify(&conn).unwrap().unwrap_err();
        assert_eq!(breach.seq, 3);
        assert!(breach.what.contains("missing"));
    }

    #[test]
    fn a_recomputed_chain_fails_its_anchor_and_an_entry_without_one_is_named() {
        let conn = schema::open_in_memory().unwrap();
        let key = AuditKey::from_bytes([5u8; 32]);
        for i in 0..4 {
            append(&conn, i, "test", "s", &serde_json::json!({"i": i})).unwrap();
        }
        anchor_after(&conn, &key, 0).unwrap();
        let ok = verify_with(&conn, &key, &mut |_, _, _| {}).unwrap();
        assert_eq!(ok, Ok(4));
        // The demo key (or any other) is not the one that anchored it.
        let other = verify(&conn).unwrap().unwrap_err();
        assert!(other.what.contains("not with the key given"), "{other:?}");
        // Rewrite entry 2 and recompute every hash after it, as an attacker with SQL would.
        conn.execute_batch("DROP TRIGGER audit_log_no_update;")
            .unwrap();
        let mut prev: String = conn
            .query_row("SELECT hash FROM audit_log WHERE seq = 1", [], |r| r.get(0))
            .unwrap();
        for seq in 2..=4i64 {
            let (at, action, subject, mut detail): (i64, String, String, String) = conn
                .query_row(
                    "SELECT at, action, subject, detail FROM audit_log WHERE seq = ?1",
                    [seq],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .unwrap();
            if seq == 2 {
                detail = "{\"i\":99}".into();
            }
            let hash = entry_hash(&prev, seq, at, &action, &subject, &detail);
            conn.execute(
                "UPDATE audit_log SET detail = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
                rusqlite::params![detail, prev, hash, seq],
            )
            .unwrap();
            prev = hash;
        }
        let b = verify_with(&conn, &key, &mut |_, _, _| {})
            .unwrap()
            .unwrap_err();
        assert_eq!(b.seq, 2);
        assert!(b.what.contains("anchor"), "{b:?}");
        // An entry appended with SQL (the chain extended correctly) has no anchor.
        let conn = schema::open_in_memory().unwrap();
        append(&conn, 1, "test", "s", &serde_json::json!({})).unwrap();
        anchor_after(&conn, &key, 0).unwrap();
        let before = last_seq(&conn).unwrap();
        append(&conn, 2, "pay", "decision:forged", &serde_json::json!({})).unwrap();
        // A later transaction anchors only its own entries.
        append(&conn, 3, "test", "s", &serde_json::json!({})).unwrap();
        let mine = last_seq(&conn).unwrap();
        anchor_after(&conn, &key, mine - 1).unwrap();
        assert_eq!(before, 1);
        let b = verify_with(&conn, &key, &mut |_, _, _| {})
            .unwrap()
            .unwrap_err();
        assert_eq!(b.seq, 2);
        assert!(b.what.contains("no anchor"), "{b:?}");
    }
}
