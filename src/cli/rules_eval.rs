//! `kiosk rules eval [FILE]`: the rule core's machine interface (rules.md). JSON Lines in, one JSON
//! line out per case, in order. A malformed case yields `{"id": …, "error": "<field>: <what>"}` and
//! the run goes on; the exit status is 0 only when every line parsed.

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

/// Evaluate every line of `input`, writing one line per case to `out`. True when all parsed.
pub fn eval_stream(
    mut input: impl BufRead,
    out: &mut impl Write,
    book: &PolicyBook,
) -> std::io::Result<bool> {
    let mut all_ok = true;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
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
    match v.as_u64() {
        Some(n) if n <= u64::from(u32::MAX) => Ok(n as u32),
        _ => err(path, "must be a whole number, 0 or more"),
    }
}

fn opt_count(obj: &Value, key: &str, path: &str) -> Result<u32, FieldError> {
    opt(obj, key).map_or(Ok(0), |v| count(v, path))
}

fn timestamp(v: &Value, path: &str) -> Result<jiff::Timestamp, FieldError> {
    let s = string(v, path)?;
    s.parse::<jiff::Timestamp>().or_else(|_| {
        err(
            path,
            format!("“{s}” is not an RFC 3339 time with an offset"),
        )
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

fn money(v: &Value, path: &str) -> Result<Fen, FieldError> {
    if let Some(n) = v.as_u64() {
        return i64::try_from(n)
            .ok()
            .and_then(|y| y.checked_mul(100))
            .map(Fen)
            .map_or_else(|| err(path, "is too large"), Ok);
    }
    match v.as_f64() {
        Some(f) if f.is_finite() && f >= 0.0 && f < 1e12 => Ok(Fen((f * 100.0).round() as i64)),
        Some(_) => err(path, "must be an amount in yuan, 0 or more"),
        None => err(path, "must be a number (yuan)"),
    }
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
