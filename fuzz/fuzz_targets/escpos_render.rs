//! The ESC/POS interpreter (`kiosk device render`, the printer simulator) on arbitrary bytes.
//!
//! Checks: no panic, no unbounded allocation; every input byte is either understood or listed
//! as unknown; rendering stays within the paper width and the height cap.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
mod printer {
    #[path = "../../../src/devices/printer/escpos.rs"]
    pub mod escpos;
    #[path = "../../../src/devices/printer/font.rs"]
    pub mod font;
    #[path = "../../../src/devices/printer/render.rs"]
    pub mod render;
}

use printer::{escpos::Paper, font::MAX_HEIGHT, render};

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
