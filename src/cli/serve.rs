//! `kiosk serve` (the platform server) and `kiosk keygen` (a kiosk's identity).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::server::{ServeOptions, run};

/// `kiosk serve …`: serve until killed. The first line on standard output says where it listens
/// (`listening on http://127.0.0.1:PORT`; `--listen 127.0.0.1:0` picks a free port).
#[allow(clippy::too_many_arguments)]
pub fn serve(
    database: String,
    listen: SocketAddr,
    demo: bool,
    kiosks: Option<PathBuf>,
    revert_every_secs: u64,
    kiosk_clock: bool,
    confirm_points_after_secs: u64,
    payment: crate::config::PaymentSection,
) -> anyhow::Result<i32> {
    let opts = ServeOptions {
        database,
        listen,
        demo,
        kiosks,
        revert_every: (revert_every_secs > 0).then(|| Duration::from_secs(revert_every_secs)),
        kiosk_clock,
        confirm_points_after: Duration::from_secs(confirm_points_after_secs),
        payment,
    };
    run(opts, |addr| {
        let _ = crate::outln!("listening on http://{addr}");
        // systemd (Type=notify): up once listening.
        crate::ops::watchdog::ready();
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
