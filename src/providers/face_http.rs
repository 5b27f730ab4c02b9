//! The face check for real: a frame from the camera and the person's ID number go to the
//! configured face verification service (人脸比对服务) over HTTP(S), which answers match / no
//! match with a score. Liveness detection (活体检测) is the service's job, not the kiosk's.
//!
//! The contract (no public standard exists for the public-security comparison service; this is
//! the kiosk's, documented in `hardware/README.md`, "Face verification service"):
//!
//! `POST <url>`, `Content-Type: application/json`, optional `Authorization: Bearer <key>`,
//! `X-Request-Id: <32 hex>`; the body (at most [`MAX_REQUEST_BYTES`]):
//! `{"request_id": "<32 hex>", "kiosk_id": "…", "id_number": "<18 characters>",
//!   "image_jpeg": "<standard base64 of one JPEG>", "width": 640, "height": 480}`.
//!
//! `200` with `{"request_id": "<the same>", "decision": "match" | "no_match",
//! "score": 0.0–1.0, "reason": "…"}` (`reason` optional: `different_person`, `liveness`,
//! `no_face`, `no_reference_photo`, …) is a decision; anything else — another status, a body that
//! is not this JSON, another `request_id`, a score outside 0–1, no answer within `timeout_ms` — is
//! a service error, and the person is told the check could not be done (never that it passed).

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::FaceSection;
use crate::devices::DeviceError;
use crate::devices::camera::{AnyCamera, Camera, CameraUri, Frame};
use crate::domain::IdNumber;
use crate::flow::ports::{FaceOutcome, FaceVerifier};
use crate::privacy::Masked;

use super::ProvidersError;

/// The largest request body: one frame ([`crate::devices::camera::MAX_FRAME_BYTES`]) in base64
/// plus the fields.
pub const MAX_REQUEST_BYTES: usize = crate::devices::camera::MAX_FRAME_BYTES / 3 * 4 + 64 * 1024;
/// The largest answer read.
pub const MAX_ANSWER_BYTES: u64 = 64 * 1024;
/// How long the camera may take to give a frame.
pub const CAPTURE_DEADLINE: Duration = Duration::from_secs(5);
/// The longest connection set-up (within `timeout_ms`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

// A check (the camera's deadline, then the longest `timeout_ms`) ends well within the time the
// watchdog gives the flow's worker for one effect.
const _: () = assert!(
    CAPTURE_DEADLINE.as_millis() + (*crate::config::FACE_TIMEOUT_MS.end() as u128)
        < crate::flow::observe::EFFECT_DEADLINE.as_millis()
);

/// The request body.
#[derive(Serialize, Deserialize)]
pub struct VerifyRequest {
    pub request_id: String,
    pub kiosk_id: String,
    pub id_number: String,
    /// Standard base64 (with padding) of the JPEG.
    pub image_jpeg: String,
    pub width: u16,
    pub height: u16,
}

impl Drop for VerifyRequest {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        self.id_number.zeroize();
        self.image_jpeg.zeroize();
    }
}

/// The answer of a decision (`200`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerifyAnswer {
    pub request_id: String,
    pub decision: Decision,
    pub score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Match,
    NoMatch,
}

/// The service's decision on one frame.
#[derive(Debug, Clone, PartialEq)]
pub enum FaceDecision {
    Match { score: f64 },
    NoMatch { score: f64, reason: Option<String> },
}

/// The service gave no decision.
#[derive(Debug, thiserror::Error)]
pub enum FaceServiceError {
    /// Nothing answered: refused, unreachable, or no answer in time.
    #[error("the face verification service did not answer: {0}")]
    Unreachable(String),
    /// An answer that is not a decision (another status).
    #[error("the face verification service answered {status}: {message}")]
    Status { status: u16, message: String },
    /// A 200 whose body does not follow the contract.
    #[error("the face verification service's answer is not understood: {0}")]
    Garbled(String),
}

/// A face check that could not be done: the camera or the service.
#[derive(Debug, thiserror::Error)]
pub enum FaceCheckError {
    #[error(transparent)]
    Camera(#[from] crate::devices::camera::CameraError),
    #[error(transparent)]
    Service(#[from] FaceServiceError),
}

/// A client of the verification service.
pub struct FaceService {
    url: String,
    agent: ureq::Agent,
    kiosk_id: String,
    api_key: Option<Masked<String>>,
}

impl FaceService {
    /// A client of `url` whose every call ends within `timeout`.
    pub fn new(url: &str, kiosk_id: &str, timeout: Duration) -> FaceService {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT.min(timeout)))
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        FaceService {
            url: url.trim().to_string(),
            agent,
            kiosk_id: kiosk_id.to_string(),
            api_key: None,
        }
    }

