//! `kiosk sim wecom`, run as a subprocess, against the kiosk's WeCom group robot adapter: the
//! command prints the webhook, takes the adapter's staff call, refuses another key with 93000 and
//! lists what it received.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kiosk::flow::ports::{
    StaffCall, StaffCallOutcome, StaffCallReason, StaffCallStep, StaffCaller,
};
use kiosk::providers::wecom::{WebhookMessage, WecomError, WecomRobot};

const KIOSK: &str = env!("CARGO_BIN_EXE_kiosk");

/// Kills the simulator when the test ends.
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_wecom_simulator_command_takes_the_adapters_call_and_refuses_another_key() {
    let mut child = Command::new(KIOSK)
        .args([
            "sim",
            "wecom",
            "--listen",
            "127.0.0.1:0",
            "--key",
            "robot-key-1",
        ])
        .env_remove("KIOSK_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kiosk runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _sim = Sim(child);
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_string();
    assert!(
        url.ends_with("/cgi-bin/webhook/send?key=robot-key-1"),
        "{url}"
    );

    let mut robot = WecomRobot::new(&url, Duration::from_secs(3), "CQ-T9", "测试大厅");
    let call = StaffCall {
        reason: StaffCallReason::PrinterProblem,
        step: StaffCallStep::Receipt,
        at: "2026-11-25T02:00:00Z".parse().unwrap(),
    };
    assert_eq!(
        robot.call(&call, Duration::from_secs(5)),
        StaffCallOutcome::Delivered
    );
    let other = WecomRobot::new(
        &url.replace("robot-key-1", "robot-key-2"),
        Duration::from_secs(3),
        "CQ-T9",
        "测试大厅",
    );
    assert!(matches!(
        other.send("hello"),
        Err(WecomError::Refused { errcode: 93000, .. })
    ));

    let base = url.split("/cgi-bin").next().unwrap();
    let mut r = ureq::get(&format!("{base}/sim/messages")).call().unwrap();
    let kept: Vec<WebhookMessage> =
        serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].text.content.contains("CQ-T9"), "{kept:?}");
    assert!(kept[0].text.content.contains("凭条未能打印"), "{kept:?}");
}
