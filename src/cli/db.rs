//! `kiosk db …`: the local database — init (with the demo city), check, bench.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use jiff::Timestamp;

use super::platform::CLI_PG_POOL_SIZE;
use super::{parse, print_json};
use crate::store::audit::AuditKey;
use crate::store::backend::without_password;
use crate::store::demo::{self, DemoOptions};
use crate::store::{PgPlatform, bench, check, schema};

/// The URL when `--path` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
fn pg_url(path: &std::path::Path) -> Option<&str> {
    path.to_str().filter(|s| schema::is_postgres_url(s))
}

/// The database file when `--path`/`--db` is not given (as in the embedded `kiosk.toml`).
pub const DEFAULT_DB: &str = "kiosk-demo.sqlite3";

#[derive(Parser, Debug)]
#[command(name = "kiosk db", about = "The local database: init, check, bench")]
struct DbCli {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Subcommand, Debug)]
enum DbCommand {
    /// Create (and migrate) the database; with --demo, build the deterministic demo city into it.
    Init {
        /// The SQLite file, or a PostgreSQL database as postgres://USER@HOST:PORT/DB.
        #[arg(long, default_value = DEFAULT_DB)]
        path: PathBuf,
        /// Build the demo city (synthetic persons, vehicles, violations).
        #[arg(long)]
        demo: bool,
        /// Persons in the demo city (the well-known demo persons included); at most 2000000.
        #[arg(long, default_value_t = demo::DEFAULT_DEMO_PERSONS, value_parser = clap::value_parser!(u64).range(..=demo::MAX_DEMO_PERSONS))]
        persons: u64,
        /// Seed of the demo city's PRNG.
        #[arg(long, default_value_t = demo::DEFAULT_DEMO_SEED)]
        seed: u64,
        /// "Today" of the demo city (RFC 3339); default: 09:00 today in UTC+8.
        #[arg(long, value_parser = crate::cli::rules_eval::parse_timestamp)]
        anchor: Option<Timestamp>,
    },
    /// Verify the audit hash chain, each entry's anchor (HMAC under the audit key), that every
    /// decision and payment has its audit entry, and the invariants; exit 1 naming any breach
    /// (the first entry whose anchor fails).
    Check {
        /// The SQLite file, or a PostgreSQL database as postgres://USER@HOST:PORT/DB.
        #[arg(long, default_value = DEFAULT_DB)]
        path: PathBuf,
        /// The audit key file (64 hex digits) the platform anchors with (`[audit] key_file`);
        /// without it, the demo key (a demo database).
        #[arg(long)]
        audit_key: Option<PathBuf>,
    },
    /// Make a new audit key: 32 random bytes as 64 hex digits in FILE (mode 0600, never over an
    /// existing file); prints its id. Give it as `[audit] key_file` (kiosk.toml or the server's
    /// --config) and to `kiosk db check --audit-key`. Keep a copy away from the database.
    AuditKey {
        #[arg(long)]
        out: PathBuf,
    },
    /// Benchmark look-ups and handle+pay on a (large) demo database, beside the bare fsync time.
    Bench {
        #[arg(long, default_value = DEFAULT_DB)]
        path: PathBuf,
        /// Look-ups to time.
        #[arg(long, default_value_t = 2000)]
        lookups: u32,
        /// Handle+pay rounds to time.
        #[arg(long, default_value_t = 200)]
        payments: u32,
    },
}

/// `kiosk db ...` — arguments after `db`.
pub fn run(args: Vec<String>) -> anyhow::Result<i32> {
    let cli: DbCli = match parse("kiosk db", args) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    match cli.command {
        DbCommand::Init {
            path,
            demo: with_demo,
            persons,
            seed,
            anchor,
        } => {
            let opts = DemoOptions {
                persons,
                seed,
                anchor: anchor.unwrap_or_else(demo::today_anchor),
            };
            let started = std::time::Instant::now();
            // A `postgres://` URL: the same schema (and demo city) in PostgreSQL.
            let (shown, summary) = if let Some(url) = pg_url(&path) {
                let p = PgPlatform::connect_demo(url, CLI_PG_POOL_SIZE)
                    .with_context(|| format!("connecting to {}", without_password(url)))?;
                let summary = with_demo.then(|| p.build_demo_city(&opts)).transpose()?;
                (serde_json::json!(without_password(url)), summary)
            } else {
                let mut conn =
                    schema::open(&path).with_context(|| format!("opening {}", path.display()))?;
                let summary = with_demo
                    .then(|| demo::build_city(&mut conn, &opts))
                    .transpose()?;
                (serde_json::json!(path), summary)
            };
            let Some(summary) = summary else {
                print_json(
                    &serde_json::json!({"path": shown, "schema_version": schema::current_version()}),
                )?;
                return Ok(0);
            };
            print_json(&serde_json::json!({
                "path": shown,
                "schema_version": schema::current_version(),
                "summary": summary,
                "seconds": started.elapsed().as_secs_f64(),
            }))?;
            Ok(0)
        }
        DbCommand::AuditKey { out } => {
            let mut key = [0u8; 32];
            super::os_random(&mut key)?;
            let key = AuditKey::write_new(&out, key)?;
            crate::outln!("{}", key.id())?;
            Ok(0)
        }
        DbCommand::Check { path, audit_key } => {
            let key = match &audit_key {
                Some(f) => AuditKey::from_file(f)?,
                None => AuditKey::demo(),
            };
            let report = if let Some(url) = pg_url(&path) {
                PgPlatform::connect_demo(url, CLI_PG_POOL_SIZE)
                    .with_context(|| format!("connecting to {}", without_password(url)))?
                    .with_audit_key(key)
                    .check()?
            } else {
                if !path.exists() {
                    anyhow::bail!("{}: no such database file", path.display());
                }
                let conn = schema::open(&path)?;
                check::run_with(&conn, &key)?
            };
            print_json(&report)?;
            for b in &report.breaches {
                crate::errln!("breach: {}: {}", b.invariant, b.detail);
            }
            Ok(if report.ok() { 0 } else { 1 })
        }
        DbCommand::Bench {
            path,
            lookups,
            payments,
        } => {
            if pg_url(&path).is_some() {
                anyhow::bail!(
                    "`kiosk db bench` measures a SQLite file; give --path FILE (PostgreSQL is measured through the server)"
                );
            }
            let report = bench::run(&path, lookups, payments)?;
            print_json(&report)?;
            Ok(0)
        }
    }
}
