//! A whole kiosk session with the real face check — a stranger's face refused, the holder's
//! accepted, the violations opened — with every log line of every thread (the flow's worker, the
//! HTTP client, the verification service's simulator, the store) captured through the kiosk's own
//! filter asked for TRACE: the ID number appears masked, never in clear, and the service's API key
//! not at all. Its own test process, so the subscriber is global.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use kiosk::app::{Assembled, assemble, sim_source};
use kiosk::config::KioskConfig;
use kiosk::devices::camera::jpeg;
use kiosk::flow::ports::FaceOutcome;
use kiosk::flow::{Action, Event, Message, Screen, Service};
use kiosk::providers::face_sim::{self, FaceSim};
use kiosk::store::demo::{DemoOptions, build_city};
use kiosk::ui::Clock;

const ANCHOR: &str = "2026-11-25T09:00:00+08:00";
const DAY: &str = "2026-11-25T10:00:00+08:00";
const SETTLE: Duration = Duration::from_secs(20);

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_session_with_the_http_face_check_logs_no_id_number_in_clear() {
    use tracing_subscriber::util::SubscriberInitExt as _;
    let buffer = Buffer::default();
    let writer = buffer.clone();
    // The kiosk's own filter, asked for everything (KIOSK_LOG=trace).
    tracing_subscriber::fmt()
        .with_env_filter(kiosk::ops::logging::filter_of("trace"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish()
        // Also takes the `log` records of the HTTP client.
        .try_init()
        .expect("the only subscriber of this test process");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.sqlite3");
    let mut conn = kiosk::store::schema::open(&path).unwrap();
    build_city(
        &mut conn,
        &DemoOptions {
            persons: 30,
            seed: 1,
            anchor: ANCHOR.parse().unwrap(),
        },
    )
    .unwrap();
    drop(conn);
    let camera = dir.path().join("camera");
    std::fs::create_dir(&camera).unwrap();
    let holder_photo = jpeg::synthetic(640, 480, b"li xiaohong");
    std::fs::write(camera.join("1.jpg"), jpeg::synthetic(640, 480, b"stranger")).unwrap();
    std::fs::write(camera.join("2.jpg"), &holder_photo).unwrap();
    const API_KEY: &str = "k-3f9a7c21e5d4";
    let key_file = dir.path().join("face-api-key");
    std::fs::write(&key_file, format!("{API_KEY}\n")).unwrap();
    let sim = FaceSim {
        api_key: Some(API_KEY.into()),
        ..FaceSim::default()
    };
    let url = face_sim::spawn(sim.clone()).unwrap();

    let mut config = KioskConfig::embedded();
    config.database.path = path.display().to_string();
    config.face.provider = "http".into();
    config.face.url = url;
    config.face.camera = format!("files:{}", camera.display());
    config.face.api_key_file = key_file.display().to_string();
    let at: Timestamp = DAY.parse().unwrap();
    let Assembled {
        mut app,
        store: Some(store),
        stop,
        ..
    } = assemble(config, Clock::manual(at)).unwrap()
    else {
        panic!("the kiosk runs on its local store")
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let card = sim_source::demo_cards(&store)
        .into_iter()
        .find(|c| c.label == "李小红")
        .unwrap()
        .card;
    let id = card.id_number.expose().to_string();
    let masked = card.id_number.masked();
    sim.register(&card.id_number, &holder_photo);

    fn send(app: &mut kiosk::ui::KioskApp, e: Event) -> Option<Screen> {
        app.send(e);
        assert!(app.settle(SETTLE), "the worker did not answer");
        app.state().session().map(|s| s.screen.clone())
    }
    send(&mut app, Event::CardPlaced(card));
    send(&mut app, Event::Ui(Action::Continue));
    assert_eq!(
        app.state().ctx().message,
        Some(Message::Face(FaceOutcome::NoMatch))
    );
    assert_eq!(
        send(&mut app, Event::Ui(Action::StartFace)),
        Some(Screen::Services)
    );
    let screen = send(&mut app, Event::Ui(Action::Open(Service::Violations)));
    assert!(matches!(screen, Some(Screen::Violations(_))), "{screen:?}");
    send(&mut app, Event::CardRemoved);

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("face check: no match"), "{logs}");
    assert!(logs.contains("face check: match"), "{logs}");
    assert!(logs.contains("face sim: answered"), "{logs}");
    assert!(logs.contains(&masked), "{logs}");
    for (n, line) in logs.lines().enumerate() {
        assert!(!line.contains(&id), "line {n} holds the ID number: {line}");
        assert!(
            !line.contains(&id[6..14]),
            "line {n} holds the birth date: {line}"
        );
        assert!(
            !line.contains(API_KEY),
            "line {n} holds the API key: {line}"
        );
    }
    // The HTTP client logs its requests, but not its byte dumps (which split the bytes over
    // lines, the API key among them).
    assert!(logs.contains("ureq::run"), "{logs}");
    assert!(!logs.contains("ureq_proto::util"), "{logs}");
}
