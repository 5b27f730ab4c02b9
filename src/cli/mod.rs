//! The binary's edge: command-line parsing and dispatch. `anyhow` lives here and nowhere deeper.

mod bench_platform;
pub mod config_check;
pub mod db;
pub mod device;
pub mod platform;
pub mod platform_json;
pub mod rules_eval;
pub mod serve;
pub mod sim;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "kiosk",
    version,
    about = "Self-service traffic-violation kiosk"
)]
struct Cli {
    /// Path of the kiosk configuration (defaults to ./kiosk.toml if present, else the embedded default).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Open the kiosk (the default when no command is given).
    Run,
    /// The rule core.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Devices: read-card, scan, print, status, render, list, sim-reader, sim-scanner.
    #[command(disable_help_flag = true)]
    Device {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The local database: init, check.
    #[command(disable_help_flag = true)]
    Db {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Operator verbs against the platform store, printing JSON.
    #[command(disable_help_flag = true)]
    Platform {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The platform server: every platform operation as HTTP/JSON (`POST /v1/<op>`, `GET
    /// /healthz`) for kiosks that sign their requests, and `POST /notify/alipay` for the payment
    /// provider's notifications. Prints `listening on http://ADDR` first.
    ///
    /// `kiosk --config FILE serve …` (TOML): `demo = true|false` and the sections `[payment]`,
    /// `[sms]`, `[qr]` (`provider = …`, as in kiosk.toml), `[audit]` (`key_file`) and `[notify]`
    /// (`POST /notify/alipay`'s bounds: `per_ip_per_minute`, `per_ip_burst`,
    /// `refused_audited_per_minute`; 600, 120 and 60 when absent). Outside
    /// demo mode (`--demo` or `demo = true`), a demo provider or an empty audit key file is
    /// refused, each key named, exit 2. Without --config every provider is the demo's.
    Serve {
        /// The platform's database: postgres://USER@HOST:PORT/DB (the city's), or a SQLite file;
        /// made with `kiosk db init --path …`.
        #[arg(long)]
        database: String,
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Demo mode: the demo providers may run, the built-in demo identity (its key is public)
        /// is accepted and the demo SMS outbox served. Never in production.
        #[arg(long)]
        demo: bool,
        /// The kiosks allowed to call: TOML, `[kiosks.ID] public_key = "HEX"`, optional `hall`.
        #[arg(long)]
        kiosks: Option<PathBuf>,
        /// Seconds between two runs of the 六.2 revert of unpaid kiosk handlings (it also runs
        /// at start-up); 0: never (tests whose kiosks run on a simulated clock).
        #[arg(long, default_value_t = 60)]
        revert_every: u64,
        /// Decide with the time each request carries instead of the server's clock (demos and
        /// tests on a simulated clock; implied by --demo).
        #[arg(long)]
        kiosk_clock: bool,
        /// The police network's simulator confirms a paid decision's points this many seconds
        /// after it was decided; the confirmation job runs as often as the revert.
        #[arg(long, default_value_t = 3600)]
        confirm_points_after: u64,
        /// The fleet page's operators (`GET /fleet` behind a login): TOML,
        /// `[operators.NAME] password_hash = "…"` (from `kiosk password-hash`). None: no page.
        #[arg(long)]
        operators: Option<PathBuf>,
        /// Remote configuration: TOML, `[halls."NAME"]` and `[kiosks.ID]` tables of operational
        /// keys (idle_seconds, idle_warning_seconds, card_read_ms, payment_window_minutes,
        /// language, hall_name, hall_name_en, hall_phones, consultation_phone, voice_volume,
        /// voice_enabled, policy_file: a policy file read at start and shipped as its text); a
        /// kiosk's table overrides its hall's (`hall` in --kiosks). Needs --config-key.
        #[arg(long, requires = "config_key")]
        remote_config: Option<PathBuf>,
        /// The key that signs the remote configuration (`kiosk keygen --qr --kid ID --out FILE`;
        /// kiosks verify with its published `KID:HEX` in `[platform] config_public_key`).
        #[arg(long)]
        config_key: Option<PathBuf>,
    },
    /// Read an operator's password from standard input (at least 10 characters) and print its
    /// argon2id hash for `kiosk serve --operators FILE`.
    PasswordHash,
    /// Simulators of the outside services, speaking their bytes: `alipay` (Alipay 当面付's
    /// gateway with a phone), `sms` (Alibaba Cloud SMS), `face` (the face verification service), `wecom` (a WeCom group robot, 呼叫工作人员).
    #[command(disable_help_flag = true)]
    Sim {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Make a kiosk's identity: a new ed25519 private key written to FILE (mode 0600, never over
    /// an existing file); prints the public key for the server's --kiosks file. With --qr or
    /// --receipt and --kid ID: a platform signing key for vehicle QR tokens or receipt seals
    /// (`[qr] signing_key_file` / `receipt_key_file`); prints its published form KID:HEX for
    /// `[qr] public_keys` / `receipt_public_keys`.
    Keygen {
        #[arg(long)]
        out: PathBuf,
        /// A vehicle-QR signing key (needs --kid).
        #[arg(long, conflicts_with = "receipt", requires = "kid")]
        qr: bool,
        /// A receipt-seal signing key (needs --kid).
        #[arg(long, requires = "kid")]
        receipt: bool,
        /// The key id printed in every token or receipt it signs: 1-32 letters, digits, - _ .
        #[arg(long)]
        kid: Option<String>,
    },
    /// Read the operator PIN (4 to 12 digits) from standard input and print its argon2 hash (PHC
    /// string) for `[operator] pin_hash`; a trivial PIN (246810, one digit repeated, an ascending
    /// or descending run) is refused (exit 2). At most 64 bytes are read.
    PinHash,
    /// Check the configuration as `run` would (values, device URIs, policy file, PIN of 4 to 12
    /// digits, demo city of at most 2000000 persons) and print it as TOML; exit 2 naming the
    /// first bad key.
    Config,
    /// Benchmarks that print figures: `ui` (start-up, memory, idle CPU, frame times; needs a
    /// display, e.g. under xvfb-run); `soak` (10,000 scripted sessions through the kiosk in
    /// accelerated time: memory, open files and database size at the start and the end); `platform --database postgres://…` (the server over
    /// loopback HTTP with 1, 10 and 100 simulated kiosks, beside the embedded SQLite figures).
    /// `fleet --database FILE|postgres://…` (the fleet page's look-ups on `kiosk_events` filled
    /// with --days days of --kiosks kiosks' heartbeats and events when empty, p50/p99 over
    /// --calls calls, with the query plans; at most 10000 kiosks and 400 days).
    /// The store's alone is `kiosk db bench`.
    Bench {
        #[arg(value_parser = ["ui", "platform", "soak", "fleet"])]
        what: String,
        /// `platform`: the PostgreSQL database the server runs on (empty, or a demo city);
        /// `fleet`: a SQLite file (created if missing) or a PostgreSQL database.
        #[arg(long)]
        database: Option<String>,
        /// `fleet`: kiosks reporting.
        #[arg(long, default_value_t = 100)]
        kiosks: u32,
        /// `fleet`: days of events to fill.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// `fleet`: calls of each look-up to time.
        #[arg(long, default_value_t = 50)]
        calls: u32,
        /// `fleet`: then run the retention sweep keeping this many days (deletes from the
        /// database measured) and time it.
        #[arg(long)]
        keep_days: Option<u32>,
        /// `platform`: handle+pay rounds per simulated kiosk in each step.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// `soak`: scripted sessions through the whole kiosk in accelerated time.
        #[arg(long, default_value_t = 10_000)]
        sessions: u32,
        /// `soak`: persons in its demo city.
        #[arg(long, default_value_t = 2_000)]
        persons: u32,
    },
}

#[derive(Subcommand, Debug)]
enum RulesCommand {
    /// Decide cases given as JSON Lines (FILE or standard input); one JSON line out per case.
    ///
    /// Bounds: a line (one case) of at most 1048576 bytes and at most 1000 violations per case;
    /// a longer line or case gets an error line naming the limit, and the run goes on. Amounts
    /// (fine_yuan) have at most 2 decimals and are at most 1000000000 yuan.
    Eval {
        /// JSON Lines file; standard input when absent or `-`.
        file: Option<PathBuf>,
        /// Dated-policy file (default: `[policy] file` of kiosk.toml, else the embedded
        /// assets/policy.toml). A case's own `policy` still overrides it.
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        // Standard output closed early (`kiosk config | head -c1`): nothing left to say.
        Err(e) if crate::term::is_broken_pipe(e.as_ref()) => {
            ExitCode::from(crate::term::BROKEN_PIPE_EXIT)
        }
        Err(e) => {
            crate::errln!("kiosk: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        None | Some(Command::Run) => {
            let config = crate::config::KioskConfig::load(cli.config.as_deref())?;
            // What `kiosk config` checks, said before the window opens.
            config_check::check(&config, &config_name(cli.config.as_deref()))?;
            Ok(crate::app::run(config)?)
        }
        Some(Command::Rules {
            command: RulesCommand::Eval { file, policy },
        }) => {
            let config = crate::config::KioskConfig::load(cli.config.as_deref())?;
            let book = crate::app::load_policy(policy.as_deref(), &config)?;
            rules_eval::run(file.as_deref(), &book)
        }
        Some(Command::Device { args }) => device::run(args, &crate::app::sim_source::card_for),
        Some(Command::Db { args }) => db::run(args),
        Some(Command::Platform { args }) => platform::run(args, cli.config.as_deref()),
        Some(Command::Serve {
            database,
            listen,
            demo,
            kiosks,
            revert_every,
            kiosk_clock,
            confirm_points_after,
            operators,
            remote_config,
            config_key,
        }) => serve::serve(
            database,
            listen,
            demo,
            kiosks,
            revert_every,
            kiosk_clock,
            confirm_points_after,
            operators,
            (remote_config, config_key),
            cli.config.as_deref(),
        ),
        Some(Command::Keygen {
            out,
            qr,
            receipt,
            kid,
        }) => match kid {
            Some(kid) if qr || receipt => serve::keygen_platform(&kid, &out),
            Some(_) => anyhow::bail!("--kid goes with --qr or --receipt"),
            None => serve::keygen(&out),
        },
        Some(Command::PasswordHash) => serve::password_hash(),
        Some(Command::PinHash) => pin_hash(),
        Some(Command::Sim { args }) => sim::run(args),
        Some(Command::Bench {
            what,
            database,
            rounds,
            sessions,
            persons,
            kiosks,
            days,
            calls,
            keep_days,
        }) => {
            if what == "fleet" {
                let Some(database) = database else {
                    anyhow::bail!(
                        "`kiosk bench fleet` needs --database FILE or postgres://USER@HOST:PORT/DB"
                    );
                };
                return bench_fleet(&database, kiosks, days, calls, keep_days);
            }
            if what == "soak" {
                let report = crate::app::soak::run(&crate::app::soak::SoakOptions {
                    sessions,
                    persons,
                    ..Default::default()
                })?;
                crate::term::out(serde_json::to_string_pretty(&report)?)?;
                return Ok(if report.stuck == 0 { 0 } else { 1 });
            }
            if what == "platform" {
                let Some(database) = database else {
                    anyhow::bail!(
                        "`kiosk bench platform` needs --database postgres://USER@HOST:PORT/DB"
                    );
                };
                return bench_platform::run(&database, rounds);
            }
            let config = crate::config::KioskConfig::load(cli.config.as_deref())?;
            Ok(crate::app::bench::run(config)?)
        }
        Some(Command::Config) => {
            let config = crate::config::KioskConfig::load(cli.config.as_deref())?;
            config_check::check(&config, &config_name(cli.config.as_deref()))?;
            // The WeCom robot's webhook key is a secret: printed masked (pasted into tickets).
            let mut shown = config.clone();
            shown.staff_call.url = crate::config::mask_url(&shown.staff_call.url);
            // The staff's mobiles to @ are personal data: masked too.
            for m in &mut shown.staff_call.mentioned_mobile_list {
                if m != "@all" {
                    *m = crate::privacy::mask_text(m);
                }
            }
            crate::term::out(toml::to_string_pretty(&shown)?)?;
            Ok(0)
        }
    }
}

/// `kiosk pin-hash`: the PIN on standard input (one line), its PHC string on standard output.
fn pin_hash() -> anyhow::Result<i32> {
    use std::io::Read as _;
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .take(64)
        .read_to_end(&mut buf)
        .context("reading the PIN from standard input")?;
    let text = String::from_utf8_lossy(&buf);
    let pin = zeroize::Zeroizing::new(text.lines().next().unwrap_or("").trim().to_string());
    buf.iter_mut().for_each(|b| *b = 0);
    let mut salt = [0u8; 16];
    os_random(&mut salt)?;
    match crate::config::operator::hash_pin(&pin, &salt) {
        Ok(phc) => {
            crate::outln!("{phc}")?;
            Ok(0)
        }
        Err(e) => {
            crate::errln!("kiosk pin-hash: {e}");
            Ok(2)
        }
    }
}

/// How a configuration file is named in messages.
pub fn config_name(path: Option<&std::path::Path>) -> String {
    path.map_or_else(|| "kiosk.toml".to_string(), |p| p.display().to_string())
}

/// Parse `args` with clap; on a usage error or `--help`, print it and give the exit status.
pub(crate) fn parse<T: Parser>(name: &str, args: Vec<String>) -> Result<T, i32> {
    let argv = std::iter::once(name.to_string()).chain(args);
    T::try_parse_from(argv).map_err(|e| {
        let code = if e.use_stderr() { 2 } else { 0 };
        let _ = e.print();
        code
    })
}

/// Fill `buf` from the operating system's random source (keys and salts: no fallback).
pub(crate) fn os_random(buf: &mut [u8]) -> anyhow::Result<()> {
    use std::io::Read as _;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .context("reading random bytes from /dev/urandom")
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)
        .context("writing to standard output")?;
    Ok(())
}

/// `kiosk bench fleet`: open (and migrate) the database, timing the opening, then fill and
/// measure (`store::bench_fleet`).
fn bench_fleet(
    database: &str,
    kiosks: u32,
    days: u32,
    calls: u32,
    keep_days: Option<u32>,
) -> anyhow::Result<i32> {
    use crate::store::bench_fleet::{FleetBenchOptions, run};
    let opts = FleetBenchOptions {
        kiosks,
        days,
        calls,
        keep_days,
    };
    let started = std::time::Instant::now();
    let now = jiff::Timestamp::now();
    let report = if crate::store::schema::is_postgres_url(database) {
        let p = crate::store::PgPlatform::connect_demo(database, 2).with_context(|| {
            format!(
                "connecting to {}",
                crate::store::backend::without_password(database)
            )
        })?;
        let opened = started.elapsed().as_secs_f64();
        (opened, run(&p, opts, now)?)
    } else {
        let p = crate::store::SqlitePlatform::open_demo(std::path::Path::new(database))
            .with_context(|| format!("opening {database}"))?;
        let opened = started.elapsed().as_secs_f64();
        (opened, run(&p, opts, now)?)
    };
    let mut json = serde_json::to_value(&report.1)?;
    json["open_and_migrate_seconds"] = serde_json::json!(report.0);
    crate::term::out(serde_json::to_string_pretty(&json)?)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_takes_a_remote_configuration_only_with_its_signing_key() {
        <Cli as clap::CommandFactory>::command().debug_assert();
        let alone = Cli::try_parse_from([
            "kiosk",
            "serve",
            "--database",
            "city.sqlite3",
            "--remote-config",
            "r.toml",
        ]);
        assert!(alone.unwrap_err().to_string().contains("--config-key"));
        let both = Cli::try_parse_from([
            "kiosk",
            "serve",
            "--database",
            "city.sqlite3",
            "--remote-config",
            "r.toml",
            "--config-key",
            "c.key",
        ])
        .unwrap();
        let Some(Command::Serve {
            remote_config,
            config_key,
            ..
        }) = both.command
        else {
            panic!("serve")
        };
        assert_eq!(remote_config, Some(PathBuf::from("r.toml")));
        assert_eq!(config_key, Some(PathBuf::from("c.key")));
    }
}
