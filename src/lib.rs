//! The software inside a self-service traffic-violation kiosk.
//!
//! See `ARCHITECTURE.md` for the bird's-eye view and the code map.

// Amounts in fen are written yuan_fen (`Fen(200_00)` is 200.00 yuan), which this lint reads as
// thousands grouped wrongly.
#![allow(clippy::inconsistent_digit_grouping)]

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
