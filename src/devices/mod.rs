//! Devices: ID card reader, QR scanner, receipt printer (see shared spec devices.md).

pub mod cli {
    /// `kiosk device ...` — arguments after `device`.
    pub fn run(args: Vec<String>) -> anyhow::Result<i32> {
        anyhow::bail!("kiosk device {:?}: the device layer is not built yet", args)
    }
}
