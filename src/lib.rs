//! The software inside a self-service traffic-violation kiosk.
//!
//! See `ARCHITECTURE.md` for the bird's-eye view and the code map.

pub mod app;
pub mod cli;
pub mod config;
pub mod devices;
pub mod domain;
pub mod flow;
pub mod ops;
pub mod privacy;
pub mod providers;
pub mod remote;
pub mod rules;
pub mod server;
pub mod store;
pub mod term;
pub mod ui;
pub mod voice;
pub mod wire;
