//! The `kiosk rules eval` contract (rules.md), run as a subprocess: the spec's worked cases, the
//! per-line errors naming the field, and the exit status.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

fn eval(input: &str, args: &[&str]) -> (i32, Vec<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["rules", "eval"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kiosk runs");
    // Write from a thread: the output is read while the input is still going in (a pipe holds
    // only 64 KB each way).
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
        .collect();
    (out.status.code().unwrap(), lines)
}

fn sorted(v: &Value) -> Vec<String> {
    let mut r: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    r.sort();
    r
}

/// Feed every case of a file with `expect` fields (dropped before feeding) and compare.
fn agrees_with(text: &str) -> usize {
    let mut input = String::new();
    let mut expected = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut case: Value = serde_json::from_str(line).unwrap();
        expected.push(case.as_object_mut().unwrap().remove("expect").unwrap());
        input.push_str(&case.to_string());
        input.push('\n');
    }
    let (code, out) = eval(&input, &[]);
    assert_eq!(out.len(), expected.len());
    let mut decisions = 0;
    for (got, want) in out.iter().zip(&expected) {
        let id = got["id"].as_str().unwrap();
        let results = got["results"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: {got}"));
        let want = want.as_array().unwrap();
        assert_eq!(results.len(), want.len(), "{id}");
        for (g, w) in results.iter().zip(want) {
            assert_eq!(g["violation"], w["violation"], "{id}");
            assert_eq!(g["eligible"], w["eligible"], "{id} {}", g["violation"]);
            assert_eq!(
                sorted(&g["reasons"]),
                sorted(&w["reasons"]),
                "{id} {}",
                g["violation"]
            );
            assert!(
                !g["clauses"].as_array().unwrap().is_empty(),
                "{id}: a decision names its clause"
            );
            let msg = g["message"].as_str().unwrap();
            let first_clause = g["clauses"][0].as_str().unwrap();
            assert!(
                msg.contains(first_clause),
                "{id}: message names the clause: {msg}"
            );
            decisions += 1;
        }
    }
    assert_eq!(code, 0);
    decisions
}

#[test]
fn the_specs_worked_cases_agree() {
    assert_eq!(agrees_with(include_str!("data/rules_examples.jsonl")), 47);
}

/// 391 cases written from rules.md alone by a second reader (every reason code and boundary,
/// offsets, batches, relief), kept as a regression set.
#[test]
fn an_independent_readers_cases_agree() {
    assert_eq!(
        agrees_with(include_str!("data/rules_conformance.jsonl")),
        513
    );
}

/// One regression case per corrected reading of rules.md (issue 10): under relief the wider
/// plate types (01, 51, 07, 08) are for own, filed and unit-filed vehicles only, not rentals
/// (四.1 备注, 四.4); a rental relation accepts use `A` as well as `G` (四.4).
#[test]
fn clause_4_1_and_4_4_corrected_readings_agree() {
    assert_eq!(agrees_with(include_str!("data/rules_corrected.jsonl")), 22);
}

/// The same reader's malformed cases: each output line is an error naming the expected field.
#[test]
fn an_independent_readers_malformed_cases_name_their_field() {
    let (code, out) = eval(include_str!("data/rules_malformed.jsonl"), &[]);
    assert_eq!(code, 1);
    let expect: Vec<Value> = include_str!("data/rules_malformed_expect.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.len(), expect.len());
    for (o, e) in out.iter().zip(&expect) {
        let err = o["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{e}: expected an error, got {o}"));
        if let Some(field) = e["expect_error_field"].as_str() {
            assert!(err.starts_with(field), "{}: {err}", e["id"]);
        }
    }
}

#[test]
fn a_malformed_line_names_the_field_and_the_run_goes_on() {
    let good = r#"{"id":"ok","now":"2022-10-24T11:06:10+08:00","driver":{"has_license":true,"license_status":["A"],"cycle_points":0},"vehicle":{"plate":"渝A12345","plate_type":"02","use":"A","status":["A"],"relation":"own"},"violations":[{"id":"v1","occurred_at":"2022-10-01T08:30:00+08:00","recorded_by":"camera","penalty":"fine","fine_yuan":200,"points":3,"province":"渝"}]}"#;
    let cases: Vec<(String, &str)> = vec![
        (
            good.replace(r#""plate":"渝A12345""#, r#""plate":"渝A1234""#),
            "vehicle.plate",
        ),
        (
            good.replace(r#""points":3"#, r#""points":-1"#),
            "violations[0].points",
        ),
        (
            good.replace(
                r#""now":"2022-10-24T11:06:10+08:00""#,
                r#""now":"yesterday""#,
            ),
            "now",
        ),
        (
            good.replace(r#""relation":"own""#, r#""relation":"filed""#),
            "vehicle.filed_at",
        ),
        (
            good.replace(r#""relation":"own""#, r#""relation":"rental_renter""#),
            "vehicle.rental",
        ),
        (
            good.replace(r#""recorded_by":"camera""#, r#""recorded_by":"drone""#),
            "violations[0].recorded_by",
        ),
        (
            good.replace(r#""license_status":["A"]"#, r#""license_status":["Q"]"#),
            "driver.license_status",
        ),
        (
            good.replace(r#""plate_type":"02""#, r#""plate_type":"25""#),
            "vehicle.plate_type",
        ),
        (
            good.replace(r#""fine_yuan":200"#, r#""fine_yuan":"200""#),
            "violations[0].fine_yuan",
        ),
        (
            good.replace(r#""has_license":true,"#, ""),
            "driver.has_license",
        ),
    ];
    let mut input = String::new();
    for (c, _) in &cases {
        input.push_str(c);
        input.push('\n');
    }
    input.push_str("{not json\n");
    input.push_str(good);
    input.push('\n');
    let (code, out) = eval(&input, &[]);
    assert_eq!(code, 1, "exit status 1 when a line did not parse");
    assert_eq!(out.len(), cases.len() + 2, "one output line per input line");
    for ((_, field), got) in cases.iter().zip(&out) {
        let e = got["error"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error naming {field}: {got}"));
        assert!(e.starts_with(field), "{field}: {e}");
        assert_eq!(got["id"], "ok");
    }
    assert!(out[cases.len()]["error"].as_str().unwrap().contains("JSON"));
    assert_eq!(out[cases.len() + 1]["results"][0]["eligible"], true);
}

#[test]
fn policy_override_and_file_argument() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.jsonl");
    let case = r#"{"id":"unit","now":"2022-10-24T11:06:10+08:00","policy":{"epidemic_relief":true},"driver":{"has_license":true,"license_status":["A"],"cycle_points":0},"vehicle":{"plate":"渝A12345","plate_type":"02","use":"A","status":["A"],"relation":"unit_filed","filed_at":"2022-10-20T00:00:00+08:00"},"violations":[{"id":"v1","occurred_at":"2022-10-01T08:30:00+08:00","recorded_by":"camera","penalty":"fine","fine_yuan":200,"points":3,"province":"渝"}]}"#;
    std::fs::write(
        &path,
        format!("{case}\n{}\n", case.replace("true}", "false}")),
    )
    .unwrap();
    let (code, out) = eval("", &[path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(
        out[0]["results"][0]["eligible"], true,
        "relief: unit vehicle and before-filing allowed"
    );
    assert_eq!(
        sorted(&out[1]["results"][0]["reasons"]),
        vec!["before_filing", "unit_vehicle_not_allowed"]
    );
}

const GOOD: &str = r#"{"id":"ok","now":"2022-10-24T11:06:10+08:00","driver":{"has_license":true,"license_status":["A"],"cycle_points":0},"vehicle":{"plate":"渝A12345","plate_type":"02","use":"A","status":["A"],"relation":"own"},"violations":[{"id":"v1","occurred_at":"2022-10-01T08:30:00+08:00","recorded_by":"camera","penalty":"fine","fine_yuan":200,"points":3,"province":"渝"}]}"#;

/// A line longer than the limit is not read into memory: one error line naming the limit, and
/// the cases around it are still decided.
#[test]
fn a_line_over_the_limit_gets_an_error_naming_it_and_the_run_goes_on() {
    let max = kiosk::cli::rules_eval::MAX_LINE_BYTES;
    let long = format!(r#"{{"id":"big","pad":"{}"}}"#, "x".repeat(max));
    let input = format!("{GOOD}\n{long}\n{GOOD}\n");
    let (code, out) = eval(&input, &[]);
    assert_eq!(code, 1);
    assert_eq!(out.len(), 3);
    assert_eq!(out[0]["results"][0]["eligible"], true);
    let e = out[1]["error"].as_str().unwrap();
    assert!(
        e.starts_with("(line 2)") && e.contains(&max.to_string()),
        "{e}"
    );
    assert_eq!(out[2]["results"][0]["eligible"], true);
    // A line exactly at the limit is read (here: not JSON, so an error of its own kind).
    let (_, out) = eval(&format!("{}\n", " ".repeat(max - 1) + "x"), &[]);
    assert!(
        out[0]["error"].as_str().unwrap().contains("JSON"),
        "{}",
        out[0]
    );
}

#[test]
fn a_case_with_more_violations_than_the_limit_names_it() {
    let max = kiosk::cli::rules_eval::MAX_VIOLATIONS;
    let v = r#"{"id":"v","occurred_at":"2022-10-01T08:30:00+08:00","recorded_by":"camera","penalty":"fine","fine_yuan":0,"points":0,"province":"渝"}"#;
    let case_with = |n: usize| {
        let list = vec![v; n].join(",");
        let start = GOOD.find(r#""violations":["#).unwrap();
        format!(r#"{}"violations":[{list}]}}"#, &GOOD[..start])
    };
    let (code, out) = eval(
        &format!("{}\n{}\n", case_with(max + 1), case_with(max)),
        &[],
    );
    assert_eq!(code, 1);
    let e = out[0]["error"].as_str().unwrap();
    assert!(
        e.starts_with("violations") && e.contains(&max.to_string()),
        "{e}"
    );
    assert_eq!(out[1]["results"].as_array().unwrap().len(), max);
}

/// Money is refused, not rounded, beyond the fen; numbers out of range say so.
#[test]
fn unclear_amounts_and_counts_are_refused_with_what_is_wrong() {
    let cases = [
        (
            r#""fine_yuan":0.001"#,
            "violations[0].fine_yuan",
            "2 decimals",
        ),
        (
            r#""fine_yuan":199.999"#,
            "violations[0].fine_yuan",
            "2 decimals",
        ),
        (
            r#""fine_yuan":1.5e-2"#,
            "violations[0].fine_yuan",
            "2 decimals",
        ),
        (
            r#""fine_yuan":1e308"#,
            "violations[0].fine_yuan",
            "too large",
        ),
        (r#""fine_yuan":-1"#, "violations[0].fine_yuan", "negative"),
        (r#""points":1e308"#, "violations[0].points", "too large"),
        (r#""points":2.5"#, "violations[0].points", "whole number"),
        (r#""points":-1"#, "violations[0].points", "negative"),
        (
            r#""occurred_at":"9999-12-31T23:00:00+08:00""#,
            "violations[0].occurred_at",
            "outside the supported times",
        ),
    ];
    let mut input = String::new();
    for (change, _, _) in &cases {
        let field = change.split(':').next().unwrap();
        let orig = if field.contains("fine") {
            r#""fine_yuan":200"#
        } else if field.contains("occurred") {
            r#""occurred_at":"2022-10-01T08:30:00+08:00""#
        } else {
            r#""points":3"#
        };
        input.push_str(&GOOD.replace(orig, change));
        input.push('\n');
    }
    input.push_str(&GOOD.replace(r#""fine_yuan":200"#, r#""fine_yuan":199.99"#));
    input.push('\n');
    let (_, out) = eval(&input, &[]);
    for ((change, field, what), got) in cases.iter().zip(&out) {
        let e = got["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{change}: {got}"));
        assert!(e.starts_with(field) && e.contains(what), "{change}: {e}");
    }
    assert_eq!(
        out[cases.len()]["results"][0]["eligible"],
        true,
        "199.99 is exact"
    );
}

#[test]
fn the_help_states_the_bounds() {
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["rules", "eval", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains(&kiosk::cli::rules_eval::MAX_LINE_BYTES.to_string()),
        "{help}"
    );
    assert!(
        help.contains(&kiosk::cli::rules_eval::MAX_VIOLATIONS.to_string()),
        "{help}"
    );
    assert!(
        help.contains(&kiosk::cli::rules_eval::MAX_YUAN.to_string()),
        "{help}"
    );
}

/// A closed standard output ends `rules eval` quietly: no panic, no exit 101.
#[test]
fn a_closed_standard_output_is_no_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["rules", "eval"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    // Enough output to overflow any buffer; the write fails once kiosk is gone.
    for _ in 0..20_000 {
        if writeln!(stdin, "{GOOD}").is_err() {
            break;
        }
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(141), "{err}");
}
