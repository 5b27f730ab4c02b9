//! Where the store's transactions run: the [`Backend`] trait and its two implementations.
//!
//! The operations (`platform::ops`, `rows`, `notify`, `jobs`, `audit`, `sms`, `check`, `demo`) are
//! written once against [`Sql`]; a backend only opens a transaction, hands it to them, and commits:
//!
//! - [`Sqlite`]: one connection to one file; a write is one `IMMEDIATE` transaction (the write
//!   lock taken at the start, so counts read inside it cannot change before the write; other
//!   processes wait up to the busy timeout), a read one deferred (snapshot) transaction.
//! - [`Pg`]: an r2d2 pool of sync `postgres` connections; a write is one `SERIALIZABLE`
//!   transaction, run again from the start (at most [`PG_WRITE_ATTEMPTS`] times, with a short
//!   random back-off) when PostgreSQL reports a serialization failure (40001), a deadlock (40P01)
//!   or a unique key taken by a concurrent transaction (23505); every operation re-reads what it
//!   needs, so a retry answers as a repeated request would. A read is `REPEATABLE READ, READ
//!   ONLY`. The sync `postgres` client runs its own small runtime: never call it from inside a
//!   tokio worker thread (use `spawn_blocking`).

use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;
use super::schema::{self, SchemaError};
use super::sql::{PgTx, PreparedCache, Sql};

/// The body of one transaction: it may run more than once on PostgreSQL (a retried conflict),
/// so it must not keep effects outside the transaction but idempotent ones.
pub type TxBody<'f, T> = dyn FnMut(&dyn Sql) -> Result<T, StoreError> + 'f;

