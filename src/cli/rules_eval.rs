//! `kiosk rules eval [FILE]`: the rule core's machine interface (rules.md). JSON Lines in, one JSON
//! line out per case, in order. A malformed case yields `{"id": …, "error": "<field>: <what>"}` and
//! the run goes on; the exit status is 0 only when every line parsed.
//!
//! Bounds: a line (one case) is read into memory only up to [`MAX_LINE_BYTES`]; a longer one is
//! skipped to its end with an error line naming the limit. A case has at most [`MAX_VIOLATIONS`]
//! violations. Memory stays bounded whatever the input (even `/dev/zero`).

use std::io::{BufRead, Write};
use std::path::Path;

use serde_json::{Value, json};

use crate::domain::{
    Fen, LicenceStatus, Plate, PlateType, StatusSet, VehicleStatus, VehicleUse, plate::PROVINCES,
};
use crate::rules::{
    DriverFacts, EligibilityRequest, Penalty, Policy, PolicyBook, RecordedBy, Relation,
    RentalPeriod, VehicleFacts, ViolationFacts, decide,
};

/// Run over FILE (or stdin when None or `-`); returns the exit status.
pub fn run(file: Option<&Path>, book: &PolicyBook) -> anyhow::Result<i32> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let all_ok = match file {
        Some(p) if p != Path::new("-") => {
            let f = std::fs::File::open(p)
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", p.display()))?;
            eval_stream(std::io::BufReader::new(f), &mut out, book)?
        }
        _ => eval_stream(std::io::stdin().lock(), &mut out, book)?,
    };
    out.flush()?;
    Ok(if all_ok { 0 } else { 1 })
}

/// The longest line (one case) read into memory, in bytes, the newline not counted.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// The most violations in one case.
pub const MAX_VIOLATIONS: usize = 1000;

/// What [`read_bounded_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum BoundedLine {
    /// A whole line is in the buffer (without its newline).
    Line,
    /// The line was longer than the limit; it was read to its end and dropped.
    TooLong,
    /// The input has ended.
    End,
}

/// Read one line into `buf` (cleared first), holding at most `max` bytes of it in memory: a
/// longer line is consumed to its newline (or the end of the input) without being kept.
pub fn read_bounded_line(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<BoundedLine> {
    buf.clear();
    let mut seen = false;
    let mut too_long = false;
    loop {
        let avail = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(match (seen, too_long) {
                (false, _) => BoundedLine::End,
                (true, false) => BoundedLine::Line,
                (true, true) => BoundedLine::TooLong,
            });
        }
        seen = true;
        let (piece, ended) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], Some(i + 1)),
            None => (avail, None),
        };
        if !too_long {
            if buf.len() + piece.len() > max {
                too_long = true;
                buf.clear();
                buf.shrink_to(max);
            } else {
                buf.extend_from_slice(piece);
            }
        }
        let used = ended.unwrap_or(avail.len());
        input.consume(used);
        if ended.is_some() {
            return Ok(if too_long {
                BoundedLine::TooLong
            } else {
                BoundedLine::Line
            });
        }
    }
}

/// Evaluate every line of `input`, writing one line per case to `out`. True when all parsed.
pub fn eval_stream(
    mut input: impl BufRead,
    out: &mut impl Write,
    book: &PolicyBook,
) -> std::io::Result<bool> {
    let mut all_ok = true;
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        number += 1;
        match read_bounded_line(&mut input, &mut buf, MAX_LINE_BYTES)? {
            BoundedLine::End => break,
            BoundedLine::Line => {}
            BoundedLine::TooLong => {
                all_ok = false;
                let v = ErrorLine {
                    id: Value::Null,
                    error: format!(
                        "(line {number}): longer than {MAX_LINE_BYTES} bytes, the limit of one case; the line was skipped"
                    ),
                };
                writeln!(out, "{}", serde_json::to_string(&v).expect("serializable"))?;
                continue;
            }
        }
        let line = match std::str::from_utf8(&buf) {
            Ok(s) => s.trim(),
            Err(e) => {
                all_ok = false;
                let v = json!({"id": Value::Null, "error": format!("line is not UTF-8: {e}")});
                writeln!(out, "{v}")?;
                continue;
            }
        };
        if line.is_empty() {
            continue;
        }
        let (text, parsed) = eval_line(line, book);
        all_ok &= parsed;
        writeln!(out, "{text}")?;
    }
    Ok(all_ok)
}

