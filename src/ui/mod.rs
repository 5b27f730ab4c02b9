//! The egui/eframe UI: draws the flow's state and sends events.

/// Open the kiosk window. Returns the process exit code.
pub fn run(config: crate::config::KioskConfig) -> anyhow::Result<i32> {
    let _ = config;
    println!("kiosk: the window is not built yet; try `kiosk rules eval --help`.");
    Ok(0)
}
