//! 呼叫工作人员's providers, chosen by `[staff_call] provider`: the flow's
//! [`StaffCaller`](crate::flow::ports::StaffCaller) port over
//! - `platform`: a `staff_call` kiosk event — recorded in the local store's `kiosk_events`, or
//!   with `[platform] url` sent at once to the server with a short deadline and, if that fails,
//!   queued in the outbox under the same idempotency key (not lost; the person is told it did not
//!   get through). The server's fleet page lists the open calls;
//! - `wecom`: the hall staff's WeCom group robot (`providers::wecom`);
//! - `demo` (demo mode only): the simulator panel's pager.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{KioskConfig, StaffCallSection};
use crate::domain::staff_call::STAFF_CALL_EVENT;
use crate::flow::ports::{StaffCall, StaffCallOutcome, StaffCaller};
use crate::store::platform::{KioskEventRequest, Platform};

use super::outbox::{Item, Outbox};

/// The demo's pager: every call is delivered to the simulator panel's list.
pub struct DemoPager {
    pub pager: crate::ui::Pager,
    kiosk_id: String,
    hall: String,
}

/// The most calls the pager keeps.
const PAGER_KEEPS: usize = 50;

impl StaffCaller for DemoPager {
    fn call(&mut self, call: &StaffCall, _: Duration) -> StaffCallOutcome {
        let text = call.text(&self.kiosk_id, &self.hall);
        match self.pager.lock() {
            Ok(mut p) => {
                p.push(text);
                let over = p.len().saturating_sub(PAGER_KEEPS);
                p.drain(..over);
                StaffCallOutcome::Delivered
            }
            Err(_) => StaffCallOutcome::NotDelivered("the demo pager is broken".into()),
        }
    }
}

/// `provider = "platform"`.
pub enum PlatformStaffCaller {
    /// A kiosk on its own store: recorded there.
    Local {
        platform: Arc<dyn Platform>,
        kiosk_id: String,
    },
    /// A server's terminal: sent at once (short deadline, no retries), queued if that fails.
    Remote {
        server: Box<crate::remote::RemotePlatform>,
        outbox: Arc<Outbox>,
        kiosk_id: String,
    },
}

impl StaffCaller for PlatformStaffCaller {
    fn call(&mut self, call: &StaffCall, _: Duration) -> StaffCallOutcome {
        let request = |kiosk_id: &str| KioskEventRequest {
            kiosk_id: kiosk_id.to_string(),
            kind: STAFF_CALL_EVENT.into(),
            detail: call.detail(),
        };
        match self {
            PlatformStaffCaller::Local { platform, kiosk_id } => {
                match platform.record_kiosk_event(&request(kiosk_id), call.at) {
                    Ok(_) => StaffCallOutcome::Delivered,
                    Err(e) => StaffCallOutcome::NotDelivered(format!("not recorded: {e}")),
                }
            }
            PlatformStaffCaller::Remote {
                server,
                outbox,
                kiosk_id,
            } => {
                let request = request(kiosk_id);
                let key = crate::wire::random_hex(16);
                match server.kiosk_event_with_key(&request, call.at, &key) {
                    Ok(_) => StaffCallOutcome::Delivered,
                    Err(e) => {
                        // Not lost: the outbox delivers it (same key: recorded once) when the
                        // link returns; the person is sent to the window meanwhile.
                        let queued = outbox.push_with_key(
                            Item::Event {
                                request,
                                at: call.at,
                            },
                            &key,
                        );
                        if let Err(q) = &queued {
                            tracing::error!(error = %q, "staff call not queued either");
                        }
                        StaffCallOutcome::NotDelivered(format!(
                            "the platform server did not take it ({e}); {}",
                            if queued.is_ok() {
                                "queued in the outbox"
                            } else {
                                "not queued"
                            }
                        ))
                    }
                }
            }
        }
    }
}

/// The short deadline of a staff call sent to the platform server.
pub const PLATFORM_CALL_DEADLINE: Duration = Duration::from_secs(3);

/// The staff caller `[staff_call]` names. `platform`/`outbox`/`server` are the kiosk's platform
/// (its local store, or the server's client and the outbox), `pager` the demo panel's list.
pub fn staff_caller(
    config: &KioskConfig,
    platform: Arc<dyn Platform>,
    remote: Option<(crate::remote::RemotePlatform, Arc<Outbox>)>,
    pager: &crate::ui::Pager,
) -> Result<Box<dyn StaffCaller + Send>, super::AppError> {
    let s = &config.staff_call;
    let kiosk_id = config.kiosk.id.clone();
    let hall = config.kiosk.hall_name.clone();
    Ok(match s.provider.as_str() {
        StaffCallSection::DEMO if config.kiosk.demo => Box::new(DemoPager {
            pager: pager.clone(),
            kiosk_id,
            hall,
        }),
        StaffCallSection::DEMO => {
            return Err(super::AppError::DemoParts(
                crate::config::demo_provider_refusals(&[("staff_call.provider", "demo")]),
            ));
        }
        StaffCallSection::PLATFORM => match remote {
            Some((server, outbox)) => Box::new(PlatformStaffCaller::Remote {
                server: Box::new(
                    server
                        .with_retries(0, Duration::from_millis(100))
                        .with_deadline(PLATFORM_CALL_DEADLINE),
                ),
                outbox,
                kiosk_id,
            }),
            None => Box::new(PlatformStaffCaller::Local { platform, kiosk_id }),
        },
        StaffCallSection::WECOM => {
            let robot = crate::providers::wecom::WecomRobot::from_section(s, &kiosk_id, &hall);
            tracing::info!(webhook = %robot.masked_url(), "staff calls go to the WeCom group robot");
            Box::new(robot)
        }
        other => {
            return Err(super::AppError::Providers(format!(
                "staff_call.provider: unknown provider {other:?} (demo, platform or wecom)"
            )));
        }
    })
}
