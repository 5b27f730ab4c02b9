//! The idempotency ledger of the platform server: per kiosk, an idempotency key → the request's
//! fingerprint (SHA-256 of the operation and its body) → the response once the operation has
//! finished. A retry with the same key and the same request replays the stored response; the same
//! key with another request is refused; a duplicate arriving while the first is still running is
//! told so. A record left in flight by a server instance that died (SIGKILL) is taken over by the
//! next instance, which runs the operation again — the operations are idempotent in the store
//! (a payment by its key, a handling by its violation), so nothing is done twice.
//!
//! [`Ledger`] is the port; [`StoreLedger`] keeps the ledger in the store's own database (table
//! `idempotency`, migration 3 on SQLite and on PostgreSQL), each step one write transaction, so
//! it survives a kill.

use std::path::Path;

use jiff::Timestamp;
use rusqlite::Connection;

use super::backend::{Backend, Pg, Sqlite};
use super::sql::Sql;
use super::{StoreError, schema};
use crate::sql_params;

/// What the ledger says about a request about to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First time for this key (or taken over from a dead instance): run the operation, then
    /// [`Ledger::finish`] or [`Ledger::abandon`].
    Run,
    /// Already answered: send this response again.
    Replay { status: u16, body: Vec<u8> },
    /// The key was used for another request (other operation or parameters).
    Mismatch,
    /// The same request is running now (on this instance, or on another live one).
    InFlight,
}

/// The idempotency ledger's port (a store of key → fingerprint → response).
pub trait Ledger: Send + Sync {
    /// Record that `instance` starts the request `fingerprint` under (`kiosk`, `key`), or say why
    /// it must not run.
    fn begin(
        &self,
        kiosk: &str,
        key: &str,
        fingerprint: &str,
        instance: &str,
        now: Timestamp,
    ) -> Result<Begin, StoreError>;
    /// Keep the response of a finished request, for replays.
    fn finish(
        &self,
        kiosk: &str,
        key: &str,
        instance: &str,
        status: u16,
        body: &[u8],
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Forget an in-flight record whose operation failed for a passing reason (a retry runs again).
    fn abandon(&self, kiosk: &str, key: &str, instance: &str) -> Result<(), StoreError>;
    /// Drop finished records older than `before` (a retry comes within minutes, not days).
    fn purge(&self, before: Timestamp) -> Result<usize, StoreError>;
}

/// The ledger in the store's own database, on either backend: each step is one write
/// transaction (`IMMEDIATE` on SQLite; `SERIALIZABLE`, retried on conflict, on PostgreSQL, so two
/// instances beginning one key at once see one `Run` and one `InFlight`).
pub struct StoreLedger<B: Backend> {
    backend: B,
}

/// The ledger in a SQLite file.
pub type SqliteLedger = StoreLedger<Sqlite>;
/// The ledger in the city's PostgreSQL database.
pub type PgLedger = StoreLedger<Pg>;

impl<B: Backend> std::fmt::Debug for StoreLedger<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLedger")
            .field("backend", &self.backend.describe())
            .finish()
    }
}

impl SqliteLedger {
    /// Open the ledger in the database file at `path` (configured and migrated).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self::with_connection(schema::open(path)?))
    }

    pub fn with_connection(conn: Connection) -> Self {
        StoreLedger {
            backend: Sqlite::new(conn),
        }
    }
}

impl PgLedger {
    /// The ledger in the PostgreSQL database at `url` (migrated), over its own small pool.
    pub fn connect(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        Ok(StoreLedger {
            backend: Pg::connect(url, pool_size)?,
        })
    }
}

