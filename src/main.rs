fn main() -> std::process::ExitCode {
    // journald when there is a journal, else standard error (`kiosk::ops::logging`).
    kiosk::ops::logging::init();
    kiosk::cli::main()
}