/// One decision of the output line, in the field order of rules.md.
#[derive(serde::Serialize)]
struct ResultLine<'a> {
    violation: &'a str,
    eligible: bool,
    reasons: Vec<&'static str>,
    clauses: Vec<&'static str>,
    message: String,
}

#[derive(serde::Serialize)]
struct CaseLine<'a> {
    id: Value,
    results: Vec<ResultLine<'a>>,
}

#[derive(serde::Serialize)]
struct ErrorLine {
    id: Value,
    error: String,
}

/// One case in, one output line out (without the newline). The second value is false when the
/// case was malformed.
pub fn eval_line(line: &str, book: &PolicyBook) -> (String, bool) {
    let case: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            let out = ErrorLine {
                id: Value::Null,
                error: format!("invalid JSON: {e}"),
            };
            return (serde_json::to_string(&out).expect("serializable"), false);
        }
    };
    let id = case.get("id").cloned().unwrap_or(Value::Null);
    match parse_case(&case, book) {
        Ok(req) => {
            let decisions = decide(&req);
            let results = decisions
                .iter()
                .map(|d| ResultLine {
                    violation: &d.violation,
                    eligible: d.eligible(),
                    reasons: d.reasons.iter().map(|r| r.code()).collect(),
                    clauses: d.clauses().iter().map(|c| c.code()).collect(),
                    message: d.message_zh(),
                })
                .collect();
            let out = CaseLine { id, results };
            (serde_json::to_string(&out).expect("serializable"), true)
        }
        Err(e) => {
            let out = ErrorLine {
                id,
                error: e.to_string(),
            };
            (serde_json::to_string(&out).expect("serializable"), false)
        }
    }
}

/// A malformed field: its path and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn err<T>(field: &str, message: impl Into<String>) -> Result<T, FieldError> {
    Err(FieldError {
        field: field.to_string(),
        message: message.into(),
    })
}

/// A field that may be absent: absent and `null` both count as absent.
fn opt<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn req<'a>(obj: &'a Value, key: &str, path: &str) -> Result<&'a Value, FieldError> {
    opt(obj, key).map_or_else(|| err(path, "missing"), Ok)
}

fn object<'a>(obj: &'a Value, key: &str, path: &str) -> Result<&'a Value, FieldError> {
    let v = req(obj, key, path)?;
    if v.is_object() {
        Ok(v)
    } else {
        err(path, "must be an object")
    }
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, FieldError> {
    v.as_str().map_or_else(|| err(path, "must be a string"), Ok)
}

fn boolean(v: &Value, path: &str) -> Result<bool, FieldError> {
    v.as_bool()
        .map_or_else(|| err(path, "must be true or false"), Ok)
}

fn count(v: &Value, path: &str) -> Result<u32, FieldError> {
    if let Some(n) = v.as_u64() {
        return u32::try_from(n)
            .or_else(|_| err(path, format!("{n} is too large (at most {})", u32::MAX)));
    }
    match v.as_f64() {
        Some(f) if f < 0.0 => err(path, format!("{v} is negative; it must be 0 or more")),
        Some(f) if f.fract() != 0.0 => err(path, format!("{v} is not a whole number")),
        Some(_) => err(path, format!("{v} is too large (at most {})", u32::MAX)),
        None => err(path, "must be a whole number, 0 or more"),
    }
}

fn opt_count(obj: &Value, key: &str, path: &str) -> Result<u32, FieldError> {
    opt(obj, key).map_or(Ok(0), |v| count(v, path))
}

fn timestamp(v: &Value, path: &str) -> Result<jiff::Timestamp, FieldError> {
    let s = string(v, path)?;
    parse_timestamp(s).or_else(|e| err(path, e))
}

/// An RFC 3339 time with an offset, with a clear message for one that is well written but
/// outside the times the kiosk handles (jiff's range ends on 9999-12-30) instead of jiff's own.
pub fn parse_timestamp(s: &str) -> Result<jiff::Timestamp, String> {
    s.parse::<jiff::Timestamp>().map_err(|_| {
        if jiff::fmt::temporal::Pieces::parse(s).is_ok() {
            format!(
                "“{s}” is outside the supported times ({} to {}); give a time in that range",
                jiff::Timestamp::MIN.strftime("%Y-%m-%d"),
                jiff::Timestamp::MAX.strftime("%Y-%m-%d")
            )
        } else {
            format!("“{s}” is not an RFC 3339 time with an offset (e.g. 2022-10-24T11:06:10+08:00)")
        }
    })
}

