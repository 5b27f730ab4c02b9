//! 呼叫工作人员 end to end through the assembled kiosk: the demo's pager, the WeCom group robot
//! (against its simulator), and the platform — a local store's `kiosk_events`, a `kiosk serve`
//! server and its fleet page, an unreachable server (the call queued in the outbox). What reaches
//! staff never holds the person's name, ID number, phone or plate.

use super::*;
use crate::providers::wecom_sim::{self, WecomSim};

const KEY: &str = "6d3f0c4e-0000-4bc4-97a0-robot-key";

/// The personal data of 李小红's session that must never reach staff: her name, her ID number,
/// her plate, her phone on record.
fn personal(k: &Kiosk) -> Vec<String> {
    let card = k.card("李小红");
    let mut out = vec![
        card.name.expose().clone(),
        card.id_number.expose().to_string(),
        LXH_PLATE.to_string(),
        LXH_PLATE.trim_start_matches('渝').to_string(),
    ];
    let id = card.id_number.expose().to_string();
    let phone: String = k
        .platform
        .with_connection_ref(|c| {
            Ok(c.query_row(
                "SELECT phone FROM persons WHERE id_number = ?1",
                [&id],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert!(!phone.is_empty());
    out.push(phone);
    out
}

fn assert_nothing_personal(text: &str, personal: &[String]) {
    for p in personal {
        assert!(!text.contains(p.as_str()), "{p:?} in {text}");
    }
}

/// 李小红 on her violations screen (her one vehicle chosen for her).
fn on_violations(k: &mut Kiosk) {
    let card = k.card("李小红");
    k.send(Event::CardPlaced(card));
    k.ui(Action::Continue);
    assert_eq!(k.screen(), Screen::Services);
    k.ui(Action::Open(Service::Violations));
    assert!(
        matches!(k.screen(), Screen::Violations(_)),
        "{:?}",
        k.screen()
    );
}

#[test]
fn the_demo_pager_gets_the_call_with_hall_kiosk_and_step_and_nothing_personal() {
    let mut k = Kiosk::at(DAY);
    on_violations(&mut k);
    k.ui(Action::CallStaff);
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::Delivered))
    );
    let pager = k.demo.pager.lock().unwrap().clone();
    assert_eq!(pager.len(), 1, "{pager:?}");
    let text = &pager[0];
    let config = KioskConfig::embedded();
    assert!(text.contains(&config.kiosk.id), "{text}");
    assert!(text.contains(&config.kiosk.hall_name), "{text}");
    assert!(text.contains("违法列表"), "the step: {text}");
    assert_nothing_personal(text, &personal(&k));
    // Counted for the operator, under a code.
    let metrics = crate::ops::metrics::kiosk().encode();
    assert!(
        metrics.contains("kind=\"call_staff\""),
        "no delivered staff call counted:\n{metrics}"
    );
    // Touched again at once: not sent twice, and said so.
    k.ui(Action::CallStaff);
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::AlreadySent))
    );
    assert_eq!(k.demo.pager.lock().unwrap().len(), 1);
}

#[test]
fn the_message_strip_says_each_staff_call_notice_in_both_languages() {
    use crate::config::Language;
    let cases = [
        (
            StaffCallNotice::Sending,
            "正在呼叫工作人员…",
            "Calling staff",
        ),
        (
            StaffCallNotice::Delivered,
            "已通知工作人员，请在此稍候",
            "Staff have been told: please wait here",
        ),
        (
            StaffCallNotice::NotDelivered,
            "呼叫未能送达，请到服务窗口求助",
            "please go to the service window",
        ),
        (
            StaffCallNotice::AlreadySent,
            "已通知工作人员",
            "already told",
        ),
    ];
    for (notice, zh, en) in cases {
        let m = Message::StaffCall(notice);
        let z = crate::ui::i18n::message(Language::ZhCn, &m);
        let e = crate::ui::i18n::message(Language::En, &m);
        assert!(z.contains(zh), "{z}");
        assert!(e.contains(en), "{e}");
        assert!(
            !e.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{e}"
        );
    }
}

fn wecom_kiosk(url: String) -> Kiosk {
    Kiosk::configured(DAY, move |config, _| {
        config.staff_call.provider = "wecom".into();
        config.staff_call.url = url;
        config.staff_call.mentioned_mobile_list = vec!["13800001111".into()];
        config.staff_call.timeout_ms = 1000;
    })
}

#[test]
fn a_staff_call_reaches_the_wecom_group_robot_without_personal_data() {
    let sim = WecomSim::new(KEY);
    let addr = wecom_sim::spawn(sim.clone()).unwrap();
    let mut k = wecom_kiosk(wecom_sim::webhook(addr, KEY));
    on_violations(&mut k);
    k.ui(Action::CallStaff);
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::Delivered))
    );
    let kept = sim.messages.lock().unwrap().clone();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].text.mentioned_mobile_list, vec!["13800001111"]);
    assert!(kept[0].text.content.contains("违法列表"), "{:?}", kept[0]);
    assert_nothing_personal(&serde_json::to_string(&kept[0]).unwrap(), &personal(&k));
    // The demo pager is not the provider here: nothing on the panel.
    assert!(k.demo.pager.lock().unwrap().is_empty());
}

