//! `kiosk sim face`, run as a subprocess, against the kiosk's own HTTP face verifier: the
//! simulator command serves the contract the adapter speaks (hardware/README.md).

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kiosk::devices::camera::{FilesCamera, jpeg};
use kiosk::domain::IdNumber;
use kiosk::flow::ports::{FaceOutcome, FaceVerifier};
use kiosk::providers::face_http::{FaceService, HttpFaceVerifier};

const KIOSK: &str = env!("CARGO_BIN_EXE_kiosk");

/// Kills the simulator when the test ends.
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn holder() -> IdNumber {
    IdNumber::synthesize("500106", jiff::civil::date(1985, 11, 20), 2).unwrap()
}

/// `kiosk sim face` over `faces`, and the URL it printed.
fn start(faces: &std::path::Path) -> (Sim, String) {
    let mut child = Command::new(KIOSK)
        .args(["sim", "face", "--listen", "127.0.0.1:0", "--faces"])
        .arg(faces)
        .env_remove("KIOSK_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kiosk runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_string();
    (Sim(child), url)
}

#[test]
fn the_face_simulator_command_matches_the_registered_photo_only() {
    let dir = tempfile::tempdir().unwrap();
    let faces = dir.path().join("faces");
    let camera = dir.path().join("camera");
    std::fs::create_dir_all(&faces).unwrap();
    std::fs::create_dir_all(&camera).unwrap();
    let reference = jpeg::synthetic(640, 480, b"the holder");
    std::fs::write(faces.join(format!("{}.jpg", holder().expose())), &reference).unwrap();
    std::fs::write(camera.join("1.jpg"), &reference).unwrap();
    std::fs::write(
        camera.join("2.jpg"),
        jpeg::synthetic(640, 480, b"someone else"),
    )
    .unwrap();
    let (_sim, url) = start(&faces);
    assert!(url.ends_with("/v1/face/verify"), "{url}");

    let service = FaceService::new(&url, "KIOSK-T", Duration::from_secs(5));
    let mut v = HttpFaceVerifier::new(FilesCamera::open(&camera).unwrap(), service);
    assert_eq!(v.verify(&holder()), FaceOutcome::Match);
    assert_eq!(v.verify(&holder()), FaceOutcome::NoMatch);
    let stranger = IdNumber::synthesize("500106", jiff::civil::date(1990, 1, 1), 5).unwrap();
    assert_eq!(v.verify(&stranger), FaceOutcome::NoMatch);
}

#[test]
fn the_face_simulator_refuses_a_reference_photo_not_named_by_an_id_number() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("zhang-san.jpg"),
        jpeg::synthetic(8, 8, b"x"),
    )
    .unwrap();
    let out = Command::new(KIOSK)
        .args(["sim", "face", "--listen", "127.0.0.1:0", "--faces"])
        .arg(dir.path())
        .env_remove("KIOSK_LOG")
        .output()
        .expect("kiosk runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("zhang-san.jpg") && err.contains("ID number"),
        "{err}"
    );
}

/// `kiosk device capture` with the test camera: the frame lands in --out and its size is printed;
/// a garbled file is exit 7 naming the file; no camera is exit 4.
#[test]
fn device_capture_writes_a_frame_and_names_a_garbled_file() {
    let dir = tempfile::tempdir().unwrap();
    let camera = dir.path().join("camera");
    std::fs::create_dir_all(&camera).unwrap();
    let image = jpeg::synthetic(320, 240, b"frame");
    std::fs::write(camera.join("1.jpg"), &image).unwrap();
    let out_file = dir.path().join("out.jpg");
    let run = |camera: &str| {
        Command::new(KIOSK)
            .args(["device", "capture", "--camera", camera, "--out"])
            .arg(&out_file)
            .env_remove("KIOSK_LOG")
            .output()
            .expect("kiosk runs")
    };
    let files = format!("files:{}", camera.display());
    let out = run(&files);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["width"], 320);
    assert_eq!(line["height"], 240);
    assert_eq!(std::fs::read(&out_file).unwrap(), image);

    std::fs::write(camera.join("1.jpg"), b"\xFF\xD8 not really").unwrap();
    let out = run(&files);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1.jpg"));

    let out = run("v4l2:/dev/no-such-camera");
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let out = run("webcam");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