fn codes<'a>(v: &'a Value, path: &str) -> Result<Vec<&'a str>, FieldError> {
    let arr = v
        .as_array()
        .map_or_else(|| err(path, "must be a list of codes"), Ok)?;
    arr.iter()
        .enumerate()
        .map(|(i, c)| string(c, &format!("{path}[{i}]")))
        .collect()
}

/// The largest amount accepted, in yuan (a fine is at most a few thousand).
pub const MAX_YUAN: u64 = 1_000_000_000;

/// An amount in yuan with at most 2 decimals (fen), exactly: 0.001 is refused, not rounded.
fn money(v: &Value, path: &str) -> Result<Fen, FieldError> {
    let too_large = || err(path, format!("{v} is too large (at most {MAX_YUAN} yuan)"));
    if let Some(n) = v.as_u64() {
        return if n > MAX_YUAN {
            too_large()
        } else {
            Ok(Fen(n as i64 * 100))
        };
    }
    let Some(f) = v.as_f64() else {
        return err(path, "must be a number (yuan)");
    };
    if f < 0.0 {
        return err(path, format!("{v} is negative; it must be 0 or more"));
    }
    if f.is_nan() || f > MAX_YUAN as f64 {
        return too_large();
    }
    // The shortest decimal that reads back as `f` is the amount the case wrote.
    let written = v.to_string();
    if decimal_places(&written) > 2 {
        return err(
            path,
            format!(
                "{written} has more than 2 decimals; give the amount in yuan to the fen (e.g. 200.5 or 199.99)"
            ),
        );
    }
    Ok(Fen((f * 100.0).round() as i64))
}

/// Decimal places of a JSON number as written: `0.001` → 3, `1.5e-2` → 3, `2e3` → 0.
fn decimal_places(written: &str) -> i64 {
    let (mantissa, exp) = match written.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().unwrap_or(0)),
        None => (written, 0),
    };
    let frac = mantissa.split_once('.').map_or(0, |(_, f)| f.len() as i64);
    (frac - exp).max(0)
}