    /// Send `Authorization: Bearer <key>` with every call.
    pub fn with_api_key(mut self, key: String) -> FaceService {
        self.api_key = Some(Masked::new(key));
        self
    }

    /// Ask the service whether `frame` shows the holder of `id`.
    pub fn check(&self, id: &IdNumber, frame: &Frame) -> Result<FaceDecision, FaceServiceError> {
        let request_id = crate::wire::random_hex(16);
        let request = VerifyRequest {
            request_id: request_id.clone(),
            kiosk_id: self.kiosk_id.clone(),
            id_number: id.expose().to_string(),
            image_jpeg: base64::engine::general_purpose::STANDARD.encode(&frame.jpeg),
            width: frame.width,
            height: frame.height,
        };
        let body = Zeroizing::new(
            serde_json::to_vec(&request)
                .map_err(|e| FaceServiceError::Garbled(format!("encoding the request: {e}")))?,
        );
        drop(request);
        let mut req = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-request-id", request_id.as_str());
        if let Some(key) = &self.api_key {
            req = req.header("authorization", format!("Bearer {}", key.expose()));
        }
        let mut resp = req
            .send(&body[..])
            .map_err(|e| FaceServiceError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| FaceServiceError::Unreachable(format!("reading the answer: {e}")))?;
        if status != 200 {
            return Err(FaceServiceError::Status {
                status,
                message: error_message(&bytes),
            });
        }
        let answer: VerifyAnswer =
            serde_json::from_slice(&bytes).map_err(|e| FaceServiceError::Garbled(e.to_string()))?;
        if answer.request_id != request_id {
            return Err(FaceServiceError::Garbled(format!(
                "the answer is for request {:?}, not {request_id:?}",
                answer.request_id
            )));
        }
        if !(answer.score.is_finite() && (0.0..=1.0).contains(&answer.score)) {
            return Err(FaceServiceError::Garbled(format!(
                "score {} is not within 0–1",
                answer.score
            )));
        }
        Ok(match answer.decision {
            Decision::Match => FaceDecision::Match {
                score: answer.score,
            },
            Decision::NoMatch => FaceDecision::NoMatch {
                score: answer.score,
                reason: answer.reason.map(|r| r.chars().take(64).collect()),
            },
        })
    }
}

/// An error body's message (`{"error": …, "message": …}`), or the start of the body as text.
fn error_message(bytes: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: Option<String>,
        message: Option<String>,
    }
    let text = match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(ErrorBody { error, message }) => [error, message]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": "),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    };
    // An error text may echo the request: at most 200 characters, numbers masked.
    mask_numbers(&text.chars().take(200).collect::<String>())
}

