//! `kiosk device list`: serial ports and USB printers attached to this PC.

use super::printer::transport::USB_CLASS_PRINTER;

#[derive(Debug, Clone, serde::Serialize)]
pub struct SerialPortEntry {
    pub path: String,
    /// usb, pci, bluetooth or unknown.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usb_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct UsbPrinterEntry {
    /// The URI to put in kiosk.toml, e.g. `usb:0416:5011`.
    pub uri: String,
    pub bus: u8,
    pub address: u8,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Listing {
    pub serial_ports: Vec<SerialPortEntry>,
    pub usb_printers: Vec<UsbPrinterEntry>,
    /// Why a part could not be listed (no permission, no USB subsystem in a container).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

pub fn list() -> Listing {
    let mut problems = Vec::new();
    let serial_ports = match serialport::available_ports() {
        Ok(ports) => ports
            .into_iter()
            .map(|p| {
                let (kind, usb_id, product) = match p.port_type {
                    serialport::SerialPortType::UsbPort(u) => (
                        "usb",
                        Some(format!("{:04x}:{:04x}", u.vid, u.pid)),
                        u.product,
                    ),
                    serialport::SerialPortType::PciPort => ("pci", None, None),
                    serialport::SerialPortType::BluetoothPort => ("bluetooth", None, None),
                    serialport::SerialPortType::Unknown => ("unknown", None, None),
                };
                SerialPortEntry {
                    path: p.port_name,
                    kind,
                    usb_id,
                    product,
                }
            })
            .collect(),
        Err(e) => {
            problems.push(format!("serial ports: {e}"));
            Vec::new()
        }
    };
    use rusb::UsbContext;
    // An explicit context: the global one panics where libusb cannot start (no USB in a container).
    let usb_printers = match rusb::Context::new().and_then(|c| c.devices()) {
        Ok(devices) => devices
            .iter()
            .filter(|d| {
                d.active_config_descriptor().is_ok_and(|c| {
                    c.interfaces()
                        .any(|i| i.descriptors().any(|d| d.class_code() == USB_CLASS_PRINTER))
                })
            })
            .filter_map(|d| {
                let dd = d.device_descriptor().ok()?;
                Some(UsbPrinterEntry {
                    uri: format!("usb:{:04x}:{:04x}", dd.vendor_id(), dd.product_id()),
                    bus: d.bus_number(),
                    address: d.address(),
                })
            })
            .collect(),
        Err(e) => {
            problems.push(format!(
                "USB devices cannot be listed ({e}); is /dev/bus/usb present and readable?"
            ));
            Vec::new()
        }
    };
    Listing {
        serial_ports,
        usb_printers,
        problems,
    }
}
