//! Everything `kiosk run` needs of `kiosk.toml`, checked before anything opens: the values
//! ([`KioskConfig::validate_values`]), the device URIs, the scanner suffix, the demo city's size,
//! the policy file and, with a platform server, the kiosk's key file. `kiosk config` and `kiosk run` call the same [`check`], so a configuration
//! `kiosk config` accepts never fails at start-up for one of these reasons.

use crate::config::{ConfigError, KioskConfig};
use crate::devices::DeviceUri;

/// The first unusable key of `config` (read from `name`), with what is wrong and what to do.
pub fn check(config: &KioskConfig, name: &str) -> Result<crate::rules::PolicyBook, ConfigError> {
    let bad = |key: &'static str, message: String| ConfigError::Invalid {
        path: name.to_string(),
        key,
        message,
    };
    config.validate_values().map_err(|(k, m)| bad(k, m))?;
    for (key, uri, serial_only) in [
        ("devices.reader", &config.devices.reader, true),
        ("devices.scanner", &config.devices.scanner, true),
        ("devices.printer", &config.devices.printer, false),
    ] {
        let parsed: DeviceUri = uri.parse().map_err(|e| bad(key, format!("{e}")))?;
        if serial_only && !matches!(parsed, DeviceUri::Sim | DeviceUri::Serial { .. }) {
            return Err(bad(
                key,
                format!("“{uri}”: this device is attached as sim or serial:PATH[?baud=N]"),
            ));
        }
    }
    config
        .devices
        .scanner_suffix
        .parse::<crate::devices::scanner::Suffix>()
        .map_err(|e| bad("devices.scanner_suffix", e.to_string()))?;
    // [face]: the verifier app::assemble builds (its URL and timeout are values, above).
    match config.face.provider.as_str() {
        "demo" => {}
        "http" => {
            config
                .face
                .camera
                .trim()
                .parse::<crate::devices::camera::CameraUri>()
                .map_err(|e| bad("face.camera", e.to_string()))?;
        }
        other => {
            return Err(bad(
                "face.provider",
                format!("unknown provider {other:?} (demo or http)"),
            ));
        }
    }
    let key_file = config.platform.key_file.trim();
    if config.platform.remote_url().is_some() && !key_file.is_empty() {
        crate::wire::auth::KioskIdentity::from_key_file(
            config.kiosk.id.clone(),
            std::path::Path::new(key_file),
        )
        .map_err(|e| {
            bad(
                "platform.key_file",
                format!("{e}; make one with `kiosk keygen --out FILE`"),
            )
        })?;
    }
    if let Some(path) = config.audit.key_path() {
        crate::store::audit::AuditKey::from_file(path).map_err(|e| {
            bad(
                "audit.key_file",
                format!("{e}; make one with `kiosk db audit-key --out FILE`"),
            )
        })?;
    }
    let refusals = config.production_refusals();
    if !refusals.is_empty() {
        return Err(ConfigError::Refused {
            path: name.to_string(),
            refusals,
        });
    }
    let max = crate::store::demo::MAX_DEMO_PERSONS;
    if u64::from(config.database.demo_persons) > max {
        return Err(bad(
            "database.demo_persons",
            format!("must be at most {max}"),
        ));
    }
    crate::app::load_policy(None, config).map_err(|e| {
        bad(
            "policy.file",
            format!("{e:#}; fix the file or leave the key empty for the embedded policy"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(toml: &str) -> Result<(), String> {
        let c = KioskConfig::from_toml_over_default(toml, "t.toml").map_err(|e| e.to_string())?;
        check(&c, "t.toml").map(|_| ()).map_err(|e| e.to_string())
    }

    /// Each row: a kiosk.toml fragment that `run` could not use, and the key the error names.
    #[test]
    fn kiosk_config_refuses_what_run_would_naming_the_key() {
        let huge_pin = format!("[operator]\npin = \"{}\"\n", "1".repeat(100_000));
        let table: Vec<(&str, &str)> = vec![
            ("[screen]\nwidth_mm = nan\n", "screen.width_mm"),
            ("[screen]\nheight_mm = -268.0\n", "screen.height_mm"),
            ("[screen]\nwidth_mm = inf\n", "screen.width_mm"),
            ("[screen]\nmin_touch_mm = 0.0\n", "screen.min_touch_mm"),
            ("[screen]\nmin_touch_mm = -3.0\n", "screen.min_touch_mm"),
            ("[timeouts]\ncard_read_ms = 0\n", "timeouts.card_read_ms"),
            (
                "[timeouts]\nidle_warning_seconds = 0\n",
                "timeouts.idle_warning_seconds",
            ),
            (
                "[timeouts]\nidle_seconds = 100000\n",
                "timeouts.idle_seconds",
            ),
            ("[database]\npath = \"\"\n", "database.path"),
            (
                "[platform]\nurl = \"http://127.0.0.1:9\"\nkey_file = \"/nonexistent/kiosk.key\"\n",
                "platform.key_file",
            ),
            ("[platform]\nurl = \"tcp://x\"\n", "platform.url"),
            ("[database]\npath = \"   \"\n", "database.path"),
            (
                "[database]\ndemo_persons = 4000000000\n",
                "database.demo_persons",
            ),
            (huge_pin.as_str(), "operator.pin"),
            ("[operator]\npin = \"123\"\n", "operator.pin"),
            ("[operator]\npin = \"12ab\"\n", "operator.pin"),
            ("[devices]\nreader = \"serial:\"\n", "devices.reader"),
            (
                "[devices]\nscanner = \"usb:0416:5011\"\n",
                "devices.scanner",
            ),
            ("[devices]\nprinter = \"lpt1\"\n", "devices.printer"),
            (
                "[devices]\nprinter = \"usb:04x6:5011\"\n",
                "devices.printer",
            ),
            (
                "[devices]\nscanner_suffix = \"\\t\"\n",
                "devices.scanner_suffix",
            ),
            ("[policy]\nfile = \"/no/such/policy.toml\"\n", "policy.file"),
            (
                "[kiosk]\nconsultation_phone = \"\"\n",
                "kiosk.consultation_phone",
            ),
            (
                "[kiosk]\nconsultation_phone = \"call us\"\n",
                "kiosk.consultation_phone",
            ),
            (
                "[kiosk]\nhall_phones = [\"023\", \"x\"]\n",
                "kiosk.hall_phones",
            ),
            ("[face]\nprovider = \"cloud\"\n", "face.provider"),
            (
                "[face]\nprovider = \"http\"\ncamera = \"files:/f\"\n",
                "face.url",
            ),
            (
                "[face]\nprovider = \"http\"\nurl = \"https://f.example/v\"\ncamera = \"/dev/video0\"\n",
                "face.camera",
            ),
            (
                "[face]\nprovider = \"http\"\nurl = \"https://f.example/v\"\ncamera = \"files:/f\"\ntimeout_ms = 60000\n",
                "face.timeout_ms",
            ),
        ];
        for (toml, key) in table {
            let e = with(toml).expect_err(key);
            assert!(e.contains(key), "{key}: {e}");
            assert!(e.len() < 400, "{key}: the message is short: {e}");
        }
    }

    #[test]
    fn the_embedded_default_and_sane_files_pass() {
        with("").unwrap();
        with("[devices]\nscanner_suffix = \"\"\nreader = \"serial:/dev/ttyUSB0?baud=115200\"\n")
            .unwrap();
        with("[operator]\npin = \"123456789012\"\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("p.toml");
        std::fs::write(&policy, crate::rules::policy::EMBEDDED_POLICY).unwrap();
        with(&format!(
            "[policy]\nfile = {:?}\n",
            policy.display().to_string()
        ))
        .unwrap();
        std::fs::write(&policy, "[[epidemic_relief]]\nname = 1\n").unwrap();
        let e = with(&format!(
            "[policy]\nfile = {:?}\n",
            policy.display().to_string()
        ))
        .unwrap_err();
        assert!(e.contains("policy.file"), "{e}");
    }
}
