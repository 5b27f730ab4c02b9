//! What a scanner sends, on arbitrary bytes: the line splitter (any line end and each suffix,
//! arbitrary pieces)
//! and the receipt-code parser on every scan.
//!
//! Checks: no panic; scans never contain their suffix; bytes reported as not UTF-8 really are
//! not; a receipt code that parses encodes to text that parses to the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/devices/scanner/line.rs"]
mod line;

/// The one domain type the receipt code uses.
mod domain {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Fen(pub i64);
    impl Fen {
        pub fn as_fen(self) -> i64 {
            self.0
        }
    }
}

#[allow(dead_code)]
#[path = "../../src/domain/receipt_code.rs"]
mod receipt_code;

use line::{LineSplitter, Scan, Suffix};
use receipt_code::ReceiptCode;

fn check_code(text: &str) {
    if let Ok(code) = ReceiptCode::parse(text) {
        let again = ReceiptCode::parse(&code.encode()).expect("an encoded code parses");
        assert_eq!(again, code);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&c, stream)) = data.split_first() else {
        return;
    };
    if let Ok(text) = std::str::from_utf8(stream) {
        check_code(text);
    }
    let chunk = usize::from(c).max(1);
    for suffix in [Suffix::Any, Suffix::Cr, Suffix::Lf, Suffix::CrLf] {
        let mut s = LineSplitter::new(suffix);
        for piece in stream.chunks(chunk) {
            s.push(piece);
            while let Some(r) = s.next_scan() {
                match r {
                    Ok(Scan::Text(t)) => {
                        assert!(!t.is_empty());
                        if suffix == Suffix::Any {
                            assert!(!t.contains(['\r', '\n']));
                        } else {
                            assert!(!t.as_bytes().windows(suffix.bytes().len()).any(|w| w == suffix.bytes()));
                        }
                        check_code(&t);
                    }
                    Ok(Scan::NotUtf8(b)) => assert!(std::str::from_utf8(&b).is_err()),
                    Err(_) => {}
                }
            }
        }
    }
});
