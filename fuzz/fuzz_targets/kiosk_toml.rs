//! `kiosk.toml` parsing and validation on arbitrary text: the file laid over the embedded default,
//! every value checked, and the device URIs parsed as `kiosk config` and `run` do.
//!
//! Checks: no panic; an accepted configuration has finite, in-range numbers and a PIN of 4 to 12
//! digits, and prints as TOML that loads back to itself; a refusal names a key or the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/config.rs"]
mod config;

/// What `devices::uri` needs of its parent module.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy)]
pub enum ErrorKind {
    Config,
}
pub trait DeviceError: std::error::Error + Send + Sync + 'static {
    fn kind(&self) -> ErrorKind;
}
#[allow(dead_code)]
#[path = "../../src/devices/uri.rs"]
mod uri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::KioskConfig::from_toml_over_default(text, "fuzz.toml") {
        Ok(c) => {
            for v in [c.screen.width_mm, c.screen.height_mm, c.screen.min_touch_mm] {
                assert!(v.is_finite() && v > 0.0, "{v}");
            }
            assert!(c.timeouts.card_read_ms > 0);
            assert!(c.timeouts.idle_warning_seconds < c.timeouts.idle_seconds);
            assert!((4..=12).contains(&c.operator.pin.len()));
            assert!(!c.database.path.trim().is_empty());
            for u in [&c.devices.reader, &c.devices.scanner, &c.devices.printer] {
                let _ = u.parse::<uri::DeviceUri>();
            }
            let printed = toml::to_string_pretty(&c).expect("prints");
            let again = config::KioskConfig::from_toml_over_default(&printed, "again.toml")
                .expect("the printed configuration loads");
            assert_eq!(again, c);
        }
        Err(e) => {
            let s = e.to_string();
            assert!(s.starts_with("fuzz.toml"), "{s}");
        }
    }
});
