//! 呼叫工作人员: what a call to hall staff carries — the step the person is at and why staff are
//! needed, as codes. Never a name, an ID number, a phone or a plate: the kiosk's id and hall are
//! added by whoever delivers the call (the assembly knows them), the time by the flow.
//!
//! The same codes travel in the `staff_call` kiosk event (`detail`, [`StaffCall::detail`]) and are
//! read back by the server's fleet page ([`StaffCall::from_detail`]).

use jiff::Timestamp;

/// Why staff are called (a small set of codes; words in both languages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaffCallReason {
    /// The face verification service gave no decision.
    FaceServiceDown,
    /// The face check did not match.
    FaceNoMatch,
    /// The camera failed.
    CameraFailed,
    /// The rules refused what the person wanted to do (or nothing here can be handled).
    Refusal,
    /// A payment could not be made or confirmed.
    PaymentProblem,
    /// The receipt did not print.
    PrinterProblem,
    /// The platform server cannot be reached.
    Offline,
    /// The person asked for help (no problem on screen).
    Help,
}

impl StaffCallReason {
    pub const ALL: [StaffCallReason; 8] = [
        StaffCallReason::FaceServiceDown,
        StaffCallReason::FaceNoMatch,
        StaffCallReason::CameraFailed,
        StaffCallReason::Refusal,
        StaffCallReason::PaymentProblem,
        StaffCallReason::PrinterProblem,
        StaffCallReason::Offline,
        StaffCallReason::Help,
    ];

    pub fn code(self) -> &'static str {
        match self {
            StaffCallReason::FaceServiceDown => "face_service_down",
            StaffCallReason::FaceNoMatch => "face_no_match",
            StaffCallReason::CameraFailed => "camera_failed",
            StaffCallReason::Refusal => "refusal",
            StaffCallReason::PaymentProblem => "payment_problem",
            StaffCallReason::PrinterProblem => "printer_problem",
            StaffCallReason::Offline => "offline",
            StaffCallReason::Help => "help",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn zh(self) -> &'static str {
        match self {
            StaffCallReason::FaceServiceDown => "人脸核验服务无响应",
            StaffCallReason::FaceNoMatch => "人脸核验未通过",
            StaffCallReason::CameraFailed => "摄像头故障",
            StaffCallReason::Refusal => "业务不能在自助机办理",
            StaffCallReason::PaymentProblem => "缴款遇到问题",
            StaffCallReason::PrinterProblem => "凭条未能打印",
            StaffCallReason::Offline => "网络中断",
            StaffCallReason::Help => "群众请求协助",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            StaffCallReason::FaceServiceDown => "face verification service not answering",
            StaffCallReason::FaceNoMatch => "face check did not match",
            StaffCallReason::CameraFailed => "camera failed",
            StaffCallReason::Refusal => "cannot be handled at the kiosk",
            StaffCallReason::PaymentProblem => "payment problem",
            StaffCallReason::PrinterProblem => "receipt not printed",
            StaffCallReason::Offline => "network down",
            StaffCallReason::Help => "asks for help",
        }
    }
}

/// Where in the kiosk's flow the person is (the step indicator's steps, finer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaffCallStep {
    Card,
    Face,
    Services,
    Violations,
    Notices,
    Payment,
    Receipt,
    Filing,
    Register,
    Feedback,
    Other,
}

