//! The face verification service's simulator (`kiosk sim face`, and [`spawn`] for tests): the
//! contract of [`super::face_http`], byte for byte. It decides by a registry the caller controls —
//! ID number → SHA-256 of the reference photo — so a frame is a match exactly when it is the
//! registered photo: the test camera playing that file matches, any other image does not.
//!
//! Answers: `200` `match` (score 0.97) when the image's hash is the one registered for the ID
//! number; `200` `no_match` with reason `different_person` (score 0.08) when another image
//! is registered, `no_reference_photo` (score 0.0) when none is; `400` for a request that breaks
//! the contract (not JSON, a bad ID number, bad base64, not a whole JPEG); `401` without the key
//! when one is set. [`Behaviour`] injects the faults a real service shows.

use super::sim_serve::{self, ServeError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::face_http::{Decision, MAX_REQUEST_BYTES, VerifyAnswer, VerifyRequest};
use crate::domain::IdNumber;

/// The path the simulator serves the contract on.
pub const VERIFY_PATH: &str = "/v1/face/verify";

/// How the simulator answers (fault injection for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// By the registry.
    #[default]
    Decide,
    /// `200` with a body that is not the contract's JSON.
    Garbled,
    /// This status with an error body.
    Status(u16),
    /// Say nothing for this long, then decide.
    Stall(Duration),
}

/// The simulator's state, shared with the test (or the command) that runs it.
#[derive(Clone, Default)]
pub struct FaceSim {
    /// ID number (clear, 18 characters) → SHA-256 of the reference photo.
    pub registry: Arc<Mutex<HashMap<String, [u8; 32]>>>,
    pub behaviour: Arc<Mutex<Behaviour>>,
    /// When set, requests must carry `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Requests answered (any status).
    pub requests: Arc<std::sync::atomic::AtomicU64>,
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum FaceSimError {
    #[error("cannot read the reference photos in {dir}: {source}")]
    Faces { dir: String, source: std::io::Error },
    #[error("reference photo {file}: the name must be an ID number (ID.jpg)")]
    BadName { file: String },
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// SHA-256 of an image, as the registry keeps it.
pub fn image_hash(jpeg: &[u8]) -> [u8; 32] {
    Sha256::digest(jpeg).into()
}

impl FaceSim {
    /// Register `jpeg` as the reference photo of `id`.
    pub fn register(&self, id: &IdNumber, jpeg: &[u8]) {
        if let Ok(mut r) = self.registry.lock() {
            r.insert(id.expose().to_string(), image_hash(jpeg));
        }
    }

    pub fn set_behaviour(&self, b: Behaviour) {
        if let Ok(mut g) = self.behaviour.lock() {
            *g = b;
        }
    }

    /// Load `DIR/<ID number>.jpg` (or `.jpeg`) as the reference photos; other files are refused.
    pub fn load_faces(&self, dir: &Path) -> Result<usize, FaceSimError> {
        let io = |source| FaceSimError::Faces {
            dir: dir.display().to_string(),
            source,
        };
        let mut n = 0;
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let id = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| IdNumber::parse(s).ok())
                .filter(|_| {
                    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg")
                    })
                })
                .ok_or_else(|| FaceSimError::BadName {
                    file: path.display().to_string(),
                })?;
            let bytes = std::fs::read(&path).map_err(io)?;
            self.register(&id, &bytes);
            n += 1;
        }
        Ok(n)
    }

    fn router(self) -> Router {
        Router::new()
            .route(VERIFY_PATH, post(verify))
            .route("/healthz", get(|| async { "ok" }))
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(self)
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        serde_json::json!({ "error": code, "message": message }).to_string(),
    )
        .into_response()
}

async fn verify(State(sim): State<FaceSim>, headers: HeaderMap, body: Bytes) -> Response {
    sim.requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let behaviour = sim.behaviour.lock().map(|b| *b).unwrap_or_default();
    match behaviour {
        Behaviour::Decide => {}
        Behaviour::Garbled => return (StatusCode::OK, "{\"decision\": mat").into_response(),
        Behaviour::Status(s) => {
            let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(
                status,
                "unavailable",
                "the comparison service is unavailable",
            );
        }
        Behaviour::Stall(d) => tokio::time::sleep(d).await,
    }
    if let Some(key) = &sim.api_key {
        let given = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(key.as_str()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid API key is required",
            );
        }
    }
    let Ok(req) = serde_json::from_slice::<VerifyRequest>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body is not the contract's JSON",
        );
    };
    let Ok(id) = IdNumber::parse(&req.id_number) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_id_number",
            "id_number is not a valid ID number",
        );
    };
    let Ok(jpeg) = base64::engine::general_purpose::STANDARD.decode(&req.image_jpeg) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_image",
            "image_jpeg is not standard base64",
        );
    };
    if let Err(why) = crate::devices::camera::jpeg::inspect(&jpeg) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_image",
            &format!("image_jpeg is not a whole JPEG image: {why}"),
        );
    }
    let expected = sim
        .registry
        .lock()
        .ok()
        .and_then(|r| r.get(id.expose()).copied());
    let (decision, score, reason) = match expected {
        Some(h) if h == image_hash(&jpeg) => (Decision::Match, 0.97, None),
        Some(_) => (Decision::NoMatch, 0.08, Some("different_person")),
        None => (Decision::NoMatch, 0.0, Some("no_reference_photo")),
    };
    tracing::info!(id = %id, ?decision, kiosk = %req.kiosk_id, "face sim: answered");
    let answer = VerifyAnswer {
        request_id: req.request_id.clone(),
        decision,
        score,
        reason: reason.map(str::to_string),
    };
    axum::Json(answer).into_response()
}

/// Serve until the process ends; `ready` is told the address listened on (port 0 picks one).
pub fn run(
    sim: FaceSim,
    listen: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), FaceSimError> {
    Ok(sim_serve::serve(listen, sim.router(), ready)?)
}

/// Run the simulator on a background thread of this process; its verification URL once it
/// listens (`http://ADDR/v1/face/verify`). The thread serves until the process ends.
pub fn spawn(sim: FaceSim) -> Result<String, FaceSimError> {
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let addr = sim_serve::spawn("face-sim", listen, sim.router(), |addr| addr)?;
    Ok(format!("http://{addr}{VERIFY_PATH}"))
}