/// `text` with every run of 6 or more digits (or `X`, an ID number's check character) masked
/// (an ID number or a phone an error message may echo).
fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().filter(char::is_ascii_digit).count() >= 6 {
            out.push_str(&crate::privacy::mask_text(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || c == 'X' || c == 'x' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The production face verifier: a frame from `camera`, checked by the service.
pub struct HttpFaceVerifier<C: Camera> {
    camera: C,
    service: FaceService,
    capture_for: Duration,
}

impl<C: Camera> HttpFaceVerifier<C> {
    pub fn new(camera: C, service: FaceService) -> Self {
        HttpFaceVerifier {
            camera,
            service,
            capture_for: CAPTURE_DEADLINE,
        }
    }

    /// One check: capture, then ask the service.
    pub fn check(&mut self, id: &IdNumber) -> Result<FaceDecision, FaceCheckError>
    where
        C::Error: Into<crate::devices::camera::CameraError>,
    {
        let frame = self
            .camera
            .capture(Instant::now() + self.capture_for)
            .map_err(Into::into)?;
        Ok(self.service.check(id, &frame)?)
    }
}

impl<C: Camera> FaceVerifier for HttpFaceVerifier<C>
where
    C::Error: Into<crate::devices::camera::CameraError>,
{
    fn is_demo(&self) -> bool {
        false
    }

    fn verify(&mut self, id: &IdNumber) -> FaceOutcome {
        // `id` displays masked; the clear number goes only into the request body.
        match self.check(id) {
            Ok(FaceDecision::Match { score }) => {
                tracing::info!(%id, score, "face check: match");
                FaceOutcome::Match
            }
            Ok(FaceDecision::NoMatch { score, reason }) => {
                tracing::warn!(%id, score, reason = reason.as_deref().unwrap_or(""), "face check: no match");
                FaceOutcome::NoMatch
            }
            Err(FaceCheckError::Camera(e)) => {
                tracing::warn!(%id, kind = ?e.kind(), error = %e, "face check: camera failed");
                FaceOutcome::Unavailable
            }
            Err(FaceCheckError::Service(e)) => {
                tracing::warn!(%id, error = %e, "face check: service failed");
                FaceOutcome::ServiceUnavailable
            }
        }
    }
}

/// The verifier `[face] provider = "http"` names: its camera opened, its API key read.
pub fn from_section(
    section: &FaceSection,
    kiosk_id: &str,
) -> Result<HttpFaceVerifier<AnyCamera>, ProvidersError> {
    let bad = |key: &'static str, message: String| ProvidersError::Config { key, message };
    section
        .validate()
        .map_err(|(key, message)| bad(key, message))?;
    let uri: CameraUri = section
        .camera
        .trim()
        .parse()
        .map_err(|e: crate::devices::UriError| bad("face.camera", e.to_string()))?;
    let camera = AnyCamera::open(&uri).map_err(|e| bad("face.camera", e.to_string()))?;
    let mut service = FaceService::new(
        &section.url,
        kiosk_id,
        Duration::from_millis(u64::from(section.timeout_ms)),
    );
    let key_file = section.api_key_file.trim();
    if !key_file.is_empty() {
        let key = std::fs::read_to_string(key_file)
            .map_err(|e| bad("face.api_key_file", format!("cannot read {key_file}: {e}")))?;
        let key = key.trim();
        if key.is_empty() || key.len() > 4096 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "face.api_key_file",
                format!("{key_file} must hold one key of printable characters"),
            ));
        }
        service = service.with_api_key(key.to_string());
    }
    Ok(HttpFaceVerifier::new(camera, service))
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::devices::ErrorKind;
    use crate::devices::camera::{FilesCamera, jpeg};
    use crate::providers::face_sim::{self, Behaviour, FaceSim};

    const HOLDER: &str = "500101199001011234";

    fn holder() -> IdNumber {
        // A valid number: the check character computed.
        let first17 = &HOLDER[..17];
        IdNumber::parse(&format!(
            "{first17}{}",
            crate::domain::id_number::check_character(first17)
        ))
        .unwrap()
    }

    fn photo(tag: &[u8]) -> Vec<u8> {
        jpeg::synthetic(640, 480, tag)
    }

    /// A camera directory holding these files, in this order.
    fn camera(files: &[(&str, Vec<u8>)]) -> (tempfile::TempDir, FilesCamera) {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let cam = FilesCamera::open(dir.path()).unwrap();
        (dir, cam)
    }

    fn sim_with_holder() -> (FaceSim, String) {
        let sim = FaceSim::default();
        sim.register(&holder(), &photo(b"holder"));
        let url = face_sim::spawn(sim.clone()).unwrap();
        (sim, url)
    }

    fn verifier(url: &str, cam: FilesCamera, timeout_ms: u64) -> HttpFaceVerifier<FilesCamera> {
        HttpFaceVerifier::new(
            cam,
            FaceService::new(url, "KIOSK-T1", Duration::from_millis(timeout_ms)),
        )
    }

    #[test]
    fn the_registered_photo_is_a_match_and_another_face_is_no_match_with_a_score() {
        let (_sim, url) = sim_with_holder();
        let (_d, cam) = camera(&[("1.jpg", photo(b"holder")), ("2.jpg", photo(b"stranger"))]);
        let mut v = verifier(&url, cam, 5000);
        assert!(!v.is_demo());
        assert!(
            matches!(v.check(&holder()).unwrap(), FaceDecision::Match { score } if score > 0.9)
        );
        match v.check(&holder()).unwrap() {
            FaceDecision::NoMatch { score, reason } => {
                assert!(score < 0.5, "{score}");
                assert_eq!(reason.as_deref(), Some("different_person"));
            }
            other => panic!("{other:?}"),
        }
        // Through the flow's port: match, then no match.
        assert_eq!(v.verify(&holder()), FaceOutcome::Match);
        assert_eq!(v.verify(&holder()), FaceOutcome::NoMatch);
    }

    #[test]
    fn a_person_without_a_reference_photo_is_no_match() {
        let (_sim, url) = sim_with_holder();
        let (_d, cam) = camera(&[("1.jpg", photo(b"holder"))]);
        let other = IdNumber::synthesize("500101", jiff::civil::date(1985, 5, 5), 7).unwrap();
        let decision = verifier(&url, cam, 5000).check(&other).unwrap();
        assert!(
            matches!(decision, FaceDecision::NoMatch { reason: Some(r), .. } if r == "no_reference_photo")
        );
    }

    #[test]
    fn a_service_that_is_down_is_refused_with_a_message_and_never_a_match() {
        // A port nobody listens on: the connection is refused at once.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let url = format!("http://{addr}/v1/face/verify");
        let (_d, cam) = camera(&[("1.jpg", photo(b"holder"))]);
        let mut v = verifier(&url, cam, 30_000);
        let err = v.check(&holder()).unwrap_err();
        assert!(
            matches!(
                err,
                FaceCheckError::Service(FaceServiceError::Unreachable(_))
            ),
            "{err}"
        );
        assert!(err.to_string().contains("did not answer"), "{err}");
        assert_eq!(v.verify(&holder()), FaceOutcome::ServiceUnavailable);
    }

    #[test]
    fn a_service_that_does_not_answer_is_given_up_at_the_timeout() {
        let (sim, url) = sim_with_holder();
        // It would answer match after a minute: the verifier's timeout ends the call first.
        sim.set_behaviour(Behaviour::Stall(Duration::from_secs(60)));
        let (_d, cam) = camera(&[("1.jpg", photo(b"holder"))]);
        let mut v = verifier(&url, cam, 500);
        let err = v.check(&holder()).unwrap_err();
        assert!(
            matches!(
                err,
                FaceCheckError::Service(FaceServiceError::Unreachable(_))
            ),
            "{err}"
        );
        assert_eq!(v.verify(&holder()), FaceOutcome::ServiceUnavailable);
    }

    #[test]
    fn a_garbled_answer_is_a_service_error_never_a_match() {
        let (sim, url) = sim_with_holder();
        sim.set_behaviour(Behaviour::Garbled);
        let (_d, cam) = camera(&[("1.jpg", photo(b"holder"))]);
        let mut v = verifier(&url, cam, 5000);
        let err = v.check(&holder()).unwrap_err();
        assert!(
            matches!(err, FaceCheckError::Service(FaceServiceError::Garbled(_))),
            "{err}"
        );
        assert_eq!(v.verify(&holder()), FaceOutcome::ServiceUnavailable);
    }

    #[test]
    fn an_error_status_is_a_service_error_with_the_services_message() {
        let (sim, url) = sim_with_holder();
        sim.set_behaviour(Behaviour::Status(503));
        let (_d, cam) = camera(&[("1.jpg", photo(b"holder"))]);
        let err = verifier(&url, cam, 5000).check(&holder()).unwrap_err();
        match err {
            FaceCheckError::Service(FaceServiceError::Status { status, message }) => {
                assert_eq!(status, 503);
                assert!(message.contains("unavailable"), "{message}");
            }
            other => panic!("{other}"),
        }
    }

    /// A request as the one-shot server saw it: its head lines and its body.
    type Seen = Arc<Mutex<Option<(Vec<String>, Vec<u8>)>>>;

    /// A one-shot HTTP server: records the request, answers `answer(request_id)`.
    fn one_shot(answer: impl FnOnce(&str) -> String + Send + 'static) -> (String, Seen) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/verify", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(None));
        let record = seen.clone();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end().to_string();
                if line.is_empty() {
                    break;
                }
                head.push(line);
            }
            let len: usize = head
                .iter()
                .find_map(|h| {
                    h.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.parse().unwrap())
                })
                .unwrap();
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let req: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let text = answer(req["request_id"].as_str().unwrap());
            *record.lock().unwrap() = Some((head, body));
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            )
            .unwrap();
        });
        (url, seen)
    }

    #[test]
    fn the_request_follows_the_contract() {
        let (url, seen) =
            one_shot(|rid| format!(r#"{{"request_id":"{rid}","decision":"match","score":0.91}}"#));
        let (_d, cam) = camera(&[("1.jpg", photo(b"holder"))]);
        let service =
            FaceService::new(&url, "KIOSK-T1", Duration::from_secs(5)).with_api_key("k-123".into());
        let mut v = HttpFaceVerifier::new(cam, service);
        assert!(matches!(
            v.check(&holder()).unwrap(),
            FaceDecision::Match { .. }
        ));
        let (head, body) = seen.lock().unwrap().take().unwrap();
        assert!(head[0].starts_with("POST /verify HTTP/1.1"), "{head:?}");
        let header = |name: &str| {
            head.iter()
                .find_map(|h| {
                    let (k, v) = h.split_once(": ")?;
                    k.eq_ignore_ascii_case(name).then(|| v.to_string())
                })
                .unwrap_or_else(|| panic!("no {name} in {head:?}"))
        };
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(header("authorization"), "Bearer k-123");
        let req: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(req["request_id"], header("x-request-id"));
        assert_eq!(req["request_id"].as_str().unwrap().len(), 32);
        assert_eq!(req["kiosk_id"], "KIOSK-T1");
        assert_eq!(req["id_number"], holder().expose());
        assert_eq!(
            (req["width"].as_u64(), req["height"].as_u64()),
            (Some(640), Some(480))
        );
        let image = base64::engine::general_purpose::STANDARD
            .decode(req["image_jpeg"].as_str().unwrap())
            .unwrap();
        assert_eq!(image, photo(b"holder"));
    }

    #[test]
    fn an_answer_for_another_request_or_with_a_score_out_of_range_is_refused() {
        for answer in [
            |_: &str| r#"{"request_id":"0000","decision":"match","score":0.99}"#.to_string(),
            |rid: &str| format!(r#"{{"request_id":"{rid}","decision":"match","score":1.5}}"#),
            |rid: &str| format!(r#"{{"request_id":"{rid}","decision":"maybe","score":0.5}}"#),
            |rid: &str| format!(r#"{{"request_id":"{rid}","decision":"match"}}"#),
        ] {
            let (url, _) = one_shot(answer);
            let (_d, cam) = camera(&[("1.jpg", photo(b"holder"))]);
            let err = verifier(&url, cam, 5000).check(&holder()).unwrap_err();
            assert!(
                matches!(err, FaceCheckError::Service(FaceServiceError::Garbled(_))),
                "{err}"
            );
        }
    }

    #[test]
    fn the_api_key_is_required_by_the_simulator_when_set() {
        let sim = FaceSim {
            api_key: Some("s3cret".into()),
            ..FaceSim::default()
        };
        sim.register(&holder(), &photo(b"holder"));
        let url = face_sim::spawn(sim).unwrap();
        let (_d, cam) = camera(&[("1.jpg", photo(b"holder"))]);
        let err = verifier(&url, cam, 5000).check(&holder()).unwrap_err();
        assert!(
            matches!(
                err,
                FaceCheckError::Service(FaceServiceError::Status { status: 401, .. })
            ),
            "{err}"
        );
        let (_d, cam) = camera(&[("1.jpg", photo(b"holder"))]);
        let service =
            FaceService::new(&url, "K", Duration::from_secs(5)).with_api_key("s3cret".into());
        let decision = HttpFaceVerifier::new(cam, service)
            .check(&holder())
            .unwrap();
        assert!(matches!(decision, FaceDecision::Match { .. }));
    }

    #[test]
    fn a_garbled_camera_file_is_a_camera_failure_and_nothing_is_sent() {
        let (sim, url) = sim_with_holder();
        let (_d, cam) = camera(&[("1.jpg", b"\xFF\xD8\xFF\xC0 truncated".to_vec())]);
        let mut v = verifier(&url, cam, 5000);
        let err = v.check(&holder()).unwrap_err();
        assert!(
            matches!(&err, FaceCheckError::Camera(e) if e.kind() == ErrorKind::InvalidData),
            "{err}"
        );
        assert_eq!(v.verify(&holder()), FaceOutcome::Unavailable);
        assert_eq!(sim.requests.load(std::sync::atomic::Ordering::Relaxed), 0);
    }

    #[test]
    fn the_simulator_refuses_a_request_that_breaks_the_contract() {
        let (_sim, url) = sim_with_holder();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let good = serde_json::json!({
            "request_id": "ab", "kiosk_id": "K", "id_number": holder().expose(),
            "image_jpeg": base64::engine::general_purpose::STANDARD.encode(photo(b"holder")),
            "width": 640, "height": 480,
        });
        let mut cases = vec![("not json".to_string(), "bad_request")];
        let mut bad_id = good.clone();
        bad_id["id_number"] = "500101199001011230".into();
        cases.push((bad_id.to_string(), "bad_id_number"));
        let mut bad_b64 = good.clone();
        bad_b64["image_jpeg"] = "!!!".into();
        cases.push((bad_b64.to_string(), "bad_image"));
        let mut not_jpeg = good.clone();
        not_jpeg["image_jpeg"] = base64::engine::general_purpose::STANDARD
            .encode(b"GIF89a")
            .into();
        cases.push((not_jpeg.to_string(), "bad_image"));
        for (body, code) in cases {
            let mut resp = agent.post(&url).send(body.as_bytes()).unwrap();
            assert_eq!(resp.status().as_u16(), 400, "{body}");
            let text = resp.body_mut().read_to_string().unwrap();
            assert!(text.contains(code), "{text}");
        }
        let mut resp = agent.post(&url).send(good.to_string().as_bytes()).unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert!(
            resp.body_mut()
                .read_to_string()
                .unwrap()
                .contains("\"match\"")
        );
    }

    #[test]
    fn an_error_message_keeps_its_words_and_masks_numbers() {
        assert_eq!(
            error_message(br#"{"error":"bad","message":"no photo for 50010619851120002X"}"#),
            "bad: no photo for 5001**********002X"
        );
        assert_eq!(
            error_message(b"overloaded, retry in 30 s"),
            "overloaded, retry in 30 s"
        );
        assert_eq!(error_message(&[b'x'; 1000]).len(), 200);
    }

    #[test]
    fn from_section_names_the_key_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jpg"), photo(b"a")).unwrap();
        let good = FaceSection {
            provider: "http".into(),
            url: "http://127.0.0.1:9/v1/face/verify".into(),
            camera: format!("files:{}", dir.path().display()),
            ..FaceSection::default()
        };
        assert!(from_section(&good, "K").is_ok());
        let cases: [(FaceSection, &str); 4] = [
            (
                FaceSection {
                    camera: "webcam0".into(),
                    ..good.clone()
                },
                "face.camera",
            ),
            (
                FaceSection {
                    camera: format!("files:{}/none", dir.path().display()),
                    ..good.clone()
                },
                "face.camera",
            ),
            (
                FaceSection {
                    api_key_file: format!("{}/no-key", dir.path().display()),
                    ..good.clone()
                },
                "face.api_key_file",
            ),
            (
                FaceSection {
                    url: "face.example".into(),
                    ..good.clone()
                },
                "face.url",
            ),
        ];
        for (section, key) in cases {
            match from_section(&section, "K") {
                Err(ProvidersError::Config { key: k, .. }) => assert_eq!(k, key, "{section:?}"),
                Ok(_) => panic!("{section:?} was accepted"),
            }
        }
    }

    /// Everything the adapter logs (at every level) for a match, a no match, a camera failure and
    /// a service failure: the ID number appears masked, never in clear.
    #[test]
    fn the_id_number_is_in_no_log_line() {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let (sim, url) = sim_with_holder();
        let (_d, cam) = camera(&[
            ("1.jpg", photo(b"holder")),
            ("2.jpg", photo(b"stranger")),
            ("3.jpg", b"garbled".to_vec()),
        ]);
        let mut v = verifier(&url, cam, 5000);
        let id = holder();
        tracing::subscriber::with_default(subscriber, || {
            assert_eq!(v.verify(&id), FaceOutcome::Match);
            assert_eq!(v.verify(&id), FaceOutcome::NoMatch);
            assert_eq!(v.verify(&id), FaceOutcome::Unavailable);
            sim.set_behaviour(Behaviour::Status(500));
            assert_eq!(v.verify(&id), FaceOutcome::ServiceUnavailable);
        });
        let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(logs.lines().count(), 4, "{logs}");
        assert!(logs.contains(&id.masked()), "{logs}");
        assert!(!logs.contains(id.expose()), "{logs}");
        // Nor its distinctive middle (birth date and sequence).
        assert!(!logs.contains(&id.expose()[6..17]), "{logs}");
    }
}
