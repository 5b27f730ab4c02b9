//! `kiosk db …` and `kiosk platform …`: the operator's edge of the store. Every platform verb
//! prints one JSON document on standard output; a refusal prints `{"error": code, "kind": …,
//! "message": …}` and exits 1; a usage error exits 2.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use jiff::Timestamp;
use serde::Serialize;

use super::demo::{self, DemoOptions};
use super::platform::*;
use super::{StoreError, bench, check, schema, sms};
use crate::domain::IdNumber;

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
    /// Verify the audit hash chain and the invariants; exit 1 naming any breach.
    Check {
        #[arg(long, default_value = DEFAULT_DB)]
        path: PathBuf,
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

#[derive(Parser, Debug)]
#[command(
    name = "kiosk platform",
    about = "Operator verbs against the platform store, printing JSON"
)]
struct PlatformCli {
    /// The database file.
    #[arg(long, global = true, default_value = DEFAULT_DB)]
    db: PathBuf,
    /// The time of the operation (RFC 3339); default: the real clock.
    #[arg(long, global = true, value_parser = crate::cli::rules_eval::parse_timestamp)]
    now: Option<Timestamp>,
    #[command(subcommand)]
    command: PlatformCommand,
}

#[derive(clap::Args, Debug)]
struct VehicleArgs {
    /// Plate number, e.g. 渝A8K2L6.
    #[arg(long)]
    plate: String,
    /// Plate type code (号牌种类), e.g. 02 small car, 52 small new-energy.
    #[arg(long, default_value = "02")]
    plate_type: String,
}

impl VehicleArgs {
    fn key(&self) -> VehicleKey {
        VehicleKey {
            plate: self.plate.trim().to_uppercase(),
            plate_type: self.plate_type.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
enum PlatformCommand {
    /// Look a person up by ID number.
    Person {
        #[arg(long)]
        id: String,
    },
    /// The person's vehicles with the relation.
    Vehicles {
        #[arg(long)]
        id: String,
    },
    /// A vehicle's pending violations with the rule core's decision, and its unpaid decisions.
    Violations {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        vehicle: VehicleArgs,
    },
    /// Send a registration SMS code to a phone.
    SendRegisterCode {
        #[arg(long)]
        phone: String,
    },
    /// Register as a user with phone + SMS code.
    Register {
        #[arg(long)]
        id: String,
        #[arg(long)]
        phone: String,
        #[arg(long)]
        code: String,
    },
    /// Send a filing SMS code to the vehicle's owner (a unit's vehicle: its manager phone).
    SendFilingCode {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        vehicle: VehicleArgs,
    },
    /// File another person's vehicle by a vehicle-QR token, or by the SMS code sent to the owner.
    File {
        #[arg(long)]
        id: String,
        #[arg(long, conflicts_with_all = ["plate", "code"])]
        token: Option<String>,
        #[arg(long, requires = "code")]
        plate: Option<String>,
        #[arg(long, default_value = "02")]
        plate_type: String,
        #[arg(long, requires = "plate")]
        code: Option<String>,
    },
    /// Approve or reject a pending filing.
    Review {
        #[arg(long)]
        filing: i64,
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        approve: bool,
        #[arg(long)]
        reject: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// The person's filings and the active filings on their vehicles.
    Filings {
        #[arg(long)]
        id: String,
    },
    /// The owner removes a filed driver from their vehicle.
    RemoveDriver {
        /// The owner's ID number.
        #[arg(long)]
        id: String,
        #[arg(long)]
        filing: i64,
    },
    /// Withdraw a filing.
    Unfile {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        vehicle: VehicleArgs,
    },
    /// Handle selected violations (in the order given).
    Handle {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        vehicle: VehicleArgs,
        #[arg(long = "violation", required = true)]
        violations: Vec<String>,
        #[arg(long, default_value = "operator")]
        kiosk: String,
    },
    /// Pay one decision, exactly once per idempotency key.
    Pay {
        #[arg(long)]
        decision: String,
        #[arg(long)]
        key: String,
        #[arg(long, default_value = "demo")]
        method: String,
    },
    /// Revert kiosk handlings unpaid after 2 hours.
    RevertDue,
    /// Record feedback.
    Feedback {
        #[arg(long)]
        id: Option<String>,
        #[arg(long, default_value = "general")]
        category: String,
        #[arg(long, default_value = "operator")]
        kiosk: String,
        #[arg(long)]
        text: String,
    },
    /// The demo SMS outbox, newest first (like a development mail catcher).
    SmsOutbox {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Issue a vehicle QR token for one of the owner's vehicles (demo key).
    IssueQr {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        vehicle: VehicleArgs,
    },
    /// Verify a vehicle QR token and print its claims.
    VerifyQr {
        #[arg(long)]
        token: String,
    },
    /// Reprint a kept receipt.
    Receipt {
        #[arg(long)]
        decision: String,
        /// handling or payment.
        #[arg(long, default_value = "payment")]
        kind: ReceiptKind,
    },
    /// The well-known demo persons (the simulator's cards).
    DemoPersons,
    /// Crash-safety test worker: handles and pays practice violations until killed.
    #[command(hide = true)]
    CrashLoopWorker {
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = 400)]
        violations: u32,
    },
}

/// Parse `args` with clap; on a usage error or `--help`, print it and give the exit status.
fn parse<T: Parser>(name: &str, args: Vec<String>) -> Result<T, i32> {
    let argv = std::iter::once(name.to_string()).chain(args);
    T::try_parse_from(argv).map_err(|e| {
        let code = if e.use_stderr() { 2 } else { 0 };
        let _ = e.print();
        code
    })
}

fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)
        .context("writing to standard output")?;
    Ok(())
}

/// `kiosk db ...` — arguments after `db`.
pub fn run_db(args: Vec<String>) -> anyhow::Result<i32> {
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
            let mut conn =
                schema::open(&path).with_context(|| format!("opening {}", path.display()))?;
            if !with_demo {
                print_json(
                    &serde_json::json!({"path": path, "schema_version": schema::current_version()}),
                )?;
                return Ok(0);
            }
            let started = std::time::Instant::now();
            let summary = demo::build_city(
                &mut conn,
                &DemoOptions {
                    persons,
                    seed,
                    anchor: anchor.unwrap_or_else(demo::today_anchor),
                },
            )?;
            print_json(&serde_json::json!({
                "path": path,
                "schema_version": schema::current_version(),
                "summary": summary,
                "seconds": started.elapsed().as_secs_f64(),
            }))?;
            Ok(0)
        }
        DbCommand::Check { path } => {
            if !path.exists() {
                anyhow::bail!("{}: no such database file", path.display());
            }
            let conn = schema::open(&path)?;
            let report = check::run(&conn)?;
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
            let report = bench::run(&path, lookups, payments)?;
            print_json(&report)?;
            Ok(0)
        }
    }
}

