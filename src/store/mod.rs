//! The platform store: SQLite system of record.

pub mod cli {
    /// `kiosk db ...` — arguments after `db`.
    pub fn run_db(args: Vec<String>) -> anyhow::Result<i32> {
        anyhow::bail!("kiosk db {:?}: the store is not built yet", args)
    }
    /// `kiosk platform ...` — arguments after `platform`.
    pub fn run_platform(args: Vec<String>) -> anyhow::Result<i32> {
        anyhow::bail!("kiosk platform {:?}: the store is not built yet", args)
    }
}
