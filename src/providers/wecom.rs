//! 呼叫工作人员 through a WeCom (企业微信) group robot: the hall staff's group gets a text message.
//!
//! The robot's webhook, as WeCom documents it: `POST https://qyapi.weixin.qq.com/cgi-bin/webhook/
//! send?key=KEY`, `Content-Type: application/json`, body
//! `{"msgtype":"text","text":{"content":"…","mentioned_mobile_list":["138…","@all"]}}` (content
//! UTF-8, at most 2048 bytes; 20 messages a minute per robot), answer
//! `{"errcode":0,"errmsg":"ok"}`. A non-zero `errcode` (93000: the key is not a robot's), an
//! HTTP status other than 200, an answer that is not this JSON or no answer within the timeout is
//! a call not delivered. The URL holds the robot's key: logs and errors show it masked.
//!
//! The same types are the simulator's (`wecom_sim`, `kiosk sim wecom`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{StaffCallSection, mask_url};
use crate::flow::ports::{StaffCall, StaffCallOutcome, StaffCaller};

/// The most bytes of `content` WeCom takes.
pub const MAX_CONTENT_BYTES: usize = 2048;
/// The most bytes of an answer read.
pub const MAX_ANSWER_BYTES: u64 = 16 * 1024;
/// The errcode WeCom answers for a key that is no robot's.
pub const ERR_INVALID_KEY: i64 = 93000;

/// The robot's text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookMessage {
    pub msgtype: String,
    pub text: TextBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentioned_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentioned_mobile_list: Vec<String>,
}

impl WebhookMessage {
    /// A text message, cut at a character boundary to [`MAX_CONTENT_BYTES`].
    pub fn text(content: &str, mentioned_mobile_list: Vec<String>) -> Self {
        let mut end = content.len().min(MAX_CONTENT_BYTES);
        while !content.is_char_boundary(end) {
            end -= 1;
        }
        WebhookMessage {
            msgtype: "text".into(),
            text: TextBody {
                content: content[..end].to_string(),
                mentioned_list: Vec::new(),
                mentioned_mobile_list,
            },
        }
    }
}

/// The robot's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAnswer {
    pub errcode: i64,
    #[serde(default)]
    pub errmsg: String,
}

/// Why a message was not delivered (the URL never in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WecomError {
    #[error("WeCom robot not reached: {0}")]
    Unreachable(String),
    #[error("WeCom robot answered HTTP {0}")]
    Status(u16),
    #[error("WeCom robot refused the message: errcode {errcode} ({errmsg})")]
    Refused { errcode: i64, errmsg: String },
    #[error("WeCom robot's answer not understood: {0}")]
    Garbled(String),
}

/// A client of one group robot.
pub struct WecomRobot {
    url: crate::privacy::Masked<String>,
    agent: ureq::Agent,
    timeout: Duration,
    mentioned_mobile_list: Vec<String>,
    kiosk_id: String,
    hall: String,
}

impl WecomRobot {
    /// A client of the webhook `url` whose every call ends within `timeout`; messages name
    /// `kiosk_id` and `hall`.
    pub fn new(url: &str, timeout: Duration, kiosk_id: &str, hall: &str) -> WecomRobot {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(timeout))
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        WecomRobot {
            url: crate::privacy::Masked::new(url.trim().to_string()),
            agent,
            timeout,
            mentioned_mobile_list: Vec::new(),
            kiosk_id: kiosk_id.to_string(),
            hall: hall.to_string(),
        }
    }

    /// From `[staff_call]` (provider `wecom`, checked by `validate`).
    pub fn from_section(s: &StaffCallSection, kiosk_id: &str, hall: &str) -> WecomRobot {
        WecomRobot::new(
            &s.url,
            Duration::from_millis(u64::from(s.timeout_ms)),
            kiosk_id,
            hall,
        )
        .mentioning(s.mentioned_mobile_list.clone())
    }

    /// Mention these mobile numbers (or `@all`) in every message.
    pub fn mentioning(mut self, mobiles: Vec<String>) -> WecomRobot {
        self.mentioned_mobile_list = mobiles;
        self
    }

    /// The webhook with its key masked (for logs).
    pub fn masked_url(&self) -> String {
        mask_url(self.url.expose())
    }

    /// Send one text message, within the configured timeout.
    pub fn send(&self, content: &str) -> Result<(), WecomError> {
        self.send_within(content, self.timeout)
    }

    /// Send one text message, within `deadline` (and the configured timeout).
    pub fn send_within(&self, content: &str, deadline: Duration) -> Result<(), WecomError> {
        let message = WebhookMessage::text(content, self.mentioned_mobile_list.clone());
        let body = serde_json::to_vec(&message).map_err(|e| WecomError::Garbled(e.to_string()))?;
        // ureq's errors may quote the URL: never pass them on as they are.
        let url = self.url.expose();
        let hide = |text: String| match url.split_once('?') {
            Some((_, q)) if !q.is_empty() => text.replace(q, "…"),
            _ => text,
        };
        let mut resp = self
            .agent
            .post(url)
            .config()
            .timeout_global(Some(deadline.min(self.timeout)))
            .build()
            .header("content-type", "application/json")
            .send(&body[..])
            .map_err(|e| WecomError::Unreachable(hide(e.to_string())))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| WecomError::Unreachable(hide(format!("reading the answer: {e}"))))?;
        if status != 200 {
            return Err(WecomError::Status(status));
        }
        let answer: WebhookAnswer =
            serde_json::from_slice(&bytes).map_err(|e| WecomError::Garbled(e.to_string()))?;
        if answer.errcode != 0 {
            return Err(WecomError::Refused {
                errcode: answer.errcode,
                errmsg: hide(answer.errmsg.chars().take(200).collect()),
            });
        }
        Ok(())
    }
}

impl StaffCaller for WecomRobot {
    fn call(&mut self, call: &StaffCall, deadline: Duration) -> StaffCallOutcome {
        match self.send_within(&call.text(&self.kiosk_id, &self.hall), deadline) {
            Ok(()) => {
                tracing::info!(webhook = %self.masked_url(), reason = call.reason.code(), "staff call delivered to the WeCom group");
                StaffCallOutcome::Delivered
            }
            Err(e) => {
                tracing::warn!(webhook = %self.masked_url(), error = %e, "staff call not delivered to the WeCom group");
                StaffCallOutcome::NotDelivered(e.to_string())
            }
        }
    }
}