fn id_number(s: &str) -> anyhow::Result<IdNumber> {
    IdNumber::parse(s).map_err(|e| anyhow::anyhow!("--id: {e}"))
}

/// The JSON a refused operation prints.
#[derive(Serialize)]
struct ErrorOut {
    error: &'static str,
    kind: super::ErrorKind,
    message: String,
}

fn emit<T: Serialize>(result: Result<T, StoreError>) -> anyhow::Result<i32> {
    match result {
        Ok(v) => {
            print_json(&v)?;
            Ok(0)
        }
        Err(e) => {
            print_json(&ErrorOut {
                error: e.code(),
                kind: e.kind(),
                message: e.to_string(),
            })?;
            Ok(1)
        }
    }
}

/// `kiosk platform ...` — arguments after `platform`.
pub fn run_platform(args: Vec<String>) -> anyhow::Result<i32> {
    let cli: PlatformCli = match parse("kiosk platform", args) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let now = cli.now.unwrap_or_else(Timestamp::now);
    if let PlatformCommand::DemoPersons = cli.command {
        let list: Vec<serde_json::Value> = demo::DEMO_PERSONS
            .iter()
            .map(|p| serde_json::json!({"id_number": p.id_number, "name": p.name, "description": p.description}))
            .collect();
        print_json(&list)?;
        return Ok(0);
    }
    if !cli.db.exists() {
        anyhow::bail!(
            "{}: no such database file (create one with `kiosk db init --demo --path {}`)",
            cli.db.display(),
            cli.db.display()
        );
    }
    if let PlatformCommand::CrashLoopWorker { seed, violations } = cli.command {
        return crash_loop_worker(&cli.db, now, seed, violations);
    }
    let p = SqlitePlatform::open_demo(&cli.db)?;
    match cli.command {
        PlatformCommand::Person { id } => emit(p.person(&id_number(&id)?, now)),
        PlatformCommand::Vehicles { id } => emit(p.vehicles(&id_number(&id)?, now)),
        PlatformCommand::Violations { id, vehicle } => {
            emit(p.violations(&id_number(&id)?, &vehicle.key(), now))
        }
        PlatformCommand::SendRegisterCode { phone } => emit(p.send_register_code(&phone, now)),
        PlatformCommand::Register { id, phone, code } => emit(p.register(
            &RegisterRequest {
                id_number: id_number(&id)?,
                phone,
                sms_code: code,
            },
            now,
        )),
        PlatformCommand::SendFilingCode { id, vehicle } => {
            emit(p.send_filing_code(&id_number(&id)?, &vehicle.key(), now))
        }
        PlatformCommand::File {
            id,
            token,
            plate,
            plate_type,
            code,
        } => {
            let proof = match (token, plate, code) {
                (Some(t), _, _) => FilingProof::QrToken(t),
                (None, Some(plate), Some(code)) => FilingProof::SmsCode {
                    vehicle: VehicleArgs { plate, plate_type }.key(),
                    code,
                },
                _ => anyhow::bail!("give --token, or --plate with --code"),
            };
            emit(p.file_vehicle(
                &FilingRequest {
                    id_number: id_number(&id)?,
                    proof,
                },
                now,
            ))
        }
        PlatformCommand::Review {
            filing,
            approve,
            reject: _,
            note,
        } => emit(p.review_filing(filing, approve, &note, now)),
        PlatformCommand::Filings { id } => emit(p.filings(&id_number(&id)?, now)),
        PlatformCommand::RemoveDriver { id, filing } => {
            emit(p.remove_driver(&id_number(&id)?, filing, now))
        }
        PlatformCommand::Unfile { id, vehicle } => {
            emit(p.unfile(&id_number(&id)?, &vehicle.key(), now))
        }
        PlatformCommand::Handle {
            id,
            vehicle,
            violations,
            kiosk,
        } => emit(p.handle(
            &HandleRequest {
                id_number: id_number(&id)?,
                vehicle: vehicle.key(),
                violation_ids: violations,
                kiosk_id: kiosk,
            },
            now,
        )),
        PlatformCommand::Pay {
            decision,
            key,
            method,
        } => emit(p.pay(
            &PayRequest {
                decision_number: decision,
                idempotency_key: key,
                method,
            },
            now,
        )),
        PlatformCommand::RevertDue => emit(p.revert_due(now)),
        PlatformCommand::Feedback {
            id,
            category,
            kiosk,
            text,
        } => emit(
            p.feedback(
                &FeedbackRequest {
                    id_number: id.as_deref().map(id_number).transpose()?,
                    kiosk_id: kiosk,
                    category,
                    text,
                },
                now,
            )
            .map(|n| serde_json::json!({"feedback": n})),
        ),
        PlatformCommand::SmsOutbox { limit } => {
            emit(p.with_connection_ref(|c| Ok(sms::outbox(c, limit)?)))
        }
        PlatformCommand::IssueQr { id, vehicle } => {
            emit(p.issue_vehicle_qr(&id_number(&id)?, &vehicle.key(), now))
        }
        PlatformCommand::VerifyQr { token } => {
            emit(p.qr_keys().verify(&token, now).map_err(StoreError::from))
        }
        PlatformCommand::Receipt { decision, kind } => emit(p.receipt(&decision, kind)),
        PlatformCommand::DemoPersons | PlatformCommand::CrashLoopWorker { .. } => {
            unreachable!("handled above")
        }
    }
}