impl<B: Backend> StoreLedger<B> {
    fn write<T>(
        &self,
        mut f: impl FnMut(&dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.backend.write(&mut f)
    }
}

impl<B: Backend> Ledger for StoreLedger<B> {
    fn begin(
        &self,
        kiosk: &str,
        key: &str,
        fingerprint: &str,
        instance: &str,
        now: Timestamp,
    ) -> Result<Begin, StoreError> {
        self.write(|tx| {
            let row = tx.query_opt(
                "SELECT fingerprint, instance, state, status, response FROM idempotency
                 WHERE kiosk_id = ?1 AND key = ?2",
                &sql_params![kiosk, key],
            )?;
            let Some(row) = row else {
                tx.exec(
                    "INSERT INTO idempotency (kiosk_id, key, fingerprint, instance, state,
                         created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 'in_flight', ?5, ?5)",
                    &sql_params![kiosk, key, fingerprint, instance, now.as_second()],
                )?;
                return Ok(Begin::Run);
            };
            let fp: String = row.get(0)?;
            let owner: String = row.get(1)?;
            let state: String = row.get(2)?;
            let status: Option<i64> = row.get(3)?;
            let response: Option<Vec<u8>> = row.get(4)?;
            if fp != fingerprint {
                return Ok(Begin::Mismatch);
            }
            if state == "done" {
                let status = status.and_then(|s| u16::try_from(s).ok()).ok_or_else(|| {
                    StoreError::Corrupt("idempotency record without status".into())
                })?;
                return Ok(Begin::Replay {
                    status,
                    body: response.unwrap_or_default(),
                });
            }
            if owner == instance {
                return Ok(Begin::InFlight);
            }
            // In flight on an instance that is gone (one server per database: a record of
            // another instance was left by a killed predecessor): take it over and run again.
            tx.exec(
                "UPDATE idempotency SET instance = ?3, updated_at = ?4
                 WHERE kiosk_id = ?1 AND key = ?2",
                &sql_params![kiosk, key, instance, now.as_second()],
            )?;
            Ok(Begin::Run)
        })
    }

    fn finish(
        &self,
        kiosk: &str,
        key: &str,
        instance: &str,
        status: u16,
        body: &[u8],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.exec(
                "UPDATE idempotency SET state = 'done', status = ?4, response = ?5, updated_at = ?6
                 WHERE kiosk_id = ?1 AND key = ?2 AND instance = ?3 AND state = 'in_flight'",
                &sql_params![
                    kiosk,
                    key,
                    instance,
                    i64::from(status),
                    body,
                    now.as_second()
                ],
            )?;
            Ok(())
        })
    }

    fn abandon(&self, kiosk: &str, key: &str, instance: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.exec(
                "DELETE FROM idempotency
                 WHERE kiosk_id = ?1 AND key = ?2 AND instance = ?3 AND state = 'in_flight'",
                &sql_params![kiosk, key, instance],
            )?;
            Ok(())
        })
    }

    fn purge(&self, before: Timestamp) -> Result<usize, StoreError> {
        self.write(|tx| {
            let n = tx.exec(
                "DELETE FROM idempotency WHERE state = 'done' AND updated_at < ?1",
                &sql_params![before.as_second()],
            )?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> SqliteLedger {
        SqliteLedger::with_connection(schema::open_in_memory().unwrap())
    }

    #[test]
    fn a_key_runs_once_replays_refuses_other_requests_and_survives_its_instance() {
        let l = ledger();
        let now = Timestamp::UNIX_EPOCH;
        assert_eq!(l.begin("K1", "k", "fp", "i1", now).unwrap(), Begin::Run);
        assert_eq!(
            l.begin("K1", "k", "fp", "i1", now).unwrap(),
            Begin::InFlight
        );
        assert_eq!(
            l.begin("K1", "k", "other", "i1", now).unwrap(),
            Begin::Mismatch
        );
        // Another kiosk's key space is its own.
        assert_eq!(l.begin("K2", "k", "other", "i1", now).unwrap(), Begin::Run);
        // A killed instance's record is taken over by the next one.
        assert_eq!(l.begin("K1", "k", "fp", "i2", now).unwrap(), Begin::Run);
        // The old instance can no longer finish it; the new one does.
        l.finish("K1", "k", "i1", 200, b"old", now).unwrap();
        l.finish("K1", "k", "i2", 200, b"{}", now).unwrap();
        assert_eq!(
            l.begin("K1", "k", "fp", "i3", now).unwrap(),
            Begin::Replay {
                status: 200,
                body: b"{}".to_vec()
            }
        );
        assert_eq!(
            l.begin("K1", "k", "fp2", "i3", now).unwrap(),
            Begin::Mismatch
        );
        // An abandoned request runs again.
        l.abandon("K2", "k", "i1").unwrap();
        assert_eq!(l.begin("K2", "k", "x", "i1", now).unwrap(), Begin::Run);
        assert_eq!(
            l.purge(now + jiff::SignedDuration::from_secs(1)).unwrap(),
            1
        );
        assert_eq!(l.begin("K1", "k", "fp2", "i3", now).unwrap(), Begin::Run);
    }
}
