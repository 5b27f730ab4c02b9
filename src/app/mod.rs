//! The composition root: builds a running kiosk from `kiosk.toml` — the platform store behind the
//! flow's backend port, the devices behind its peripherals port — so that neither the flow nor
//! the UI knows the store or a device.

pub mod peripherals;
pub mod store_backend;

pub use store_backend::StoreBackend;
