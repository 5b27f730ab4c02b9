//! `kiosk platform …`: the operator's edge of the store. Every platform verb prints one JSON
//! document on standard output; a refusal prints `{"error": code, "kind": …, "message": …}` and
//! exits 1; a usage error exits 2.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use jiff::Timestamp;
use serde::Serialize;

use super::db::DEFAULT_DB;
use super::platform_json::*;
use super::{parse, print_json};
use crate::domain::IdNumber;
use crate::remote::RemotePlatform;
use crate::store::demo;
use crate::store::platform::*;
use crate::store::{ErrorKind, StoreError, schema};
use crate::wire::auth::KioskIdentity;

#[derive(Parser, Debug)]
#[command(
    name = "kiosk platform",
    about = "Operator verbs against the platform store, printing JSON"
)]
struct PlatformCli {
    /// The SQLite file, or a PostgreSQL database as postgres://USER@HOST:PORT/DB.
    #[arg(long, global = true, default_value = DEFAULT_DB)]
    db: PathBuf,
    /// A platform server (`kiosk serve`) instead of a database file, e.g. http://127.0.0.1:8080.
    /// Requests are signed as kiosk.toml's `[kiosk] id` with `[platform] key_file`; with no key
    /// file, as the built-in demo identity (accepted by `kiosk serve --demo` only).
    #[arg(long, global = true, conflicts_with = "db")]
    server: Option<String>,
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
    /// The key. A plate that fits no GA 36 layout, or an unknown plate type, names no registered
    /// vehicle: refused as `vehicle_not_found`, as the operator's scripts have always seen it.
    fn key(&self) -> Result<VehicleKey, StoreError> {
        VehicleKey::parse(&self.plate, &self.plate_type).map_err(|_| StoreError::VehicleNotFound)
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
    /// Send a registration SMS code to a phone (demo: the output shows what the demo phone
    /// received; the database keeps only a salted hash of the code).
    SendRegisterCode {
        #[arg(long)]
        phone: String,
        /// The kiosk counted against the hourly limit (a server counts the authenticated one).
        #[arg(long, default_value = "operator")]
        kiosk: String,
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
        /// The kiosk counted against the hourly limit (a server counts the authenticated one).
        #[arg(long, default_value = "operator")]
        kiosk: String,
    },
    /// Check a filing SMS code without using it (as the kiosk does at the code's entry); a wrong
    /// code counts against its tries.
    CheckFilingCode {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        vehicle: VehicleArgs,
        #[arg(long)]
        code: String,
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
    /// Ask the payment provider whether the decision is paid, and record what it confirms
    /// (exactly once); `not_paid_yet` until it does. Records nothing on its own say.
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
    /// The SMS codes sent, newest first: phone masked, purpose, delivery, used — never a code
    /// (the database keeps a salted hash); a server answers it in demo mode only.
    SmsOutbox {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Issue a vehicle QR token for one of the owner's vehicles (the `[qr]` signing key).
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
    /// Seal the verification code of the payment receipt of paid decisions with the platform's
    /// receipt key and print it (`{"code": TEXT}`, TEXT what the receipt's QR holds).
    SealReceipt {
        /// A paid decision's number; repeat for one payment receipt of several decisions.
        #[arg(long = "decision", required = true)]
        decisions: Vec<String>,
        /// The kiosk the receipt names (a server writes the authenticated kiosk over it).
        #[arg(long, default_value = "CQ-OPERATOR")]
        kiosk: String,
    },
    /// Check a receipt's verification QR (TEXT: what the QR holds) against the published
    /// receipt keys of the configuration's `[qr]` (no database or server needed). Prints what
    /// it certifies (decision numbers, amount, time, kiosk) when genuine. Exit 0 genuine, 1
    /// forged (altered, unsealed, or sealed by a key not published), 2 unreadable.
    VerifyReceipt {
        /// What the receipt's QR code holds (at most 4096 bytes, as a scan).
        text: String,
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
}

fn id_number(s: &str) -> anyhow::Result<IdNumber> {
    IdNumber::parse(s).map_err(|e| anyhow::anyhow!("--id: {e}"))
}

/// The JSON a refused operation prints.
#[derive(Serialize)]
struct ErrorOut {
    error: &'static str,
    kind: ErrorKind,
    message: String,
}

/// The demo phone's messages (empty unless the gateway is the demo's).
fn demo_outbox(p: &dyn Platform) -> Vec<crate::store::sms::OutboxEntry> {
    p.sms_outbox(20).unwrap_or_default()
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

/// The platform the verbs run against: the database file, or a server.
/// One connection is all a CLI verb needs.
pub(crate) const CLI_PG_POOL_SIZE: u32 = 1;

fn open(cli: &PlatformCli, config: Option<&Path>) -> anyhow::Result<Box<dyn Platform>> {
    if let Some(url) = &cli.server {
        let config = crate::config::KioskConfig::load(config)?;
        let identity = match config.platform.key_file.trim() {
            "" => KioskIdentity::demo(),
            file => KioskIdentity::from_key_file(config.kiosk.id.clone(), Path::new(file))?,
        };
        return Ok(Box::new(RemotePlatform::new(url, identity)?));
    }
    // `[payment]` of kiosk.toml: `pay` asks that provider (the demo provider only in demo mode).
    let config = crate::config::KioskConfig::load(config)?;
    if config.payment.is_demo() && !config.kiosk.demo {
        anyhow::bail!(
            "payment.provider = {:?} with kiosk.demo = false: money is recorded only on a real provider's word",
            config.payment.provider
        );
    }
    // "simulator" (demo mode only): the gateway simulator and its phone live inside the kiosk's
    // window, and its orders die with it; a shell has no phone, so the demo provider answers.
    let payments: Box<dyn crate::store::payment::PaymentProvider> =
        if config.payment.provider == crate::config::PaymentSection::SIMULATOR {
            Box::new(crate::store::payment::DemoPaymentProvider)
        } else {
            crate::providers::payment_provider(&config.payment)?
        };
    // The platform's keys are the configuration's `[qr]` (the embedded default: the demo keys);
    // without signing key files the verbs that sign are refused (token_no_signing_key).
    let keys = crate::providers::qr::keys(&config.qr, crate::providers::qr::Role::Verifier)?;
    // A `postgres://` (or `postgresql://`) URL selects the city's PostgreSQL database.
    if let Some(url) = cli.db.to_str().filter(|s| schema::is_postgres_url(s)) {
        return Ok(Box::new(
            PgPlatform::connect_demo(url, CLI_PG_POOL_SIZE)?
                .with_qr_keys(keys)
                .with_payments(payments),
        ));
    }
    if !cli.db.exists() {
        anyhow::bail!(
            "{}: no such database file (create one with `kiosk db init --demo --path {}`)",
            cli.db.display(),
            cli.db.display()
        );
    }
    Ok(Box::new(
        SqlitePlatform::open_demo(&cli.db)?
            .with_qr_keys(keys)
            .with_payments(payments),
    ))
}

/// `kiosk platform ...` — arguments after `platform`; `config`: `kiosk --config FILE` (the
/// identity used with `--server`).
pub fn run(args: Vec<String>, config: Option<&Path>) -> anyhow::Result<i32> {
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
    if let PlatformCommand::VerifyReceipt { text } = &cli.command {
        return verify_receipt(text, config);
    }
    let p = open(&cli, config)?;
    match cli.command {
        PlatformCommand::Person { id } => {
            emit(p.person(&id_number(&id)?, now).map(|v| PersonOut::from(&v)))
        }
        PlatformCommand::Vehicles { id } => emit(
            p.vehicles(&id_number(&id)?, now)
                .map(|vs| vs.iter().map(VehicleOut::from).collect::<Vec<_>>()),
        ),
        PlatformCommand::Violations { id, vehicle } => {
            let id = id_number(&id)?;
            emit(
                vehicle
                    .key()
                    .and_then(|k| p.violations(&id, &k, now))
                    .map(|l| ViolationListOut::from(&l)),
            )
        }
        PlatformCommand::SendRegisterCode { phone, kiosk } => emit(
            p.send_register_code(&kiosk, &phone, now)
                .map(|s| SmsSentOut::from(&s).with_demo_phone(&demo_outbox(p.as_ref()))),
        ),
        PlatformCommand::Register { id, phone, code } => emit(
            p.register(
                &RegisterRequest {
                    id_number: id_number(&id)?,
                    phone,
                    sms_code: code,
                },
                now,
            )
            .map(|v| PersonOut::from(&v)),
        ),
        PlatformCommand::SendFilingCode { id, vehicle, kiosk } => {
            let id = id_number(&id)?;
            emit(
                vehicle
                    .key()
                    .and_then(|k| p.send_filing_code(&kiosk, &id, &k, now))
                    .map(|s| SmsSentOut::from(&s).with_demo_phone(&demo_outbox(p.as_ref()))),
            )
        }
        PlatformCommand::CheckFilingCode { id, vehicle, code } => {
            let id = id_number(&id)?;
            emit(
                vehicle
                    .key()
                    .and_then(|k| p.check_filing_code(&id, &k, &code, now))
                    .map(|c| FilingCodeCheckedOut::from(&c)),
            )
        }
        PlatformCommand::File {
            id,
            token,
            plate,
            plate_type,
            code,
        } => {
            let id = id_number(&id)?;
            let proof = match (token, plate, code) {
                (Some(t), _, _) => Ok(FilingProof::QrToken(t)),
                (None, Some(plate), Some(code)) => VehicleArgs { plate, plate_type }
                    .key()
                    .map(|vehicle| FilingProof::SmsCode { vehicle, code }),
                _ => anyhow::bail!("give --token, or --plate with --code"),
            };
            emit(
                proof
                    .and_then(|proof| {
                        p.file_vehicle(
                            &FilingRequest {
                                id_number: id,
                                proof,
                            },
                            now,
                        )
                    })
                    .map(|f| FilingOut::from(&f)),
            )
        }
        PlatformCommand::Review {
            filing,
            approve,
            reject: _,
            note,
        } => emit(
            p.review_filing(FilingId(filing), approve, &note, now)
                .map(|f| FilingOut::from(&f)),
        ),
        PlatformCommand::Filings { id } => emit(
            p.filings(&id_number(&id)?, now)
                .map(|l| FilingListOut::from(&l)),
        ),
        PlatformCommand::RemoveDriver { id, filing } => emit(
            p.remove_driver(&id_number(&id)?, FilingId(filing), now)
                .map(|f| FilingOut::from(&f)),
        ),
        PlatformCommand::Unfile { id, vehicle } => {
            let id = id_number(&id)?;
            emit(
                vehicle
                    .key()
                    .and_then(|k| p.unfile(&id, &k, now))
                    .map(|f| FilingOut::from(&f)),
            )
        }
        PlatformCommand::Handle {
            id,
            vehicle,
            violations,
            kiosk,
        } => {
            let id = id_number(&id)?;
            emit(
                vehicle
                    .key()
                    .and_then(|vehicle| {
                        p.handle(
                            &HandleRequest {
                                id_number: id,
                                vehicle,
                                violation_ids: violations,
                                kiosk_id: kiosk,
                            },
                            now,
                        )
                    })
                    .map(|o| HandleOutcomeOut::from(&o)),
            )
        }
        PlatformCommand::Pay {
            decision,
            key,
            method,
        } => emit(
            p.pay(
                &PayRequest {
                    decision_number: DecisionNumber(decision),
                    idempotency_key: key,
                    method,
                },
                now,
            )
            .map(|v| PaymentOut::from(&v)),
        ),
        PlatformCommand::RevertDue => emit(p.revert_due(now).map(|r| RevertReportOut::from(&r))),
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
        PlatformCommand::SmsOutbox { limit } => emit(p.sms_outbox(limit)),
        PlatformCommand::IssueQr { id, vehicle } => {
            let id = id_number(&id)?;
            emit(
                vehicle
                    .key()
                    .and_then(|k| p.issue_vehicle_qr(&id, &k, now))
                    .map(|t| IssuedTokenOut::from(&t)),
            )
        }
        PlatformCommand::VerifyQr { token } => emit(p.verify_vehicle_qr(&token, now)),
        PlatformCommand::SealReceipt { decisions, kiosk } => emit(p.seal_receipt(
            &SealRequest {
                kiosk_id: kiosk,
                decision_numbers: decisions.into_iter().map(DecisionNumber).collect(),
            },
            now,
        )),
        PlatformCommand::VerifyReceipt { .. } => unreachable!("handled above"),
        PlatformCommand::Receipt { decision, kind } => emit(
            p.receipt(&DecisionNumber(decision), kind)
                .map(|r| ReceiptOut::from(&r)),
        ),
        PlatformCommand::DemoPersons => {
            unreachable!("handled above")
        }
    }
}

/// What `verify-receipt` prints.
#[derive(Serialize)]
struct ReceiptCheckOut {
    genuine: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    certifies: Option<CertifiedOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// What a genuine receipt code certifies.
#[derive(Serialize)]
struct CertifiedOut {
    kind: &'static str,
    decision_numbers: Vec<String>,
    amount_fen: i64,
    amount: String,
    /// Beijing time, RFC 3339 with +08:00.
    time: String,
    kiosk: String,
    key_id: String,
}

/// The longest text `verify-receipt` reads (a scan is at most 4096 bytes).
const MAX_RECEIPT_TEXT: usize = 4096;

fn verify_receipt(text: &str, config: Option<&Path>) -> anyhow::Result<i32> {
    use crate::domain::receipt_code::ReceiptKind as CodeKind;
    use crate::store::token::ReceiptCheckError;
    let config = crate::config::KioskConfig::load(config)?;
    let keys = crate::providers::qr::keys(&config.qr, crate::providers::qr::Role::Verifier)?;
    if keys.receipt_keys().is_empty() {
        anyhow::bail!("[qr] receipt_public_keys: no published receipt key to verify with");
    }
    let result = if text.len() > MAX_RECEIPT_TEXT {
        Err(ReceiptCheckError::Unreadable(
            crate::domain::receipt_code::ReceiptCodeError::NotReceipt,
        ))
    } else {
        keys.verify_receipt(text)
    };
    let (out, code) = match result {
        Ok(c) => {
            // The code's time is Beijing wall-clock time.
            let at = c.at.strftime("%Y-%m-%dT%H:%M:%S+08:00").to_string();
            let out = ReceiptCheckOut {
                genuine: true,
                certifies: Some(CertifiedOut {
                    kind: match c.kind {
                        CodeKind::Handling => "handling",
                        CodeKind::Payment => "payment",
                        CodeKind::Decision => "decision",
                    },
                    decision_numbers: c.numbers().map(str::to_string).collect(),
                    amount_fen: c.amount.as_fen(),
                    amount: c.amount.to_string(),
                    time: at,
                    kiosk: c.kiosk_id.clone(),
                    key_id: c
                        .seal
                        .as_ref()
                        .map(|s| s.key_id.clone())
                        .unwrap_or_default(),
                }),
                error: None,
                message: None,
            };
            (out, 0)
        }
        Err(e) => {
            let code = if matches!(e, ReceiptCheckError::Unreadable(_)) {
                2
            } else {
                1
            };
            let out = ReceiptCheckOut {
                genuine: false,
                certifies: None,
                error: Some(e.code()),
                message: Some(e.to_string()),
            };
            (out, code)
        }
    };
    print_json(&out)?;
    Ok(code)
}