#[test]
fn a_wrong_webhook_key_or_a_robot_out_of_reach_sends_the_person_to_the_window() {
    let sim = WecomSim::new(KEY);
    let addr = wecom_sim::spawn(sim.clone()).unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = free.local_addr().unwrap();
    drop(free);
    let stalled = WecomSim::new(KEY);
    stalled.stall(Some(Duration::from_secs(30)));
    let slow = wecom_sim::spawn(stalled.clone()).unwrap();
    for url in [
        wecom_sim::webhook(addr, "another-robots-key"),
        wecom_sim::webhook(down, KEY),
        wecom_sim::webhook(slow, KEY),
    ] {
        let mut k = wecom_kiosk(url.clone());
        on_violations(&mut k);
        k.ui(Action::CallStaff);
        assert_eq!(
            k.message(),
            Some(Message::StaffCall(StaffCallNotice::NotDelivered)),
            "{url}"
        );
        // The operator's screen says why, never with the robot's key.
        let errors = k
            .state()
            .ctx()
            .recent_errors
            .iter()
            .cloned()
            .collect::<Vec<_>>();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("staff call not delivered")),
            "{errors:?}"
        );
        assert!(errors.iter().all(|e| !e.contains(KEY)), "{errors:?}");
        // It may be tried again at once.
        k.ui(Action::CallStaff);
        assert_eq!(
            k.message(),
            Some(Message::StaffCall(StaffCallNotice::NotDelivered))
        );
    }
    assert!(sim.contents().is_empty());
}

fn staff_events(platform: &crate::store::platform::SqlitePlatform) -> Vec<(String, String)> {
    platform
        .with_connection_ref(|c| {
            let mut s = c.prepare(
                "SELECT kiosk_id, detail FROM kiosk_events WHERE kind = 'staff_call' ORDER BY id",
            )?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .unwrap()
}

#[test]
fn a_platform_staff_call_is_a_kiosk_event_in_the_local_store() {
    let mut k = Kiosk::configured(DAY, |config, _| {
        config.staff_call.provider = "platform".into();
    });
    on_violations(&mut k);
    k.ui(Action::CallStaff);
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::Delivered))
    );
    let events = staff_events(&k.platform);
    assert_eq!(
        events,
        vec![(
            KioskConfig::embedded().kiosk.id,
            "reason=refusal step=violations".to_string()
        )]
    );
    assert_nothing_personal(&format!("{events:?}"), &personal(&k));
}

/// `kiosk serve` (demo, in this process) with a kiosks file naming the kiosk's hall and an
/// operator for the fleet page; the kiosk its terminal with its own key.
fn served_kiosk(dir: &std::path::Path) -> (Kiosk, std::net::SocketAddr) {
    let kiosk_pub = crate::wire::auth::generate_key_file(&dir.join("kiosk.key")).unwrap();
    std::fs::write(
        dir.join("kiosks.toml"),
        format!("[kiosks.CQ-YZ-0001]\npublic_key = \"{kiosk_pub}\"\nhall = \"渝中大厅\"\n"),
    )
    .unwrap();
    let hash = crate::server::fleet::password_hash("fleet-password-1").unwrap();
    std::fs::write(
        dir.join("operators.toml"),
        format!("[operators.duty]\npassword_hash = \"{hash}\"\n"),
    )
    .unwrap();
    let city = tempfile::tempdir().unwrap();
    let mut config = demo_city(city.path());
    let db = config.database.path.clone();
    let addr = crate::server::spawn(crate::server::ServeOptions {
        database: db.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        demo: true,
        kiosks: Some(dir.join("kiosks.toml")),
        revert_every: None,
        kiosk_clock: true,
        confirm_points_after: Duration::from_secs(3600),
        operators: Some(dir.join("operators.toml")),
        config: Default::default(),
        remote_config: None,
        config_key: None,
    })
    .unwrap();
    config.kiosk.id = "CQ-YZ-0001".into();
    config.platform.url = format!("http://{addr}");
    config.platform.key_file = dir.join("kiosk.key").display().to_string();
    config.staff_call.provider = "platform".into();
    config.database.path = dir.join("spool.sqlite3").display().to_string();
    // The kiosk's clock is the machine's: the fleet page lists the calls of the last 30 minutes.
    let Assembled {
        app, stop, demo, ..
    } = assemble(config, Clock::manual(Timestamp::now())).unwrap();
    let platform = std::sync::Arc::new(
        crate::store::platform::SqlitePlatform::open_demo(std::path::Path::new(&db)).unwrap(),
    );
    (
        Kiosk {
            _dir: city,
            app,
            platform,
            demo: demo.expect("demo mode"),
            stop,
        },
        addr,
    )
}

/// Log in to the fleet page and read it.
fn fleet_page(addr: std::net::SocketAddr) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let login = agent
        .post(&format!("http://{addr}/login"))
        .send_form([("name", "duty"), ("password", "fleet-password-1")])
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_string();
    let mut page = agent
        .get(&format!("http://{addr}/fleet"))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    page.body_mut().read_to_string().unwrap()
}