/// Handle and pay the practice violations one by one, forever (until killed or done). Each step
/// is idempotent, so a worker killed anywhere and started again simply continues.
fn crash_loop_worker(db: &Path, now: Timestamp, seed: u64, violations: u32) -> anyhow::Result<i32> {
    {
        let mut conn = schema::open(db)?;
        demo::ensure_practice_fixture(&mut conn, violations, now)?;
    }
    let p = SqlitePlatform::open_demo(db)?;
    let who = IdNumber::parse(demo::PRACTICE_PERSON)?;
    let vehicle = VehicleKey {
        plate: demo::PRACTICE_PLATE.into(),
        plate_type: "02".into(),
    };
    let mut rng = demo::Rng::new(seed ^ u64::from(std::process::id()));
    let start = rng.below(u64::from(violations.max(1)));
    for k in 0..u64::from(violations) {
        let vid = format!("P{:011}", (start + k) % u64::from(violations));
        let out = p.handle(
            &HandleRequest {
                id_number: who.clone(),
                vehicle: vehicle.clone(),
                violation_ids: vec![vid.clone()],
                kiosk_id: "crash".into(),
            },
            now,
        )?;
        let d = &out.items[0].decision;
        if d.state == "handled_unpaid" {
            p.pay(
                &PayRequest {
                    decision_number: d.number.clone(),
                    idempotency_key: format!("crash-{vid}"),
                    method: "demo".into(),
                },
                now,
            )?;
        }
    }
    Ok(0)
}
