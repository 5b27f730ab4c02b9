//! The kiosk with the real face check (`[face] provider = "http"`): the test camera playing image
//! files and the verification service's simulator, assembled as `kiosk` runs it.

use super::*;
use crate::config::Language;
use crate::devices::camera::jpeg;
use crate::providers::face_sim::{self, Behaviour, FaceSim};

fn photo(tag: &[u8]) -> Vec<u8> {
    jpeg::synthetic(640, 480, tag)
}

/// A kiosk whose camera plays `files` (in name order) and whose service is `url`.
fn kiosk(url: &str, files: &[(&str, Vec<u8>)], timeout_ms: u32) -> Kiosk {
    let url = url.to_string();
    let files = files.to_vec();
    Kiosk::configured(DAY, move |config, dir| {
        let camera = dir.join("camera");
        std::fs::create_dir(&camera).unwrap();
        for (name, bytes) in files {
            std::fs::write(camera.join(name), bytes).unwrap();
        }
        config.face.provider = "http".into();
        config.face.url = url;
        config.face.camera = format!("files:{}", camera.display());
        config.face.timeout_ms = timeout_ms;
    })
}

#[test]
fn a_face_that_does_not_match_the_card_cannot_reach_the_violations_screen() {
    // The camera shows a stranger first, then the card's holder.
    let sim = FaceSim::default();
    let url = face_sim::spawn(sim.clone()).unwrap();
    let mut k = kiosk(
        &url,
        &[
            ("1.jpg", photo(b"a stranger")),
            ("2.jpg", photo(b"li xiaohong")),
        ],
        5000,
    );
    let card = k.card("李小红");
    sim.register(&card.id_number, &photo(b"li xiaohong"));
    k.send(Event::CardPlaced(card));
    k.ui(Action::Continue);
    assert_eq!(k.message(), Some(Message::Face(FaceOutcome::NoMatch)));
    assert!(matches!(k.screen(), Screen::Face { attempts: 1, .. }));
    assert!(!k.state().session().unwrap().face_verified);
    for a in [
        Action::Open(Service::Violations),
        Action::Open(Service::Filing),
    ] {
        k.ui(a.clone());
        assert!(
            matches!(k.screen(), Screen::Face { .. }),
            "{a:?} left the face check: {:?}",
            k.screen()
        );
    }
    // The holder, in front of the camera, gets in.
    k.ui(Action::StartFace);
    assert_eq!(k.screen(), Screen::Services);
    k.ui(Action::Open(Service::Violations));
    // Her one vehicle's violations.
    assert!(
        matches!(k.screen(), Screen::Violations(_)),
        "{:?}",
        k.screen()
    );
}

#[test]
fn a_face_service_that_does_not_answer_is_said_in_both_languages_and_the_session_goes_on() {
    let sim = FaceSim::default();
    let url = face_sim::spawn(sim.clone()).unwrap();
    sim.set_behaviour(Behaviour::Stall(Duration::from_secs(60)));
    let mut k = kiosk(&url, &[("1.jpg", photo(b"li xiaohong"))], 500);
    let card = k.card("李小红");
    sim.register(&card.id_number, &photo(b"li xiaohong"));
    k.send(Event::CardPlaced(card));
    // The worker gives up at the service's timeout: the screen is answered, never stuck.
    k.ui(Action::Continue);
    let message = k.message().expect("the person is told");
    assert_eq!(message, Message::Face(FaceOutcome::ServiceUnavailable));
    let zh = crate::ui::i18n::message(Language::ZhCn, &message);
    let en = crate::ui::i18n::message(Language::En, &message);
    assert!(
        zh.contains("人脸核验服务") && zh.contains("呼叫工作人员"),
        "{zh}"
    );
    assert!(
        en.contains("not answering") && en.contains("call staff"),
        "{en}"
    );
    assert!(matches!(k.screen(), Screen::Face { attempts: 1, .. }));
    assert!(!k.state().session().unwrap().face_verified);
    // The operator's screen lists it.
    assert!(
        k.state()
            .ctx()
            .recent_errors
            .iter()
            .any(|e| e.contains("verification service unavailable")),
        "{:?}",
        k.state().ctx().recent_errors
    );
    // 呼叫工作人员 is answered on this screen.
    k.ui(Action::CallStaff);
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::Delivered))
    );
    assert_eq!(k.demo.pager.lock().unwrap().len(), 1);
    // The service is back: the retry passes.
    sim.set_behaviour(Behaviour::Decide);
    k.ui(Action::StartFace);
    assert_eq!(k.screen(), Screen::Services);
}

#[test]
fn a_face_service_that_is_down_refuses_and_a_removed_card_ends_the_session() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut k = kiosk(
        &format!("http://{addr}/v1/face/verify"),
        &[("1.jpg", photo(b"x"))],
        5000,
    );
    let card = k.card("李小红");
    k.send(Event::CardPlaced(card));
    k.ui(Action::Continue);
    assert_eq!(
        k.message(),
        Some(Message::Face(FaceOutcome::ServiceUnavailable))
    );
    assert!(!k.state().session().unwrap().face_verified);
    k.send(Event::CardRemoved);
    assert!(k.state().session().is_none(), "the session is wiped");
}

#[test]
fn an_unknown_face_provider_or_a_bad_camera_stops_the_kiosk_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = demo_city(dir.path());
    config.face.provider = "cloud".into();
    let err = assemble(config.clone(), Clock::manual(DAY.parse().unwrap()))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("face.provider"), "{err}");
    config.face.provider = "http".into();
    config.face.url = "http://127.0.0.1:9/v1/face/verify".into();
    config.face.camera = "webcam".into();
    let err = assemble(config, Clock::manual(DAY.parse().unwrap()))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("face.camera"), "{err}");
}