impl StaffCallStep {
    pub const ALL: [StaffCallStep; 11] = [
        StaffCallStep::Card,
        StaffCallStep::Face,
        StaffCallStep::Services,
        StaffCallStep::Violations,
        StaffCallStep::Notices,
        StaffCallStep::Payment,
        StaffCallStep::Receipt,
        StaffCallStep::Filing,
        StaffCallStep::Register,
        StaffCallStep::Feedback,
        StaffCallStep::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            StaffCallStep::Card => "card",
            StaffCallStep::Face => "face",
            StaffCallStep::Services => "services",
            StaffCallStep::Violations => "violations",
            StaffCallStep::Notices => "notices",
            StaffCallStep::Payment => "payment",
            StaffCallStep::Receipt => "receipt",
            StaffCallStep::Filing => "filing",
            StaffCallStep::Register => "register",
            StaffCallStep::Feedback => "feedback",
            StaffCallStep::Other => "other",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn zh(self) -> &'static str {
        match self {
            StaffCallStep::Card => "读卡",
            StaffCallStep::Face => "人脸核验",
            StaffCallStep::Services => "服务菜单",
            StaffCallStep::Violations => "违法列表",
            StaffCallStep::Notices => "业务须知",
            StaffCallStep::Payment => "缴款",
            StaffCallStep::Receipt => "凭条",
            StaffCallStep::Filing => "备案",
            StaffCallStep::Register => "注册",
            StaffCallStep::Feedback => "意见反馈",
            StaffCallStep::Other => "其他",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            StaffCallStep::Card => "card",
            StaffCallStep::Face => "face check",
            StaffCallStep::Services => "services menu",
            StaffCallStep::Violations => "violations",
            StaffCallStep::Notices => "notices",
            StaffCallStep::Payment => "payment",
            StaffCallStep::Receipt => "receipt",
            StaffCallStep::Filing => "vehicle filing",
            StaffCallStep::Register => "registration",
            StaffCallStep::Feedback => "feedback",
            StaffCallStep::Other => "other",
        }
    }
}

/// One call to hall staff: why, at which step, when. Holds no personal data by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaffCall {
    pub reason: StaffCallReason,
    pub step: StaffCallStep,
    pub at: Timestamp,
}

/// The kind of the kiosk event a staff call is recorded as.
pub const STAFF_CALL_EVENT: &str = "staff_call";

impl StaffCall {
    /// The `staff_call` kiosk event's detail: `reason=CODE step=CODE` (codes only).
    pub fn detail(&self) -> String {
        format!("reason={} step={}", self.reason.code(), self.step.code())
    }

    /// Read a `staff_call` event's detail back (None: not one this build writes).
    pub fn from_detail(detail: &str, at: Timestamp) -> Option<StaffCall> {
        let mut reason = None;
        let mut step = None;
        for part in detail.split_whitespace() {
            match part.split_once('=') {
                Some(("reason", c)) => reason = StaffCallReason::parse(c),
                Some(("step", c)) => step = StaffCallStep::parse(c),
                _ => {}
            }
        }
        Some(StaffCall {
            reason: reason?,
            step: step?,
            at,
        })
    }

    /// The text hall staff read (a WeCom group, the demo pager): the hall, the kiosk, the local
    /// time (UTC+8), the step and the reason, in both languages. Built only from codes, the
    /// configured kiosk id and hall name: no personal datum can be in it.
    pub fn text(&self, kiosk_id: &str, hall: &str) -> String {
        let local = jiff::tz::offset(8)
            .to_datetime(self.at)
            .strftime("%H:%M:%S");
        format!(
            "【呼叫工作人员】{hall} 自助机 {kiosk_id}：{}（{}），{local}，请到机旁协助。\n\
             Staff call: kiosk {kiosk_id}, {}: {} ({}), {local} (UTC+8). Please go to the kiosk.",
            self.reason.zh(),
            self.step.zh(),
            if hall.is_empty() { "hall" } else { hall },
            self.reason.en(),
            self.step.en(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staff_call_detail_reads_back_and_names_codes_only() {
        let at: Timestamp = "2026-11-25T02:00:00Z".parse().unwrap();
        for reason in StaffCallReason::ALL {
            for step in StaffCallStep::ALL {
                let call = StaffCall { reason, step, at };
                assert_eq!(StaffCall::from_detail(&call.detail(), at), Some(call));
            }
        }
        assert_eq!(StaffCall::from_detail("reason=nope step=face", at), None);
        assert_eq!(StaffCall::from_detail("", at), None);
    }

    #[test]
    fn a_staff_call_text_names_hall_kiosk_local_time_step_and_reason() {
        let at: Timestamp = "2026-11-25T02:03:04Z".parse().unwrap();
        let call = StaffCall {
            reason: StaffCallReason::FaceServiceDown,
            step: StaffCallStep::Face,
            at,
        };
        let t = call.text("CQ-1", "渝中大厅");
        assert!(t.contains("渝中大厅") && t.contains("CQ-1"), "{t}");
        assert!(t.contains("10:03:04"), "{t}");
        assert!(
            t.contains("人脸核验服务无响应") && t.contains("face check"),
            "{t}"
        );
        assert!(t.len() <= 2048, "WeCom takes at most 2048 bytes");
    }
}
