//! The WeCom group robot's simulator (`kiosk sim wecom`, and [`spawn`] for tests): the webhook
//! of [`super::wecom`], the same JSON types. `POST /cgi-bin/webhook/send?key=KEY` takes a text
//! message for a robot whose key it knows and keeps it (the last [`KEPT`]); a key it does not know
//! is answered `{"errcode":93000,…}` as WeCom does, a body that is not a text message 40008, an
//! empty content 44004, a content over 2048 bytes 40058. `GET /sim/messages` lists what was kept
//! (JSON). [`WecomSim::stall`] makes it say nothing for a while (a robot out of reach).

use super::sim_serve::{self, ServeError};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::wecom::{ERR_INVALID_KEY, MAX_CONTENT_BYTES, WebhookAnswer, WebhookMessage};

/// The webhook's path.
pub const SEND_PATH: &str = "/cgi-bin/webhook/send";
/// How many messages the simulator keeps (the oldest go first).
pub const KEPT: usize = 200;

/// The simulator's state, shared with the test (or the command) that runs it.
#[derive(Clone)]
pub struct WecomSim {
    /// The robots' keys it accepts.
    pub keys: Vec<String>,
    /// The messages received, oldest first.
    pub messages: Arc<Mutex<VecDeque<WebhookMessage>>>,
    /// Say nothing for this long before answering (None: answer at once).
    pub stall: Arc<Mutex<Option<Duration>>>,
}

impl WecomSim {
    /// A simulator of the robot with `key`.
    pub fn new(key: &str) -> WecomSim {
        WecomSim {
            keys: vec![key.to_string()],
            messages: Arc::default(),
            stall: Arc::default(),
        }
    }

    /// The contents received, oldest first.
    pub fn contents(&self) -> Vec<String> {
        self.messages
            .lock()
            .map(|m| m.iter().map(|m| m.text.content.clone()).collect())
            .unwrap_or_default()
    }

    /// Answer only after `d` (None: at once).
    pub fn stall(&self, d: Option<Duration>) {
        if let Ok(mut s) = self.stall.lock() {
            *s = d;
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route(SEND_PATH, post(send))
            .route("/sim/messages", get(list))
            .layer(DefaultBodyLimit::max(64 * 1024))
            .with_state(self.clone())
    }
}

#[derive(serde::Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

fn answer(errcode: i64, errmsg: &str) -> Response {
    axum::Json(WebhookAnswer {
        errcode,
        errmsg: errmsg.to_string(),
    })
    .into_response()
}

async fn send(State(sim): State<WecomSim>, Query(q): Query<KeyQuery>, body: Bytes) -> Response {
    let stall = sim.stall.lock().ok().and_then(|s| *s);
    if let Some(d) = stall {
        tokio::time::sleep(d).await;
    }
    if !q.key.as_ref().is_some_and(|k| sim.keys.contains(k)) {
        return answer(ERR_INVALID_KEY, "invalid webhook url, hint: key not found");
    }
    let Ok(message) = serde_json::from_slice::<WebhookMessage>(&body) else {
        return answer(40008, "invalid message type");
    };
    if message.msgtype != "text" {
        return answer(40008, "invalid message type");
    }
    if message.text.content.trim().is_empty() {
        return answer(44004, "empty content");
    }
    if message.text.content.len() > MAX_CONTENT_BYTES {
        return answer(40058, "content exceed max length 2048");
    }
    if let Ok(mut m) = sim.messages.lock() {
        m.push_back(message);
        while m.len() > KEPT {
            m.pop_front();
        }
    }
    answer(0, "ok")
}

async fn list(State(sim): State<WecomSim>) -> Response {
    let all: Vec<WebhookMessage> = sim
        .messages
        .lock()
        .map(|m| m.iter().cloned().collect())
        .unwrap_or_default();
    axum::Json(all).into_response()
}

/// Why the simulator could not start.
pub type WecomSimError = ServeError;

/// Serve until the process ends; `ready` is told the address listened on (port 0 picks one).
pub fn run(
    sim: WecomSim,
    listen: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), WecomSimError> {
    sim_serve::serve(listen, sim.router(), ready)
}

/// Run the simulator on a background thread of this process; its address once it listens.
/// The webhook of a key is `http://ADDR/cgi-bin/webhook/send?key=KEY`.
pub fn spawn(sim: WecomSim) -> Result<SocketAddr, WecomSimError> {
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    sim_serve::spawn("wecom-sim", listen, sim.router(), |addr| addr)
}

/// The webhook URL of `key` at a simulator listening on `addr`.
pub fn webhook(addr: SocketAddr, key: &str) -> String {
    format!("http://{addr}{SEND_PATH}?key={key}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::ports::{
        StaffCall, StaffCallOutcome, StaffCallReason, StaffCallStep, StaffCaller,
    };
    use crate::providers::wecom::{WecomError, WecomRobot};

    const KEY: &str = "693a91f6-7a0c-4bc4-97a0-0ec2sifa5aaa";

    fn call() -> StaffCall {
        StaffCall {
            reason: StaffCallReason::PaymentProblem,
            step: StaffCallStep::Payment,
            at: "2026-11-25T02:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_staff_call_reaches_the_wecom_group_with_its_mentions() {
        let sim = WecomSim::new(KEY);
        let addr = spawn(sim.clone()).unwrap();
        let mut robot = WecomRobot::new(
            &webhook(addr, KEY),
            Duration::from_secs(2),
            "CQ-T1",
            "渝中大厅",
        )
        .mentioning(vec!["13800001111".into()]);
        assert_eq!(
            robot.call(&call(), Duration::from_secs(5)),
            StaffCallOutcome::Delivered
        );
        let kept = sim.messages.lock().unwrap().clone();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].msgtype, "text");
        assert_eq!(kept[0].text.mentioned_mobile_list, vec!["13800001111"]);
        let c = &kept[0].text.content;
        assert!(
            c.contains("CQ-T1") && c.contains("渝中大厅") && c.contains("缴款"),
            "{c}"
        );
    }

