//! A throwaway PostgreSQL cluster for the tests: one per test process, a fresh database per test.
//!
//! - The binaries are found at `/usr/lib/postgresql/*/bin` (the newest version). If they are
//!   missing the test **fails** (never skips) saying so: `.ci/test` installs PostgreSQL from
//!   Debian (`apt-get install postgresql`) before it runs `cargo test`.
//! - `initdb -A trust -U postgres` into a temporary directory (as the `postgres` user when the
//!   tests run as root: PostgreSQL refuses to run as root), then `pg_ctl start` listening on
//!   127.0.0.1 at a free port with its socket in that directory and `fsync=off`.
//! - The cluster stops when the test process exits, however it ends (even killed with its whole
//!   process group): a small reaper (`sh`, in its own process group) polls the test's pid and
//!   then runs `pg_ctl stop -m immediate` and removes the directory.
//!
//! - With `KIOSK_TEST_PG=postgres://USER@HOST:PORT/DB` set (`.ci/run` does), no cluster is
//!   started: the databases are made on that server instead (names carry the test process's pid).
//!
//! Use [`fresh_database`] (a URL such as `postgres://postgres@127.0.0.1:PORT/t3_contract`) for the
//! library or for the `kiosk` binary (`kiosk db init --path URL`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running cluster.
pub struct Cluster {
    pub port: u16,
    pub dir: PathBuf,
    pub bin: PathBuf,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static CREATE: Mutex<()> = Mutex::new(());
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The directory holding `initdb` and `pg_ctl` (the newest installed version).
pub fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is missing: no /usr/lib/postgresql/*/bin/initdb on this machine. \
             The PostgreSQL tests start their own throwaway cluster from the installed binaries \
             and never skip. Install it with `.ci/test` (which runs `apt-get install postgresql` \
             when it is absent, then `cargo test`), or `apt-get install -y postgresql`."
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command for a PostgreSQL binary, run as `postgres` when we are root.
fn pg_command(bin: &Path, program: &str, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

fn run(mut c: Command, what: &str) {
    let out = c
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start() -> Cluster {
    let bin = bin_dir();
    let root = is_root();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!("kiosk-pg-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the cluster directory");
    if root {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres:postgres").arg(&dir);
                c
            },
            "chown the cluster directory to postgres",
        );
    }
    let data = dir.join("data");
    let mut init = pg_command(&bin, "initdb", root);
    init.args([
        "-A",
        "trust",
        "-U",
        "postgres",
        "-N",
        "-E",
        "UTF8",
        "--locale=C",
        "-D",
    ])
    .arg(&data);
    run(init, "initdb");
    let mut last_error = String::new();
    for _ in 0..5 {
        let port = free_port();
        let mut start = pg_command(&bin, "pg_ctl", root);
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=200",
                dir.display()
            ))
            .arg("start")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let out = start.output().expect("run pg_ctl start");
        if out.status.success() {
            spawn_reaper(&bin, &data, &dir, root);
            return Cluster { port, dir, bin };
        }
        last_error = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
    }
    panic!("pg_ctl start failed five times:\n{last_error}");
}

/// Stop the cluster and remove its directory once this test process has exited.
fn spawn_reaper(bin: &Path, data: &Path, dir: &Path, root: bool) {
    let pg_ctl = bin.join("pg_ctl");
    let stop = if root {
        format!(
            "runuser -u postgres -- {} -D {} stop -m immediate",
            pg_ctl.display(),
            data.display()
        )
    } else {
        format!(
            "{} -D {} stop -m immediate",
            pg_ctl.display(),
            data.display()
        )
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    // Never waited for: it must outlive this process (init adopts it), in its own process group
    // so that killing the test's group (a timeout, ^C) does not take the reaper with it.
    use std::os::unix::process::CommandExt as _;
    let reaper = Command::new("sh")
        .arg("-c")
        .arg(script)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the cluster's reaper");
    std::mem::forget(reaper);
}

/// The process's cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start)
}

/// The URL of database `db` on the process's cluster, or on the server `KIOSK_TEST_PG` names
/// (`.ci/run` starts one throwaway cluster for all test processes and sets it).
pub fn url(db: &str) -> String {
    match std::env::var("KIOSK_TEST_PG") {
        Ok(shared) if !shared.trim().is_empty() => {
            let server = shared
                .trim()
                .rsplit_once('/')
                .map_or(shared.trim(), |(s, _)| s);
            format!("{server}/{db}")
        }
        _ => format!("postgres://postgres@127.0.0.1:{}/{db}", cluster().port),
    }
}

/// A new, empty database on the process's cluster; its URL (for the library or the `kiosk`
/// binary). `hint` becomes part of its name.
pub fn fresh_database(hint: &str) -> String {
    let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
    let clean: String = hint
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect::<String>()
        .to_ascii_lowercase();
    let name = format!("t{}_{n}_{clean}", std::process::id());
    let _one_at_a_time = CREATE.lock().unwrap_or_else(|p| p.into_inner());
    let started = Instant::now();
    loop {
        match postgres::Client::connect(&url("postgres"), postgres::NoTls)
            .and_then(|mut c| c.batch_execute(&format!("CREATE DATABASE {name}")))
        {
            Ok(()) => return url(&name),
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                eprintln!("creating database {name}: {e}; retrying");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("creating database {name} on {}: {e}", url("postgres")),
        }
    }
}

/// Run one SQL query on a database URL and return its first column as text (test assertions).
pub fn query_text(url: &str, sql: &str) -> Vec<String> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    c.query(sql, &[])
        .expect(sql)
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

/// Run one SQL query on a database URL and return its first column as integers.
pub fn query_i64(url: &str, sql: &str) -> Vec<i64> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    c.query(sql, &[])
        .expect(sql)
        .iter()
        .map(|r| r.get::<_, i64>(0))
        .collect()
}
