//! The one logging set-up of the binary: to journald when there is a journal (structured fields,
//! priorities), else to standard error. Filtered by `KIOSK_LOG` (default `warn`).

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Where the logs went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Journald,
    Stderr,
}

/// journald's socket; without it `tracing-journald` cannot connect.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// The journald layer, when a journal answers (`None` here means: fall back to stderr).
pub fn journald_layer() -> Option<tracing_journald::Layer> {
    match tracing_journald::layer() {
        Ok(layer) => Some(layer.with_syslog_identifier("kiosk".into())),
        Err(_) => None,
    }
}

fn filter() -> tracing_subscriber::EnvFilter {
    filter_of(std::env::var("KIOSK_LOG").as_deref().unwrap_or("warn"))
}

/// The logs' filter for a `KIOSK_LOG` value (an invalid one: `warn`), whatever it asks: the HTTP
/// client's byte dumps (`ureq_proto` at TRACE: request heads with their API keys, answers that
/// may hold personal data) are never logged.
pub fn filter_of(spec: &str) -> tracing_subscriber::EnvFilter {
    let filter = tracing_subscriber::EnvFilter::try_new(spec)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    match "ureq_proto=off".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// Install the process's logger: journald when there is a journal, else standard error.
/// `KIOSK_LOG_STDERR=1` forces standard error. Installing twice keeps the first (tests).
pub fn init() -> Sink {
    let journald = if std::env::var("KIOSK_LOG_STDERR").as_deref() == Ok("1") {
        None
    } else {
        journald_layer()
    };
    match journald {
        Some(layer) => {
            let _ = tracing_subscriber::registry()
                .with(filter())
                .with(layer)
                .try_init();
            Sink::Journald
        }
        None => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter())
                .with_writer(std::io::stderr)
                .try_init();
            Sink::Stderr
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a journal (the sandbox, CI containers) the logs go to standard error; with one,
    /// to journald. Whichever this machine has, `init` says the right one and logging works.
    #[test]
    fn without_a_journal_the_logs_fall_back_to_stderr() {
        let has_journal = std::path::Path::new(JOURNAL_SOCKET).exists();
        assert_eq!(journald_layer().is_some(), has_journal);
        let sink = init();
        let expected = if has_journal && std::env::var("KIOSK_LOG_STDERR").as_deref() != Ok("1") {
            Sink::Journald
        } else {
            Sink::Stderr
        };
        assert_eq!(sink, expected);
        tracing::warn!(reason = "test", "logging set up");
    }
}
