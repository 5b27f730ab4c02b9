//! `kiosk rules eval`'s line parser on arbitrary bytes: the bounded line reader over the whole
//! input, and every line through `eval_line` (JSON parse, field checks, the decision).
//!
//! Checks: no panic; every output line is one JSON object with `id` and either `results` or
//! `error`; an error names what is wrong; the reader never holds more than the limit given; a
//! line that parsed gets one result per violation.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The rule core and the domain types it uses, included by path (no UI, database or devices).
#[allow(dead_code)]
#[path = "../../src/privacy.rs"]
mod privacy;
#[allow(dead_code)]
#[path = "../../src/domain/mod.rs"]
mod domain;
#[allow(dead_code)]
#[path = "../../src/rules/mod.rs"]
mod rules;
#[allow(dead_code)]
#[path = "../../src/cli/rules_eval.rs"]
mod rules_eval;

use std::sync::OnceLock;

fn book() -> &'static rules::PolicyBook {
    static BOOK: OnceLock<rules::PolicyBook> = OnceLock::new();
    BOOK.get_or_init(|| rules::PolicyBook::embedded().expect("embedded policy"))
}

fuzz_target!(|data: &[u8]| {
    // The bounded reader, with a small limit so that long lines happen.
    let max = 64;
    let mut input = std::io::Cursor::new(data);
    let mut buf = Vec::new();
    let mut lines = 0;
    loop {
        match rules_eval::read_bounded_line(&mut input, &mut buf, max).expect("in memory") {
            rules_eval::BoundedLine::End => break,
            rules_eval::BoundedLine::Line => assert!(buf.len() <= max && !buf.contains(&b'\n')),
            rules_eval::BoundedLine::TooLong => assert!(buf.is_empty()),
        }
        lines += 1;
        assert!(lines <= data.len());
    }
    assert_eq!(lines, data.split(|&b| b == b'\n').count() - usize::from(data.ends_with(b"\n") || data.is_empty()));

    // The whole stream as `rules eval` reads it.
    let mut out = Vec::new();
    rules_eval::eval_stream(data, &mut out, book()).expect("in memory");
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("output is JSON");
        assert!(v.get("id").is_some(), "{v}");
        match (v.get("results"), v.get("error")) {
            (Some(r), None) => assert!(r.is_array()),
            (None, Some(e)) => assert!(!e.as_str().expect("a string").is_empty()),
            _ => panic!("neither results nor error: {v}"),
        }
    }

    // One line straight into the parser.
    if let Ok(text) = std::str::from_utf8(data) {
        let (line, parsed) = rules_eval::eval_line(text.trim(), book());
        let v: serde_json::Value = serde_json::from_str(&line).expect("output is JSON");
        if parsed {
            let case: serde_json::Value = serde_json::from_str(text.trim()).expect("it parsed");
            assert_eq!(
                v["results"].as_array().expect("results").len(),
                case["violations"].as_array().expect("violations").len()
            );
        }
    }
});