/// A database the store's operations run on.
pub trait Backend: Send + Sync + 'static {
    /// One write transaction: commit when `f` returns `Ok` (or an error that
    /// [keeps its writes](StoreError::keeps_writes)), roll back otherwise.
    fn write<T>(&self, f: &mut TxBody<'_, T>) -> Result<T, StoreError>;
    /// One read-only snapshot transaction.
    fn read<T>(&self, f: &mut TxBody<'_, T>) -> Result<T, StoreError>;
    /// A name for logs and `Debug`.
    fn describe(&self) -> String;
}

/// Commit when the body succeeded, or failed with an error that keeps its writes; otherwise roll
/// back (the one place that decides, for both backends).
fn settle<Tx, T, E>(
    tx: Tx,
    out: Result<T, StoreError>,
    commit: fn(Tx) -> Result<(), E>,
    rollback: fn(Tx),
) -> Result<T, StoreError>
where
    StoreError: From<E>,
{
    match out {
        Ok(v) => {
            commit(tx)?;
            Ok(v)
        }
        Err(e) if e.keeps_writes() => {
            commit(tx)?;
            Err(e)
        }
        Err(e) => {
            rollback(tx);
            Err(e)
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// One SQLite connection (a kiosk's own file, shared safely by several processes).
pub struct Sqlite {
    conn: Mutex<Connection>,
}

impl Sqlite {
    /// On a connection already configured and migrated ([`schema::open`]).
    pub fn new(conn: Connection) -> Self {
        Sqlite {
            conn: Mutex::new(conn),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn tx<T>(&self, behavior: TransactionBehavior, f: &mut TxBody<'_, T>) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(behavior)?;
        let out = f(&tx);
        // Dropping a rusqlite transaction rolls it back.
        settle(tx, out, rusqlite::Transaction::commit, drop)
    }

    /// The connection itself, for SQLite-only tools and tests.
    pub fn with_connection_ref<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&self.lock())
    }

    /// The connection itself, mutably (SQLite-only tools: the demo city builder).
    pub fn with_connection_mut<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&mut self.lock())
    }
}

impl Backend for Sqlite {
    fn write<T>(&self, f: &mut TxBody<'_, T>) -> Result<T, StoreError> {
        self.tx(TransactionBehavior::Immediate, f)
    }

    fn read<T>(&self, f: &mut TxBody<'_, T>) -> Result<T, StoreError> {
        self.tx(TransactionBehavior::Deferred, f)
    }

    fn describe(&self) -> String {
        "sqlite".into()
    }
}

// ---------------------------------------------------------------------------------------------

/// How many times a PostgreSQL write transaction is attempted before its conflict is reported.
pub const PG_WRITE_ATTEMPTS: u32 = 30;

static PG_RETRIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many PostgreSQL write transactions this process has run again after a conflict (for
/// measurements and the race tests).
pub fn pg_conflicts_retried() -> u64 {
    PG_RETRIES.load(std::sync::atomic::Ordering::Relaxed)
}

/// The pool size when none is configured.
pub const DEFAULT_PG_POOL_SIZE: u32 = 8;

type PgPool = r2d2::Pool<PgManager>;

/// r2d2_postgres' manager, with each connection's prepared statements kept beside it.
pub struct PgManager(r2d2_postgres::PostgresConnectionManager<postgres::NoTls>);

/// A pooled PostgreSQL connection and the statements prepared on it.
pub struct PgConnection {
    client: postgres::Client,
    prepared: PreparedCache,
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConnection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConnection, postgres::Error> {
        Ok(PgConnection {
            client: self.0.connect()?,
            prepared: PreparedCache::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConnection) -> Result<(), postgres::Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}

/// A pool of PostgreSQL connections (the city server's record).
pub struct Pg {
    pool: PgPool,
    /// The URL without its password, for logs.
    shown: String,
}

impl Pg {
    /// Connect (a pool of `pool_size` connections) and migrate. `url` is
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DB`.
    pub fn connect(url: &str, pool_size: u32) -> Result<Self, SchemaError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| SchemaError::BadUrl(format!("{e}")))?;
        let manager = PgManager(r2d2_postgres::PostgresConnectionManager::new(
            config,
            postgres::NoTls,
        ));
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)?;
        let mut conn = pool.get()?;
        schema::migrate_pg(&mut conn.client)?;
        drop(conn);
        Ok(Pg {
            pool,
            shown: without_password(url),
        })
    }

    /// How many connections the pool holds at most.
    pub fn pool_size(&self) -> u32 {
        self.pool.max_size()
    }

    fn run<T>(&self, write: bool, f: &mut TxBody<'_, T>) -> Result<T, StoreError> {
        let attempts = if write { PG_WRITE_ATTEMPTS } else { 1 };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let out = self.attempt(write, f);
            match out {
                Err(e) if attempt < attempts && e.is_retryable_conflict() => {
                    PG_RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::debug!(attempt, error = %e, "write conflict; running the transaction again");
                    std::thread::sleep(backoff(attempt));
                }
                out => return out,
            }
        }
    }

    fn attempt<T>(&self, write: bool, f: &mut TxBody<'_, T>) -> Result<T, StoreError> {
        let mut conn = self.pool.get().map_err(StoreError::Pool)?;
        let PgConnection { client, prepared } = &mut *conn;
        let tx = client
            .build_transaction()
            .isolation_level(if write {
                postgres::IsolationLevel::Serializable
            } else {
                postgres::IsolationLevel::RepeatableRead
            })
            .read_only(!write)
            .start()?;
        let tx = PgTx::new(tx, prepared);
        let out = f(&tx);
        // A failed rollback leaves nothing behind: the server aborts the transaction.
        settle(tx, out, PgTx::commit, |tx| drop(tx.rollback()))
    }
}

/// 1–2 ms, then up to 2^attempt ms (capped at 50 ms), jittered so racing writers drift apart.
fn backoff(attempt: u32) -> Duration {
    let cap = (1u64 << attempt.min(6)).min(50);
    let jitter = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos(),
    ) % (cap * 1000);
    Duration::from_micros(1000 + jitter)
}

/// A database URL without its password, for logs and output.
pub fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

impl Backend for Pg {
    fn write<T>(&self, f: &mut TxBody<'_, T>) -> Result<T, StoreError> {
        self.run(true, f)
    }

    fn read<T>(&self, f: &mut TxBody<'_, T>) -> Result<T, StoreError> {
        self.run(false, f)
    }

    fn describe(&self) -> String {
        format!("postgres {}", self.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            without_password("postgres://kiosk:s3cret@db:5432/city"),
            "postgres://kiosk@db:5432/city"
        );
        assert_eq!(
            without_password("postgres://kiosk@db:5432/city"),
            "postgres://kiosk@db:5432/city"
        );
        assert_eq!(
            without_password("postgres://kiosk:p@ss@db/city"),
            "postgres://kiosk@db/city",
            "an @ in the password"
        );
        assert_eq!(without_password("postgres://db/city"), "postgres://db/city");
    }

    #[test]
    fn the_backoff_stays_short() {
        for a in 1..40 {
            assert!(backoff(a) <= Duration::from_millis(51));
        }
    }
}
