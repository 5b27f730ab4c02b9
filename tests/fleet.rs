//! The fleet page in a real browser (issue 14): `kiosk serve --operators FILE` with two kiosks that
//! reported heartbeats through their signed calls; Debian's Chromium, driven headless over
//! WebDriver (chromedriver), is sent to the login by `/fleet`, refused with a wrong password, let
//! in with the right one, and then shows both kiosks with their hall, version, devices, paper and
//! sessions today. Chromium and chromedriver come from `.ci/packages`; without them the test fails
//! saying so.

#[path = "support/remote.rs"]
mod remote;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use kiosk::remote::RemotePlatform;
use kiosk::store::platform::{KioskEventRequest, Platform};
use kiosk::store::schema;
use kiosk::wire::auth::KioskIdentity;
use kiosk::wire::heartbeat::Heartbeat;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "correct horse battery";
/// The WebDriver name of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_chromedriver() -> Driver {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: install Debian's chromium and chromium-driver (.ci/packages; `.ci/test` installs them)"
        );
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut r) = ureq::get(&format!("{url}/status")).call()
            && r.body_mut()
                .read_json::<Value>()
                .is_ok_and(|v| v["value"]["ready"] == true)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not get ready in 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver { child, url }
}

fn wd(method: &str, url: &str, body: Option<Value>) -> Value {
    let result = match (method, body) {
        ("GET", _) => ureq::get(url).call(),
        ("DELETE", _) => ureq::delete(url).call(),
        (_, Some(b)) => ureq::post(url).send_json(b),
        (_, None) => ureq::post(url).send_json(json!({})),
    };
    let mut r = result.unwrap_or_else(|e| panic!("WebDriver {method} {url}: {e}"));
    r.body_mut().read_json::<Value>().expect("a JSON answer")["value"].clone()
}

/// One browser session.
struct Browser<'a> {
    driver: &'a Driver,
    session: String,
}

