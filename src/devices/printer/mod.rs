//! The receipt printer (热敏小票打印机): ESC/POS over USB, serial, TCP 9100 or a file, with
//! status through `DLE EOT`, a print queue that keeps unprinted receipts, and a simulator that
//! renders what it is sent.

pub mod escpos;
pub mod font;
pub mod receipts;
pub mod render;
