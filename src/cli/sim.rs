//! `kiosk sim …`: simulators of the platform's outside services, each speaking the real
//! service's bytes through the adapter's own protocol code.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::providers::alipay::sim;

#[derive(Subcommand, Debug)]
pub enum SimCommand {
    /// Alipay's gateway (当面付: alipay.trade.precreate / query / refund, RSA2) with a phone:
    /// `POST /phone/pay` (form `qr_code=…`) pays an order and posts the signed notification to its
    /// notify_url. Keys: DIR/app_private_key.pem (give it to the platform as
    /// `[payment] private_key_file`), DIR/alipay_public_key.pem (`alipay_public_key_file`); made
    /// there at the first start. Prints `listening on http://ADDR` first.
    Alipay {
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// Where the key pairs are (made when absent).
        #[arg(long)]
        keys: PathBuf,
        /// The app id the simulator accepts (`[payment] app_id`).
        #[arg(long, default_value = "2021000000000001")]
        app_id: String,
    },
}

pub fn run(what: SimCommand) -> anyhow::Result<i32> {
    match what {
        SimCommand::Alipay {
            listen,
            keys,
            app_id,
        } => {
            let k = sim::SimKeys::load_or_create(&keys)
                .with_context(|| format!("keys in {}", keys.display()))?;
            sim::run(listen, &app_id, k, |h| {
                let _ = crate::outln!("listening on http://{}", h.addr);
                let _ = crate::outln!("gateway {}", h.gateway());
            })?;
            Ok(0)
        }
    }
}
