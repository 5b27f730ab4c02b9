//! `kiosk serve` (the platform server) and `kiosk keygen` (a kiosk's identity).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::server::{ServeOptions, run};

/// `kiosk serve …`: serve until killed. The first line on standard output says where it listens
/// (`listening on http://127.0.0.1:PORT`; `--listen 127.0.0.1:0` picks a free port).
#[allow(clippy::too_many_arguments)] // one argument per flag of `kiosk serve`
pub fn serve(
    database: String,
    listen: SocketAddr,
    demo: bool,
    kiosks: Option<PathBuf>,
    revert_every_secs: u64,
    kiosk_clock: bool,
    confirm_points_after_secs: u64,
    operators: Option<PathBuf>,
    (remote_config, config_key): (Option<PathBuf>, Option<PathBuf>),
    config: Option<&Path>,
) -> anyhow::Result<i32> {
    let config = match config {
        Some(path) => crate::config::ServerConfig::load(path)?,
        None => crate::config::ServerConfig::default(),
    };
    let opts = ServeOptions {
        config,
        database,
        listen,
        demo,
        kiosks,
        revert_every: (revert_every_secs > 0).then(|| Duration::from_secs(revert_every_secs)),
        kiosk_clock,
        confirm_points_after: Duration::from_secs(confirm_points_after_secs),
        operators,
        remote_config,
        config_key,
    };
    let demo_mode = opts.demo_mode();
    run(opts, |addr| {
        let _ = crate::outln!("listening on http://{addr}");
        // systemd (Type=notify): up once listening.
        crate::ops::watchdog::ready();
        if demo_mode {
            crate::errln!(
                "kiosk serve: demo mode: demo providers may run (payment, SMS, QR keys, audit key); never in production"
            );
        }
        if demo {
            crate::errln!(
                "kiosk serve: --demo: the built-in demo identity is accepted and the demo SMS outbox is served; never in production"
            );
        }
    })?;
    Ok(0)
}

/// `kiosk keygen --out FILE`: a new private key in FILE (mode 0600), its public key printed for
/// the server's `--kiosks` file.
pub fn keygen(out: &Path) -> anyhow::Result<i32> {
    let public = crate::wire::auth::generate_key_file(out)?;
    crate::outln!("{public}")?;
    Ok(0)
}

/// `kiosk password-hash`: an operator's password (standard input, one line) as the argon2id PHC
/// string the `--operators` file holds.
pub fn password_hash() -> anyhow::Result<i32> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    match crate::server::fleet::password_hash(password) {
        Ok(hash) => {
            crate::term::out_line(hash)?;
            Ok(0)
        }
        Err(e) => {
            crate::errln!("kiosk password-hash: {e}");
            Ok(2)
        }
    }
}

/// `kiosk keygen --qr|--receipt --kid ID --out FILE`: a platform signing key (vehicle QR tokens
/// or receipt seals) in FILE (`KID HEX`, mode 0600); its published form `KID:HEX` printed for
/// the verifiers' `[qr] public_keys` / `receipt_public_keys`.
pub fn keygen_platform(kid: &str, out: &Path) -> anyhow::Result<i32> {
    let published = crate::store::keyring::generate_key_file(kid, out)?;
    crate::outln!("{published}")?;
    Ok(0)
}
