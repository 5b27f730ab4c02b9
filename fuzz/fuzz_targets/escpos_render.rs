//! The ESC/POS interpreter (`kiosk device render`, the printer simulator) on arbitrary bytes.
//!
//! Checks: no panic, no unbounded allocation; every input byte is either understood or listed
//! as unknown; rendering stays within the paper width and the height cap.
#![no_main]

use libfuzzer_sys::fuzz_target;

// At the crate root, as their `super::` paths expect.
#[allow(dead_code)]
#[path = "../../src/devices/printer/escpos.rs"]
mod escpos;
#[allow(dead_code)]
#[path = "../../src/devices/printer/font.rs"]
mod font;
#[allow(dead_code)]
#[path = "../../src/devices/printer/render.rs"]
mod render;

use escpos::Paper;
use font::MAX_HEIGHT;

fuzz_target!(|data: &[u8]| {
    let ops = render::parse(data);
    let unknown = render::unknown_bytes(&ops);
    assert!(unknown.iter().all(|(offset, byte)| data.get(*offset) == Some(byte)));
    let _ = render::to_text(&ops);
    let canvas = render::render(&ops, Paper::Mm58);
    assert_eq!(canvas.width, 384);
    assert!(canvas.height <= MAX_HEIGHT);
    assert_eq!(canvas.pixels.len(), canvas.width as usize * canvas.height as usize);
});
