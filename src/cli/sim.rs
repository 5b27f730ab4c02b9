//! `kiosk sim …` (`alipay`, `sms`, `face`, `wecom`): the simulators of the outside services, each speaking the service's bytes
//! through the adapter's own code (`crate::providers`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use super::parse;
use crate::providers::face_sim::{self, FaceSim};
use crate::providers::sms_aliyun_sim::{self, SimClock, SimOptions};

#[derive(Parser, Debug)]
struct SimCli {
    #[command(subcommand)]
    command: SimCommand,
}

#[derive(Subcommand, Debug)]
enum SimCommand {
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
    /// Alibaba Cloud SMS `SendSms` (Dysmsapi 2017-05-25, RPC signature HMAC-SHA1) at `/`, and
    /// each phone's inbox at `GET /sim/inbox?phone=…`. Templates `SMS_100000001` (registration:
    /// `code`) and `SMS_100000002` (filing consent: `code`, `plate`), sign name 交管12123; flow
    /// control 1 a minute, 5 an hour, 10 a day per phone. Prints `listening on http://ADDR/`.
    Sms {
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8091")]
        listen: SocketAddr,
        /// The AccessKey id it accepts.
        #[arg(long)]
        access_key_id: String,
        /// A file holding the AccessKey secret (first line).
        #[arg(long)]
        secret_file: PathBuf,
        /// Count time by each request's `Timestamp` (a demo on a simulated clock) instead of the
        /// machine's clock (then a request more than 15 minutes off is refused).
        #[arg(long)]
        request_clock: bool,
    },
    /// The face verification service (the contract in hardware/README.md): `POST
    /// /v1/face/verify` answers match when the image is byte for byte the reference photo
    /// `FACES/<ID number>.jpg`, no_match otherwise. Prints `listening on http://ADDR/v1/face/verify`
    /// first (the kiosk's `[face] url`).
    Face {
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:7700")]
        listen: SocketAddr,
        /// The reference photos: one `<ID number>.jpg` per person.
        #[arg(long)]
        faces: PathBuf,
        /// A file holding the API key the kiosk must send (Authorization: Bearer); none: any.
        #[arg(long)]
        api_key_file: Option<PathBuf>,
    },
    /// A WeCom (企业微信) group robot's webhook, for 呼叫工作人员 (`[staff_call] provider =
    /// "wecom"`): `POST /cgi-bin/webhook/send?key=KEY` takes `{"msgtype":"text","text":{…}}` and
    /// answers `{"errcode":0,"errmsg":"ok"}` (93000 for another key); `GET /sim/messages` lists
    /// the last 200 messages. Prints the webhook URL first (the kiosk's `[staff_call] url`).
    Wecom {
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8092")]
        listen: SocketAddr,
        /// The robot's key the simulator accepts.
        #[arg(long, default_value = "kiosk-sim-robot")]
        key: String,
    },
}

/// `kiosk sim ARGS…`.
pub fn run(args: Vec<String>) -> anyhow::Result<i32> {
    let cli: SimCli = match parse("kiosk sim", args) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    match cli.command {
        SimCommand::Alipay {
            listen,
            keys,
            app_id,
        } => {
            let k = crate::providers::alipay::sim::SimKeys::load_or_create(&keys)
                .with_context(|| format!("keys in {}", keys.display()))?;
            crate::providers::alipay::sim::run(listen, &app_id, k, |h| {
                let _ = crate::outln!("listening on http://{}", h.addr);
                let _ = crate::outln!("gateway {}", h.gateway());
            })?;
            Ok(0)
        }
        SimCommand::Sms {
            listen,
            access_key_id,
            secret_file,
            request_clock,
        } => {
            let secret = std::fs::read_to_string(&secret_file)
                .with_context(|| format!("reading --secret-file {}", secret_file.display()))?;
            let secret = secret.lines().next().unwrap_or("").trim().to_string();
            anyhow::ensure!(
                !secret.is_empty(),
                "--secret-file {}: empty",
                secret_file.display()
            );
            let clock = if request_clock {
                SimClock::Request
            } else {
                SimClock::Wall
            };
            sms_aliyun_sim::serve(
                SimOptions::kiosk(&access_key_id, &secret, clock),
                listen,
                |addr, _| {
                    let _ = crate::term::out(format!("listening on http://{addr}/\n"));
                },
            )
            .context("the SMS simulator")?;
            Ok(0)
        }
        SimCommand::Face {
            listen,
            faces,
            api_key_file,
        } => {
            let mut sim = FaceSim::default();
            if let Some(file) = api_key_file {
                let key = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading --api-key-file {}", file.display()))?;
                sim.api_key = Some(key.trim().to_string());
            }
            let n = sim.load_faces(&faces)?;
            crate::errln!(
                "kiosk sim face: {n} reference photos from {}",
                faces.display()
            );
            face_sim::run(sim, listen, |addr| {
                let _ = crate::outln!("listening on http://{addr}{}", face_sim::VERIFY_PATH);
            })
            .context("the face verification simulator")?;
            Ok(0)
        }
        SimCommand::Wecom { listen, key } => {
            let sim = crate::providers::wecom_sim::WecomSim::new(&key);
            crate::providers::wecom_sim::run(sim, listen, |addr| {
                let _ = crate::outln!(
                    "listening on {}",
                    crate::providers::wecom_sim::webhook(addr, &key)
                );
            })
            .context("the WeCom robot simulator")?;
            Ok(0)
        }
    }
}
