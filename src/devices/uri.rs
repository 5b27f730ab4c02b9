//! Device URIs (devices.md): `sim` · `serial:/dev/ttyUSB0[?baud=115200]` · `usb:VID:PID` ·
//! `tcp:HOST:PORT` · `file:/path`.

use std::path::PathBuf;

/// Where a device is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceUri {
    /// The simulator.
    Sim,
    /// A serial port (RS-232 or USB-CDC), with an optional baud rate.
    Serial { path: PathBuf, baud: Option<u32> },
    /// A USB device by vendor and product id.
    Usb { vid: u16, pid: u16 },
    /// A network printer (raw port 9100).
    Tcp { host: String, port: u16 },
    /// A file or device node that raw bytes are appended to.
    File { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error(
        "“{0}” is not a device URI (expected sim, serial:PATH[?baud=N], usb:VID:PID, tcp:HOST:PORT or file:PATH)"
    )]
    Scheme(String),
    #[error("“{0}”: {1}")]
    Invalid(String, &'static str),
}

impl super::DeviceError for UriError {
    fn kind(&self) -> super::ErrorKind {
        super::ErrorKind::Config
    }
}

impl std::str::FromStr for DeviceUri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, UriError> {
        let bad = |why| UriError::Invalid(s.to_string(), why);
        if s == "sim" {
            return Ok(DeviceUri::Sim);
        }
        if let Some(rest) = s.strip_prefix("serial:") {
            let (path, query) = match rest.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (rest, None),
            };
            if path.is_empty() {
                return Err(bad("the serial port path is empty"));
            }
            let baud = match query {
                None => None,
                Some(q) => {
                    let v = q
                        .strip_prefix("baud=")
                        .ok_or(bad("the only serial option is baud=N"))?;
                    Some(
                        v.parse::<u32>()
                            .ok()
                            .filter(|b| *b > 0)
                            .ok_or(bad("baud must be a positive number"))?,
                    )
                }
            };
            return Ok(DeviceUri::Serial {
                path: path.into(),
                baud,
            });
        }
        if let Some(rest) = s.strip_prefix("usb:") {
            let (v, p) = rest
                .split_once(':')
                .ok_or(bad("usb needs VID:PID in hex"))?;
            let hex16 = |x: &str| {
                if x.len() == 4 {
                    u16::from_str_radix(x, 16).ok()
                } else {
                    None
                }
            };
            return Ok(DeviceUri::Usb {
                vid: hex16(v).ok_or(bad("VID must be 4 hex digits"))?,
                pid: hex16(p).ok_or(bad("PID must be 4 hex digits"))?,
            });
        }
        if let Some(rest) = s.strip_prefix("tcp:") {
            let (host, port) = rest.rsplit_once(':').ok_or(bad("tcp needs HOST:PORT"))?;
            if host.is_empty() {
                return Err(bad("the host is empty"));
            }
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or(bad("the port must be 1..65535"))?;
            return Ok(DeviceUri::Tcp {
                host: host.to_string(),
                port,
            });
        }
        if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                return Err(bad("the file path is empty"));
            }
            return Ok(DeviceUri::File { path: path.into() });
        }
        Err(UriError::Scheme(s.to_string()))
    }
}

impl std::fmt::Display for DeviceUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceUri::Sim => f.write_str("sim"),
            DeviceUri::Serial { path, baud: None } => write!(f, "serial:{}", path.display()),
            DeviceUri::Serial {
                path,
                baud: Some(b),
            } => write!(f, "serial:{}?baud={b}", path.display()),
            DeviceUri::Usb { vid, pid } => write!(f, "usb:{vid:04x}:{pid:04x}"),
            DeviceUri::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
            DeviceUri::File { path } => write!(f, "file:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_uris_parse_and_print_back() {
        let cases = [
            ("sim", DeviceUri::Sim),
            (
                "serial:/dev/kiosk-reader?baud=115200",
                DeviceUri::Serial {
                    path: "/dev/kiosk-reader".into(),
                    baud: Some(115200),
                },
            ),
            (
                "serial:/dev/ttyUSB0",
                DeviceUri::Serial {
                    path: "/dev/ttyUSB0".into(),
                    baud: None,
                },
            ),
            (
                "usb:0416:5011",
                DeviceUri::Usb {
                    vid: 0x0416,
                    pid: 0x5011,
                },
            ),
            (
                "tcp:192.168.1.50:9100",
                DeviceUri::Tcp {
                    host: "192.168.1.50".into(),
                    port: 9100,
                },
            ),
            (
                "file:/dev/usb/lp0",
                DeviceUri::File {
                    path: "/dev/usb/lp0".into(),
                },
            ),
        ];
        for (text, uri) in cases {
            assert_eq!(text.parse::<DeviceUri>().unwrap(), uri, "{text}");
            assert_eq!(uri.to_string(), text);
        }
    }

    #[test]
    fn bad_device_uris_are_refused_with_a_reason() {
        for bad in [
            "",
            "lpt1",
            "serial:",
            "serial:/dev/x?baud=0",
            "serial:/dev/x?speed=9600",
            "usb:416:5011",
            "usb:0416",
            "usb:zzzz:5011",
            "tcp:host",
            "tcp::9100",
            "tcp:host:0",
            "file:",
        ] {
            assert!(bad.parse::<DeviceUri>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn hardware_profiles_parse_and_name_valid_uris() {
        let profiles = [
            include_str!("../../hardware/profiles/reader-ga467-sam.toml"),
            include_str!("../../hardware/profiles/scanner-honeywell-newland.toml"),
            include_str!("../../hardware/profiles/printer-winbond-epson.toml"),
        ];
        fn uris(v: &toml::Value, out: &mut Vec<String>) {
            match v {
                toml::Value::Table(t) => {
                    for (k, v) in t {
                        match (k.as_str(), v) {
                            ("uri", toml::Value::String(s)) => out.push(s.clone()),
                            _ => uris(v, out),
                        }
                    }
                }
                toml::Value::Array(a) => a.iter().for_each(|v| uris(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        for p in profiles {
            let v: toml::Value = toml::from_str(p).unwrap();
            uris(&v, &mut all);
        }
        assert_eq!(all.len(), 5);
        for u in all {
            assert!(u.parse::<DeviceUri>().is_ok(), "{u}");
        }
    }
}
