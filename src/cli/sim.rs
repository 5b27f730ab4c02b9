//! `kiosk sim …`: simulators of outside services, speaking their real bytes.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Subcommand;

use crate::providers::face_sim::{FaceSim, VERIFY_PATH, run};

#[derive(Subcommand, Debug)]
pub enum SimCommand {
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
}

pub fn run_sim(command: SimCommand) -> anyhow::Result<i32> {
    match command {
        SimCommand::Face {
            listen,
            faces,
            api_key_file,
        } => {
            let mut sim = FaceSim::default();
            if let Some(file) = api_key_file {
                let key = std::fs::read_to_string(&file).map_err(|e| {
                    anyhow::anyhow!("cannot read the API key file {}: {e}", file.display())
                })?;
                sim.api_key = Some(key.trim().to_string());
            }
            let n = sim.load_faces(&faces)?;
            crate::errln!(
                "kiosk sim face: {n} reference photos from {}",
                faces.display()
            );
            run(sim, listen, |addr| {
                let _ = crate::outln!("listening on http://{addr}{VERIFY_PATH}");
            })?;
            Ok(0)
        }
    }
}