    #[test]
    fn a_wrong_webhook_key_is_not_delivered_and_the_key_is_not_said() {
        let sim = WecomSim::new(KEY);
        let addr = spawn(sim.clone()).unwrap();
        let robot = WecomRobot::new(
            &webhook(addr, "not-the-key-0000"),
            Duration::from_secs(2),
            "CQ-T1",
            "hall",
        );
        let e = robot.send("hello").unwrap_err();
        assert!(
            matches!(e, WecomError::Refused { errcode: 93000, .. }),
            "{e:?}"
        );
        let mut robot = robot;
        let StaffCallOutcome::NotDelivered(why) = robot.call(&call(), Duration::from_secs(5))
        else {
            panic!("delivered with a wrong key")
        };
        assert!(
            why.contains("93000") && !why.contains("not-the-key"),
            "{why}"
        );
        assert!(sim.contents().is_empty());
        assert!(!robot.masked_url().contains("not-the-key"));
    }

    #[test]
    fn a_robot_out_of_reach_is_not_delivered_within_the_timeout() {
        // Nothing listens on this port.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap();
        drop(free);
        let mut robot = WecomRobot::new(&webhook(addr, KEY), Duration::from_secs(1), "K", "H");
        let StaffCallOutcome::NotDelivered(why) = robot.call(&call(), Duration::from_secs(5))
        else {
            panic!("delivered to nobody")
        };
        assert!(!why.contains(KEY), "{why}");
        // A robot that answers too late: given up at the timeout, not delivered (without the
        // timeout the call would wait the 30 s and then be delivered).
        let sim = WecomSim::new(KEY);
        sim.stall(Some(Duration::from_secs(30)));
        let addr = spawn(sim.clone()).unwrap();
        let mut robot = WecomRobot::new(&webhook(addr, KEY), Duration::from_millis(500), "K", "H");
        let outcome = robot.call(&call(), Duration::from_secs(5));
        assert!(
            matches!(outcome, StaffCallOutcome::NotDelivered(_)),
            "{outcome:?}"
        );
        assert!(sim.contents().is_empty());
    }

    #[test]
    fn the_simulator_refuses_what_wecom_refuses() {
        let sim = WecomSim::new(KEY);
        let addr = spawn(sim.clone()).unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let post = |body: &str| -> WebhookAnswer {
            let mut r = agent.post(&webhook(addr, KEY)).send(body).unwrap();
            serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap()
        };
        assert_eq!(post("not json").errcode, 40008);
        assert_eq!(
            post(r#"{"msgtype":"markdown","text":{"content":"x"}}"#).errcode,
            40008
        );
        assert_eq!(
            post(r#"{"msgtype":"text","text":{"content":" "}}"#).errcode,
            44004
        );
        let long = format!(
            r#"{{"msgtype":"text","text":{{"content":"{}"}}}}"#,
            "x".repeat(2049)
        );
        assert_eq!(post(&long).errcode, 40058);
        assert_eq!(
            post(r#"{"msgtype":"text","text":{"content":"hi"}}"#).errcode,
            0
        );
        assert_eq!(sim.contents(), vec!["hi"]);
        // The adapter cuts a long text to 2048 bytes at a character boundary.
        let m = WebhookMessage::text(&"呼".repeat(1000), Vec::new());
        assert!(m.text.content.len() <= MAX_CONTENT_BYTES);
    }
}