impl Browser<'_> {
    fn open<'d>(driver: &'d Driver, profile: &Path) -> Browser<'d> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let v = wd("POST", &format!("{}/session", driver.url), Some(caps));
        let session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {v}"))
            .to_string();
        Browser { driver, session }
    }

    fn at(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.driver.url, self.session)
    }

    fn go(&self, url: &str) {
        wd("POST", &self.at("/url"), Some(json!({ "url": url })));
    }

    fn url(&self) -> String {
        wd("GET", &self.at("/url"), None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn source(&self) -> String {
        wd("GET", &self.at("/source"), None)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn element(&self, css: &str) -> String {
        let v = wd(
            "POST",
            &self.at("/element"),
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    fn count(&self, css: &str) -> usize {
        wd(
            "POST",
            &self.at("/elements"),
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .map_or(0, Vec::len)
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css);
        wd("POST", &self.at(&format!("/element/{e}/clear")), None);
        wd(
            "POST",
            &self.at(&format!("/element/{e}/value")),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let e = self.element(css);
        wd("POST", &self.at(&format!("/element/{e}/click")), None);
    }

    /// Wait (at most 20 s) until `done` holds: a click returns before the page it submits has
    /// loaded.
    fn wait_until(&self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "waited 20 s for {what}: at {} with {}",
                self.url(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_in(&self, name: &str, password: &str) {
        self.type_into("#name", name);
        self.type_into("#password", password);
        self.click("#login");
    }
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let _ = ureq::delete(&self.at("")).call();
    }
}

fn heartbeat(paper: &str, sessions: u64, printer_up: bool) -> String {
    serde_json::to_string(&Heartbeat {
        version: env!("CARGO_PKG_VERSION").to_string(),
        config_hash: "0123456789abcdef".into(),
        devices: [
            ("reader".to_string(), true),
            ("scanner".to_string(), true),
            ("printer".to_string(), printer_up),
        ]
        .into_iter()
        .collect(),
        paper: Some(paper.into()),
        sessions_today: sessions,
        payments_today: sessions / 2,
    })
    .unwrap()
}

#[test]
fn the_fleet_page_shows_two_kiosks_in_a_browser_after_a_login() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("city.sqlite3");
    schema::open(&db).unwrap();
    let (k1_key, k1_pub) = remote::keygen(dir.path(), "k1.key");
    let (k2_key, k2_pub) = remote::keygen(dir.path(), "k2.key");
    let kiosks = dir.path().join("kiosks.toml");
    std::fs::write(
        &kiosks,
        format!(
            "[kiosks.CQ-YZ-0001]\npublic_key = \"{k1_pub}\"\nhall = \"渝中大厅\"\n\
             [kiosks.CQ-JB-0002]\npublic_key = \"{k2_pub}\"\nhall = \"江北大厅\"\n"
        ),
    )
    .unwrap();
    let operators = dir.path().join("operators.toml");
    let hash = kiosk::server::fleet::password_hash(PASSWORD).unwrap();
    std::fs::write(
        &operators,
        format!("[operators.ops]\npassword_hash = \"{hash}\"\n"),
    )
    .unwrap();
    // The demo parts without the demo identity: only the listed kiosks may call.
    let config = remote::demo_parts_config(dir.path());
    let server = remote::start_server(
        &db,
        &[
            "--config",
            &config,
            "--kiosks",
            kiosks.to_str().unwrap(),
            "--operators",
            operators.to_str().unwrap(),
        ],
    );

    // Each kiosk reports through its own signed calls, as `app::heartbeat` does.
    let now = Timestamp::now();
    let report = |id: &str, key: &Path, kind: &str, detail: &str| {
        let p = RemotePlatform::new(&server.url, KioskIdentity::from_key_file(id, key).unwrap())
            .unwrap();
        p.record_kiosk_event(
            &KioskEventRequest {
                kiosk_id: id.into(),
                kind: kind.into(),
                detail: detail.into(),
            },
            now,
        )
        .unwrap();
    };
    report(
        "CQ-YZ-0001",
        &k1_key,
        "heartbeat",
        &heartbeat("ok", 17, true),
    );
    report(
        "CQ-JB-0002",
        &k2_key,
        "printer_out_of_paper",
        "打印机缺纸 / the printer is out of paper",
    );
    report(
        "CQ-JB-0002",
        &k2_key,
        "heartbeat",
        &heartbeat("out", 4, true),
    );

    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::open(&driver, profile.path());

    // Not logged in: to the login page.
    browser.go(&format!("{}/fleet", server.url));
    assert!(browser.url().ends_with("/login"), "{}", browser.url());
    // A wrong password: still the login, told so.
    // The click returns before the server's answer (an argon2 check) has loaded: wait for it.
    browser.log_in("ops", "not the password");
    browser.wait_until("the wrong-password message", |b| {
        b.source()
            .contains("用户名或密码错误 / Wrong name or password")
    });
    assert!(browser.url().ends_with("/login"), "{}", browser.url());
    assert_eq!(browser.count("tr.kiosk"), 0);
    // The right one: the fleet.
    browser.log_in("ops", PASSWORD);
    browser.wait_until("the fleet page", |b| b.url().ends_with("/fleet"));
    assert_eq!(browser.count("tr.kiosk"), 2, "{}", browser.source());
    let html = browser.source();
    for expected in [
        "CQ-YZ-0001",
        "渝中大厅",
        "CQ-JB-0002",
        "江北大厅",
        env!("CARGO_PKG_VERSION"),
        "0123456789abcdef",
        "缺纸 / out",
        "有纸 / ok",
        "在线 / reporting",
        "printer_out_of_paper",
        "<b id=\"operator\">ops</b>",
    ] {
        assert!(
            html.contains(expected),
            "the page lacks {expected:?}: {html}"
        );
    }
    // Kiosk 2's line: its paper out, one problem today, 4 sessions.
    let row2 = html
        .split("data-kiosk=\"CQ-JB-0002\"")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap();
    assert!(
        row2.contains("缺纸 / out") && row2.contains(">4<") && row2.contains(">1</span>"),
        "{row2}"
    );
    let row1 = html
        .split("data-kiosk=\"CQ-YZ-0001\"")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap();
    assert!(
        row1.contains("有纸 / ok") && row1.contains(">17<"),
        "{row1}"
    );
}
