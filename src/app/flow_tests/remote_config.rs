//! Remote configuration end to end: `kiosk serve --remote-config --config-key` with a kiosks file
//! naming the kiosk's hall; the kiosk (its own key, `[platform] config_public_key`) picks up its
//! hall's settings, applies them on the attract screen and reports the new configuration hash.

use std::time::{Duration, Instant};

use super::*;

/// A demo `kiosk serve` over `db` with `d`'s kiosks file, `remote.toml` and configuration key.
fn serve_remote_config(d: &std::path::Path, db: &str) -> std::net::SocketAddr {
    crate::server::spawn(crate::server::ServeOptions {
        database: db.to_string(),
        listen: "127.0.0.1:0".parse().unwrap(),
        demo: true,
        kiosks: Some(d.join("kiosks.toml")),
        revert_every: None,
        kiosk_clock: true,
        confirm_points_after: Duration::from_secs(3600),
        operators: None,
        config: Default::default(),
        remote_config: Some(d.join("remote.toml")),
        config_key: Some(d.join("config.key")),
    })
    .unwrap()
}

#[test]
fn a_kiosk_picks_up_its_halls_settings_from_kiosk_serve() {
    const KIOSK: &str = "CQ-YZ-0007";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut config = demo_city(d);
    let public = crate::wire::auth::generate_key_file(&d.join("kiosk.key")).unwrap();
    std::fs::write(
        d.join("kiosks.toml"),
        format!("[kiosks.{KIOSK}]\npublic_key = \"{public}\"\nhall = \"渝中大厅\"\n"),
    )
    .unwrap();
    let published =
        crate::store::keyring::generate_key_file("cfg-2026", &d.join("config.key")).unwrap();
    std::fs::write(d.join("relief.toml"), RELIEF_POLICY).unwrap();
    std::fs::write(
        d.join("remote.toml"),
        "[halls.\"渝中大厅\"]\nidle_seconds = 150\ncard_read_ms = 4000\nhall_name = \"渝中区车管所大厅\"\n\
         policy_file = \"relief.toml\"\n\n\
         [halls.\"渝北大厅\"]\nidle_seconds = 200\n\n\
         [kiosks.CQ-YB-0001]\nvoice_volume = 10\n",
    )
    .unwrap();
    let addr = serve_remote_config(d, &config.database.path);
    config.kiosk.id = KIOSK.into();
    config.platform.url = format!("http://{addr}");
    config.platform.key_file = d.join("kiosk.key").display().to_string();
    config.platform.config_public_key = published;
    let base = config.clone();
    let Assembled {
        mut app,
        stop,
        config_hash,
        voice_volume,
        card_read_ms,
        ..
    } = assemble(config, Clock::manual(DAY.parse().unwrap())).unwrap();
    assert_eq!(
        card_read_ms.load(std::sync::atomic::Ordering::Relaxed),
        base.timeouts.card_read_ms
    );
    assert_eq!(
        *config_hash.lock().unwrap(),
        super::super::heartbeat::config_hash(&base)
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    while app.state().ctx().idle_seconds != 150 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        app.take_sent_events();
    }
    let ctx = app.state().ctx();
    assert_eq!(ctx.idle_seconds, 150, "the hall's idle_seconds applied");
    assert_eq!(ctx.hall_name, "渝中区车管所大厅");
    // Another hall's and another kiosk's settings are not this kiosk's.
    assert_eq!(ctx.idle_warning_seconds, base.timeouts.idle_warning_seconds);
    let mut expected = base.clone();
    expected.timeouts.idle_seconds = 150;
    expected.timeouts.card_read_ms = 4000;
    expected.kiosk.hall_name = "渝中区车管所大厅".into();
    // The hall's policy file came as its text, and counts in the configuration hash.
    assert_eq!(ctx.remote_policy.as_deref(), Some(RELIEF_POLICY));
    let applied = crate::config::RemoteSettings {
        policy: Some(RELIEF_POLICY.into()),
        ..crate::config::RemoteSettings::effective(&expected)
    };
    assert_eq!(
        *config_hash.lock().unwrap(),
        super::super::remote_config::effective_hash(&base, &applied),
        "the heartbeat reports the effective configuration"
    );
    assert_ne!(
        *config_hash.lock().unwrap(),
        super::super::heartbeat::config_hash(&expected)
    );
    // The reader thread reads a card it found within the hall's card_read_ms from now on.
    assert_eq!(
        card_read_ms.load(std::sync::atomic::Ordering::Relaxed),
        4000
    );
    // Kiosk CQ-YB-0001's voice_volume is not this kiosk's.
    assert_eq!(
        u32::from(voice_volume.load(std::sync::atomic::Ordering::Relaxed)),
        base.voice.volume
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// A remote policy with epidemic relief in force (四.1 备注: large vehicles too) arriving during a
/// session changes nothing under the person; once the session ends, the kiosk's decisions
/// follow it. Settings without a policy put the kiosk's own back.
#[test]
fn a_remote_policy_with_relief_governs_the_decisions_after_the_session_ends() {
    const TRUCK: &str = "渝A8F1K4";
    let refused = |k: &mut Kiosk| {
        k.violations_of(TRUCK);
        let sel = k.selection();
        let id = sel.list.violations[0].facts.id.clone();
        reasons_of(&sel, &id).contains(&Reason::VehicleTypeNotAllowed)
    };
    let mut k = Kiosk::signed_in(DAY, "马超");
    assert!(refused(&mut k), "a large truck without relief");
    let relief = crate::config::RemoteSettings {
        policy: Some(RELIEF_POLICY.into()),
        ..Default::default()
    };
    k.send(Event::RemoteSettings(relief));
    k.ui(Action::Back).ui(Action::Back);
    assert!(refused(&mut k), "not under the person in session");
    k.ui(Action::Exit).send(Event::CardRemoved);
    assert!(k.is_attract());
    assert_eq!(
        k.app.state().ctx().remote_policy.as_deref(),
        Some(RELIEF_POLICY)
    );

    let sign_in = |k: &mut Kiosk| {
        let card = k.card("马超");
        k.send(Event::CardPlaced(card)).ui(Action::Continue);
        assert_eq!(k.screen(), Screen::Services);
    };
    sign_in(&mut k);
    assert!(!refused(&mut k), "the remote relief is in force");
    k.ui(Action::Exit).send(Event::CardRemoved);

    // The server stops naming a policy: the kiosk's own (no relief) again.
    k.send(Event::RemoteSettings(Default::default()));
    sign_in(&mut k);
    assert!(refused(&mut k), "the kiosk's own policy back");
}

/// The server decides a kiosk's requests with the policy it hands that kiosk: under its hall's
/// relief, 马超's large truck is not refused for its type (四.1 备注) at 渝中, while a kiosk of a
/// hall without a remote policy still gets that refusal — the screen and the decision agree
/// (every decision of the store reads the same `policy_at`).
#[test]
fn the_server_decides_with_the_policy_it_hands_each_kiosk() {
    use crate::store::platform::Platform as _;
    const TRUCK: &str = "渝A8F1K4";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = demo_city(d);
    let k1 = crate::wire::auth::generate_key_file(&d.join("k1.key")).unwrap();
    let k2 = crate::wire::auth::generate_key_file(&d.join("k2.key")).unwrap();
    std::fs::write(
        d.join("kiosks.toml"),
        format!(
            "[kiosks.CQ-YZ-0001]\npublic_key = \"{k1}\"\nhall = \"渝中大厅\"\n\
             [kiosks.CQ-YB-0002]\npublic_key = \"{k2}\"\nhall = \"渝北大厅\"\n"
        ),
    )
    .unwrap();
    crate::store::keyring::generate_key_file("cfg-2026", &d.join("config.key")).unwrap();
    std::fs::write(d.join("relief.toml"), RELIEF_POLICY).unwrap();
    std::fs::write(
        d.join("remote.toml"),
        "[halls.\"渝中大厅\"]\npolicy_file = \"relief.toml\"\n\n[halls.\"渝北大厅\"]\nidle_seconds = 200\n",
    )
    .unwrap();
    let addr = serve_remote_config(d, &config.database.path);
    let client = |id: &str, key: &str| {
        crate::remote::RemotePlatform::new(
            &format!("http://{addr}"),
            crate::wire::auth::KioskIdentity::from_key_file(id, &d.join(key)).unwrap(),
        )
        .unwrap()
    };
    let yz = client("CQ-YZ-0001", "k1.key");
    let yb = client("CQ-YB-0002", "k2.key");
    let store = crate::store::platform::SqlitePlatform::open_demo(std::path::Path::new(
        &config.database.path,
    ))
    .unwrap();
    let who = sim_source::demo_cards(&store)
        .into_iter()
        .find(|c| c.label == "马超")
        .unwrap()
        .card
        .id_number;
    let now: Timestamp = DAY.parse().unwrap();
    let truck = yz
        .vehicle_by_plate(&Plate::parse(TRUCK).unwrap(), now)
        .unwrap();
    let refused = |p: &crate::remote::RemotePlatform| {
        let list = p.violations(&who, &truck, now).unwrap();
        let v = &list.violations[0];
        (
            v.facts.id.clone(),
            v.decision.reasons.contains(&Reason::VehicleTypeNotAllowed),
        )
    };
    let (_, refused_yb) = refused(&yb);
    assert!(refused_yb, "渝北 has no remote policy: no relief");
    let (_, refused_yz) = refused(&yz);
    assert!(!refused_yz, "渝中's relief decides its kiosk's list");
}
