//! Running unattended for months: the systemd watchdog (`watchdog`: `READY=1`, `WATCHDOG=1` only
//! while every registered heartbeat moves), Prometheus metrics (`metrics`: the kiosk's and the
//! server's, text format, never a personal datum in a label) and the logging set-up (`logging`:
//! journald, stderr without a journal). A leaf: the flow, the UI, the app and the server call it;
//! it calls none of them.

pub mod logging;
pub mod metrics;
pub mod watchdog;