fn parse_case(case: &Value, book: &PolicyBook) -> Result<EligibilityRequest, FieldError> {
    if !case.is_object() {
        return err("(case)", "a case must be a JSON object");
    }
    match case.get("id") {
        None | Some(Value::Null) => return err("id", "missing"),
        Some(Value::String(_)) | Some(Value::Number(_)) => {}
        Some(_) => return err("id", "must be a string"),
    }
    let now = timestamp(req(case, "now", "now")?, "now")?;

    let mut policy: Policy = book.at(now);
    if let Some(p) = opt(case, "policy") {
        if !p.is_object() {
            return err("policy", "must be an object");
        }
        if let Some(r) = opt(p, "epidemic_relief") {
            policy.epidemic_relief = boolean(r, "policy.epidemic_relief")?;
        }
    }

    let d = object(case, "driver", "driver")?;
    let has_license = boolean(
        req(d, "has_license", "driver.has_license")?,
        "driver.has_license",
    )?;
    // A person without a licence has no status and no points: those two fields may be left out.
    let ls = match opt(d, "license_status") {
        Some(v) => codes(v, "driver.license_status")?,
        None if !has_license => Vec::new(),
        None => return err("driver.license_status", "missing"),
    };
    let license_status = StatusSet::<LicenceStatus>::parse_codes(ls.iter().copied())
        .or_else(|e| err("driver.license_status", e.to_string()))?;
    let cycle_points = match opt(d, "cycle_points") {
        Some(v) => count(v, "driver.cycle_points")?,
        None if !has_license => 0,
        None => return err("driver.cycle_points", "missing"),
    };
    let driver = DriverFacts {
        has_license,
        license_status,
        cycle_points,
        pending_points: opt_count(d, "pending_points", "driver.pending_points")?,
        full_12_count_in_cycle: opt_count(
            d,
            "full_12_count_in_cycle",
            "driver.full_12_count_in_cycle",
        )?,
    };

    let v = object(case, "vehicle", "vehicle")?;
    let plate_s = string(req(v, "plate", "vehicle.plate")?, "vehicle.plate")?;
    let plate = Plate::parse(plate_s).or_else(|e| err("vehicle.plate", e.to_string()))?;
    let pt = string(
        req(v, "plate_type", "vehicle.plate_type")?,
        "vehicle.plate_type",
    )?;
    let plate_type = PlateType::parse(pt).or_else(|e| err("vehicle.plate_type", e.to_string()))?;
    let us = string(req(v, "use", "vehicle.use")?, "vehicle.use")?;
    let use_ = VehicleUse::parse(us).or_else(|e| err("vehicle.use", e.to_string()))?;
    let vs = codes(req(v, "status", "vehicle.status")?, "vehicle.status")?;
    let status = StatusSet::<VehicleStatus>::parse_codes(vs.iter().copied())
        .or_else(|e| err("vehicle.status", e.to_string()))?;
    let rel = string(req(v, "relation", "vehicle.relation")?, "vehicle.relation")?;
    let filed_at = || timestamp(req(v, "filed_at", "vehicle.filed_at")?, "vehicle.filed_at");
    let rental = || -> Result<RentalPeriod, FieldError> {
        let r = object(v, "rental", "vehicle.rental")?;
        let start = timestamp(
            req(r, "start", "vehicle.rental.start")?,
            "vehicle.rental.start",
        )?;
        let end = timestamp(req(r, "end", "vehicle.rental.end")?, "vehicle.rental.end")?;
        if end < start {
            return err("vehicle.rental.end", "is before vehicle.rental.start");
        }
        Ok(RentalPeriod { start, end })
    };
    let (needs_filed_at, needs_rental) = Relation::needs(rel).map_or_else(
        || {
            err(
                "vehicle.relation",
                format!("“{rel}” is not one of own, filed, unit_filed, rental_renter, rental_temp_driver, none"),
            )
        },
        Ok,
    )?;
    let filed_at = if needs_filed_at {
        Some(filed_at()?)
    } else {
        None
    };
    let rental = if needs_rental { Some(rental()?) } else { None };
    let relation = Relation::build(rel, filed_at, rental).expect("the parts it needs were parsed");
    let vehicle = VehicleFacts {
        plate,
        plate_type,
        use_,
        status,
        relation,
    };

    let list = req(case, "violations", "violations")?
        .as_array()
        .map_or_else(|| err("violations", "must be a list"), Ok)?;
    if list.len() > MAX_VIOLATIONS {
        return err(
            "violations",
            format!(
                "{} violations; at most {MAX_VIOLATIONS} in one case (split the case)",
                list.len()
            ),
        );
    }
    let mut violations = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let p = |k: &str| format!("violations[{i}].{k}");
        if !item.is_object() {
            return err(&format!("violations[{i}]"), "must be an object");
        }
        let id = string(req(item, "id", &p("id"))?, &p("id"))?.to_string();
        let occurred_at = timestamp(
            req(item, "occurred_at", &p("occurred_at"))?,
            &p("occurred_at"),
        )?;
        let rb = string(
            req(item, "recorded_by", &p("recorded_by"))?,
            &p("recorded_by"),
        )?;
        let recorded_by = RecordedBy::from_code(rb).map_or_else(
            || {
                err(
                    &p("recorded_by"),
                    format!("“{rb}” is not camera or officer"),
                )
            },
            Ok,
        )?;
        let pen = string(req(item, "penalty", &p("penalty"))?, &p("penalty"))?;
        let penalty = Penalty::from_code(pen).map_or_else(
            || {
                err(
                    &p("penalty"),
                    format!("“{pen}” is not warning, fine or other"),
                )
            },
            Ok,
        )?;
        let fine = money(req(item, "fine_yuan", &p("fine_yuan"))?, &p("fine_yuan"))?;
        let points = count(req(item, "points", &p("points"))?, &p("points"))?;
        let prov = string(req(item, "province", &p("province"))?, &p("province"))?;
        let mut chars = prov.chars();
        let province = match (chars.next(), chars.next()) {
            (Some(c), None) if PROVINCES.contains(c) => c,
            _ => {
                return err(
                    &p("province"),
                    format!("“{prov}” is not a province abbreviation"),
                );
            }
        };
        let province_online = match opt(item, "province_online") {
            Some(b) => boolean(b, &p("province_online"))?,
            None => true,
        };
        violations.push(ViolationFacts {
            id,
            occurred_at,
            recorded_by,
            penalty,
            fine,
            points,
            province,
            province_online,
        });
    }
    Ok(EligibilityRequest {
        now,
        policy,
        driver,
        vehicle,
        violations,
    })
}
