//! placeholder
pub fn run_db(args: Vec<String>) -> anyhow::Result<i32> {
    anyhow::bail!("kiosk db {:?}: not built yet", args)
}
pub fn run_platform(args: Vec<String>) -> anyhow::Result<i32> {
    anyhow::bail!("kiosk platform {:?}: not built yet", args)
}