#[test]
fn a_platform_staff_call_through_kiosk_serve_shows_on_the_fleet_page_with_hall_and_step() {
    let dir = tempfile::tempdir().unwrap();
    let (mut k, addr) = served_kiosk(dir.path());
    let before = fleet_page(addr);
    assert!(
        before.contains("id=\"staff-calls\" class=\"ok\""),
        "{before}"
    );
    on_violations(&mut k);
    k.ui(Action::CallStaff);
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::Delivered))
    );
    // In the city's record.
    assert_eq!(
        staff_events(&k.platform),
        vec![(
            "CQ-YZ-0001".to_string(),
            "reason=refusal step=violations".to_string()
        )]
    );
    // On the fleet page, above the kiosks: the hall, the kiosk, the step and the reason.
    let html = fleet_page(addr);
    let calls = html
        .split("<table id=\"staff-calls\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no staff calls table: {html}"));
    assert!(
        calls.contains("渝中大厅") && calls.contains("CQ-YZ-0001"),
        "{calls}"
    );
    assert!(calls.contains("违法列表 / violations"), "{calls}");
    assert!(calls.contains("业务不能在自助机办理"), "{calls}");
    assert!(
        html.find("id=\"staff-calls\"") < html.find("id=\"fleet\""),
        "the calls come first"
    );
    assert_nothing_personal(&html, &personal(&k));
}

#[test]
fn a_platform_staff_call_with_the_server_out_of_reach_is_queued_sends_the_person_to_the_window_and_arrives_once_later()
 {
    let dir = tempfile::tempdir().unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = free.local_addr().unwrap();
    drop(free);
    let mut config = KioskConfig::embedded();
    config.platform.url = format!("http://{down}");
    config.staff_call.provider = "platform".into();
    config.database.path = dir.path().join("spool.sqlite3").display().to_string();
    config.voice.enabled = false;
    let Assembled {
        mut app,
        outbox,
        stop,
        ..
    } = assemble(config, Clock::manual(DAY.parse().unwrap())).unwrap();
    let outbox = outbox.expect("a server's terminal has an outbox");
    let queued_before = outbox.len().unwrap();
    app.send(Event::Ui(Action::CallStaff));
    assert!(app.settle(SETTLE));
    assert_eq!(
        app.state().ctx().message,
        Some(Message::StaffCall(StaffCallNotice::NotDelivered))
    );
    // Not lost: waiting in the outbox for the link to return.
    assert!(outbox.len().unwrap() > queued_before);
    // The server comes up at that address: the call is delivered, once.
    let city = tempfile::tempdir().unwrap();
    let db = demo_city(city.path()).database.path;
    crate::server::spawn(crate::server::ServeOptions {
        database: db.clone(),
        listen: down,
        demo: true,
        kiosks: None,
        revert_every: None,
        kiosk_clock: true,
        confirm_points_after: Duration::from_secs(3600),
        operators: None,
        config: Default::default(),
        remote_config: None,
        config_key: None,
    })
    .unwrap();
    let flushed = outbox.flush().unwrap();
    assert!(!flushed.stopped, "{flushed:?}");
    assert_eq!(outbox.len().unwrap(), 0);
    outbox.flush().unwrap();
    let server =
        crate::store::platform::SqlitePlatform::open_demo(std::path::Path::new(&db)).unwrap();
    let calls = staff_events(&server);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].1.starts_with("reason="), "{calls:?}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The UI never waits on the call: while the robot takes its time the screen says
/// 正在呼叫工作人员… and does not turn busy (请稍候 would block nothing, but would say the wrong
/// thing); the answer arrives by itself.
#[test]
fn a_slow_staff_call_never_makes_the_screen_busy_and_its_answer_arrives_by_itself() {
    let sim = WecomSim::new(KEY);
    sim.stall(Some(Duration::from_millis(1500)));
    let addr = wecom_sim::spawn(sim.clone()).unwrap();
    let mut k = Kiosk::configured(DAY, move |config, _| {
        config.staff_call.provider = "wecom".into();
        config.staff_call.url = wecom_sim::webhook(addr, KEY);
        config.staff_call.timeout_ms = 5000;
    });
    on_violations(&mut k);
    // Sent without waiting for the worker.
    k.app.send(Event::Ui(Action::CallStaff));
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::Sending))
    );
    k.app.clock().advance(SignedDuration::from_secs(1));
    let now = k.now();
    k.app.send(Event::Tick(now));
    assert!(!k.app.busy(), "a staff call made the screen busy");
    // A touch meanwhile is taken at once; the strip still says the call is on its way.
    k.app.send(Event::Ui(Action::StillHere));
    assert_eq!(
        k.state().ctx().staff_call_notice(),
        Some(Message::StaffCall(StaffCallNotice::Sending))
    );
    assert!(k.app.settle(SETTLE));
    assert_eq!(
        k.message(),
        Some(Message::StaffCall(StaffCallNotice::Delivered))
    );
    assert_eq!(sim.contents().len(), 1);
}
