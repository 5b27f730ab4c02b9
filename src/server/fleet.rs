//! The fleet page (issue 14): `GET /fleet`, server-rendered HTML behind a login, one line per
//! kiosk with its last heartbeat, version, configuration hash, devices, paper, sessions today and
//! problems today; kiosks in the `--kiosks` file that never reported are listed too. At the top,
//! the open staff calls (呼叫工作人员, the last [`STAFF_CALLS_OPEN`]) per hall and kiosk, with the
//! time, the step and the reason.
//!
//! Operators are listed in `--operators FILE` (TOML: `[operators.NAME] password_hash =
//! "$argon2id$…"`, made with `kiosk password-hash`). `POST /login` checks the password (argon2, on
//! the blocking pool), then sets a cookie `fleet=NAME:EXPIRES:HMAC` (HMAC-SHA256 under a key this
//! process drew at start: a restart logs everyone out; with several instances the proxy keeps an
//! operator on one). Each wrong password costs a second; five in a row lock the name for five
//! minutes. Without `--operators` the page is off (404).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use sha2::Sha256;

use super::Shared;
use crate::store::platform::fleet::{KioskLatest, StaffCallRow};

/// How long a login lasts.
pub const LOGIN_LASTS: Duration = Duration::from_secs(8 * 3600);
/// Wrong passwords in a row that lock a name, and for how long.
pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(300);
/// A kiosk silent for longer than this shows as 失联 / silent.
pub const SILENT_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(180);
/// A staff call is listed as open this long after it was made.
pub const STAFF_CALLS_OPEN: jiff::SignedDuration = jiff::SignedDuration::from_mins(30);

/// The operators and the login state.
pub struct FleetConsole {
    operators: BTreeMap<String, String>,
    cookie_key: Vec<u8>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorsFile {
    operators: BTreeMap<String, OperatorEntry>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorEntry {
    password_hash: String,
}

/// Why the `--operators` file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OperatorsFileError {
    #[error("cannot read the operators file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("operators file {path}: {detail}")]
    Invalid { path: String, detail: String },
}

impl FleetConsole {
    /// Load `--operators FILE`: at least one operator, each with an argon2 PHC hash.
    pub fn load(path: &Path) -> Result<Self, OperatorsFileError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| OperatorsFileError::Read {
            path: name.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|detail| OperatorsFileError::Invalid { path: name, detail })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: OperatorsFile = toml::from_str(text).map_err(|e| e.to_string())?;
        if file.operators.is_empty() {
            return Err("no operator: add [operators.NAME] password_hash = \"…\"".into());
        }
        for (name, op) in &file.operators {
            argon2::PasswordHash::new(&op.password_hash).map_err(|e| {
                format!("operators.{name}.password_hash: not an argon2 hash ({e}); make one with `kiosk password-hash`")
            })?;
        }
        Ok(FleetConsole {
            operators: file
                .operators
                .into_iter()
                .map(|(k, v)| (k, v.password_hash))
                .collect(),
            cookie_key: crate::wire::random_bytes(32),
            failures: Mutex::new(HashMap::new()),
        })
    }

    fn sign(&self, payload: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.cookie_key).expect("any key length");
        mac.update(payload.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The cookie value for `name`, valid until `expires` (Unix seconds).
    fn cookie_for(&self, name: &str, expires: i64) -> String {
        let payload = format!("{name}:{expires}");
        format!("{payload}:{}", self.sign(&payload))
    }

    /// The operator a request's cookie names, if it is genuine and not expired.
    fn operator_of(&self, headers: &HeaderMap, now: Timestamp) -> Option<String> {
        for value in headers.get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for part in text.split(';') {
                let Some(v) = part.trim().strip_prefix("fleet=") else {
                    continue;
                };
                let mut it = v.rsplitn(2, ':');
                let (Some(sig), Some(payload)) = (it.next(), it.next()) else {
                    continue;
                };
                let Some((name, expires)) = payload.rsplit_once(':') else {
                    continue;
                };
                let fresh = expires.parse::<i64>().is_ok_and(|e| e > now.as_second());
                let mut mac =
                    Hmac::<Sha256>::new_from_slice(&self.cookie_key).expect("any key length");
                mac.update(payload.as_bytes());
                let genuine = hex::decode(sig).is_ok_and(|s| mac.verify_slice(&s).is_ok());
                if fresh && genuine && self.operators.contains_key(name) {
                    return Some(name.to_string());
                }
            }
        }
        None
    }

    fn locked(&self, name: &str) -> bool {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match f.get(name) {
            Some((n, since)) if *n >= MAX_FAILURES => {
                if since.elapsed() < LOCKOUT {
                    true
                } else {
                    f.remove(name);
                    false
                }
            }
            _ => false,
        }
    }

    fn failed(&self, name: &str) {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let e = f.entry(name.to_string()).or_insert((0, Instant::now()));
        e.0 += 1;
        e.1 = Instant::now();
    }

    fn succeeded(&self, name: &str) {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        f.remove(name);
    }

    /// Check a password (argon2: tens of milliseconds; call on the blocking pool).
    fn check(&self, name: &str, password: &str) -> bool {
        use argon2::PasswordVerifier as _;
        let Some(hash) = self.operators.get(name) else {
            return false;
        };
        let Ok(parsed) = argon2::PasswordHash::new(hash) else {
            return false;
        };
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    }
}

/// An argon2id PHC string for `password` (`kiosk password-hash`).
pub fn password_hash(password: &str) -> Result<String, String> {
    use argon2::PasswordHasher as _;
    use argon2::password_hash::SaltString;
    if password.chars().count() < 10 {
        return Err("a password of at least 10 characters".into());
    }
    let salt_bytes = crate::wire::random_bytes(16);
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(
        "Content-Security-Policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ),
    );
    r
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#1a1a1a;background:#fff;line-height:1.4}\
table{border-collapse:collapse}td,th{border:1px solid #888;padding:.3em .6em;text-align:left}\
th{background:#e8eef7}.bad{font-weight:bold;color:#a00000}.ok{color:#0a5c0a}\
label{display:block;margin:.6em 0}input{font-size:1em;padding:.3em}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

fn login_form(message: Option<&str>) -> String {
    let msg = message
        .map(|m| format!("<p class=\"bad\" id=\"message\">{}</p>", esc(m)))
        .unwrap_or_default();
    page(
        "运维登录 / Operator login",
        &format!(
            "<h1>运维登录 / Operator login</h1>{msg}\
             <form method=\"post\" action=\"/login\">\
             <label>用户名 / Name <input name=\"name\" id=\"name\" autocomplete=\"username\"></label>\
             <label>密码 / Password <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\
             <button type=\"submit\" id=\"login\">登录 / Log in</button></form>"
        ),
    )
}

fn console(st: &Shared) -> Option<&FleetConsole> {
    st.fleet.as_deref()
}

fn off() -> Response {
    html(
        StatusCode::NOT_FOUND,
        page(
            "未启用 / Off",
            "<p>运维页面未启用：kiosk serve --operators FILE / The fleet page is off: start kiosk serve with --operators FILE</p>",
        ),
    )
}

/// `GET /login`.
pub async fn login_page(State(st): State<Arc<Shared>>) -> Response {
    if console(&st).is_none() {
        return off();
    }
    html(StatusCode::OK, login_form(None))
}

/// `POST /login` (form: name, password).
pub async fn login(
    State(st): State<Arc<Shared>>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let Some(fleet) = st.fleet.clone() else {
        return off();
    };
    let name = form.get("name").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    if fleet.locked(&name) {
        tracing::warn!(
            "fleet login refused: the name is locked after {MAX_FAILURES} wrong passwords"
        );
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            login_form(Some(
                "错误次数过多，请5分钟后再试 / Too many wrong passwords: try again in 5 minutes",
            )),
        );
    }
    let checker = fleet.clone();
    let who = name.clone();
    let ok = tokio::task::spawn_blocking(move || checker.check(&who, &password))
        .await
        .unwrap_or(false);
    if !ok {
        fleet.failed(&name);
        tracing::warn!("fleet login: wrong name or password");
        tokio::time::sleep(Duration::from_secs(1)).await;
        return html(
            StatusCode::UNAUTHORIZED,
            login_form(Some("用户名或密码错误 / Wrong name or password")),
        );
    }
    fleet.succeeded(&name);
    tracing::info!(operator = %name, "fleet login");
    let expires = Timestamp::now().as_second() + LOGIN_LASTS.as_secs() as i64;
    let cookie = format!(
        "fleet={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        fleet.cookie_for(&name, expires),
        LOGIN_LASTS.as_secs()
    );
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/fleet"));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `GET /fleet`: the page, or to the login.
pub async fn fleet_page(State(st): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(fleet) = console(&st) else {
        return off();
    };
    let now = Timestamp::now();
    let Some(operator) = fleet.operator_of(&headers, now) else {
        let mut r = StatusCode::SEE_OTHER.into_response();
        r.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/login"));
        return r;
    };
    let source = st.points.clone();
    let midnight = crate::rules::maintenance::local_time(now)
        .date()
        .to_datetime(jiff::civil::Time::midnight());
    let day_start = crate::rules::maintenance::china_offset()
        .to_timestamp(midnight)
        .unwrap_or(now);
    let calls_since = now - STAFF_CALLS_OPEN;
    let rows = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::store::StoreError>((
            source.fleet(day_start)?,
            source.staff_calls(calls_since)?,
        ))
    })
    .await;
    let (rows, calls) = match rows {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "fleet page: the store failed");
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                page(
                    "错误 / Error",
                    "<p>数据库暂不可用 / The database cannot be read now</p>",
                ),
            );
        }
        Err(_) => {
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                page("错误 / Error", "<p>内部错误 / Internal error</p>"),
            );
        }
    };
    html(
        StatusCode::OK,
        render(&operator, &st.kiosks, rows, &calls, now),
    )
}

/// The open staff calls, per hall and kiosk (newest first within each), as an HTML section.
pub fn render_staff_calls(
    registry: &super::KioskRegistry,
    calls: &[StaffCallRow],
    now: Timestamp,
) -> String {
    use crate::domain::staff_call::StaffCall;
    let mut out = format!(
        "<h2 id=\"staff-calls-title\">呼叫工作人员（最近 {m} 分钟）/ Staff calls (last {m} minutes)</h2>",
        m = STAFF_CALLS_OPEN.as_mins()
    );
    if calls.is_empty() {
        out.push_str("<p id=\"staff-calls\" class=\"ok\">无 / none</p>");
        return out;
    }
    // Per hall (kiosks outside the kiosks file last), per kiosk, the newest call first.
    let mut sorted: Vec<(Option<&str>, &StaffCallRow)> = calls
        .iter()
        .map(|c| (registry.hall_of(&c.kiosk_id), c))
        .collect();
    sorted.sort_by(|a, b| {
        (a.0.is_none(), a.0, &a.1.kiosk_id)
            .cmp(&(b.0.is_none(), b.0, &b.1.kiosk_id))
            .then(b.1.at.cmp(&a.1.at))
    });
    out.push_str(
        "<table id=\"staff-calls\"><tr><th>大厅 Hall</th><th>自助机 Kiosk</th><th>时间 Time (UTC+8)</th>\
         <th>步骤 Step</th><th>原因 Reason</th></tr>",
    );
    for (hall, c) in sorted {
        let local = crate::rules::maintenance::local_time(c.at).strftime("%H:%M:%S");
        let ago = now.duration_since(c.at).as_mins().max(0);
        let (step, reason) = match StaffCall::from_detail(&c.detail, c.at) {
            Some(call) => (
                format!("{} / {}", call.step.zh(), call.step.en()),
                format!("{} / {}", call.reason.zh(), call.reason.en()),
            ),
            None => ("—".to_string(), c.detail.chars().take(100).collect()),
        };
        out.push_str(&format!(
            "<tr class=\"staff-call\" data-call-kiosk=\"{id}\"><td>{hall}</td><td>{id}</td>\
             <td class=\"bad\">{local} ({ago} 分钟前 / min ago)</td><td>{step}</td><td>{reason}</td></tr>",
            hall = esc(hall.unwrap_or("—")),
            id = esc(&c.kiosk_id),
            local = esc(&local.to_string()),
            step = esc(&step),
            reason = esc(&reason),
        ));
    }
    out.push_str("</table>");
    out
}

/// The page's HTML: every kiosk in the registry or in the events, by id.
pub fn render(
    operator: &str,
    registry: &super::KioskRegistry,
    rows: Vec<KioskLatest>,
    calls: &[StaffCallRow],
    now: Timestamp,
) -> String {
    let staff_calls = render_staff_calls(registry, calls, now);
    let mut by_id: BTreeMap<String, KioskLatest> =
        rows.into_iter().map(|r| (r.kiosk_id.clone(), r)).collect();
    for (id, _) in registry.entries() {
        by_id.entry(id.to_string()).or_insert_with(|| KioskLatest {
            kiosk_id: id.to_string(),
            ..Default::default()
        });
    }
    let mut table = String::from(
        "<table id=\"fleet\"><tr><th>自助机 Kiosk</th><th>大厅 Hall</th><th>最后心跳 Last heartbeat</th>\
         <th>版本 Version</th><th>配置 Config</th><th>设备 Devices</th><th>纸张 Paper</th>\
         <th>今日业务 Sessions today</th><th>今日故障 Problems today</th><th>最近事件 Last event</th></tr>",
    );
    for (id, k) in &by_id {
        let hall = registry.hall_of(id).unwrap_or("—");
        let hb: Option<crate::wire::heartbeat::Heartbeat> = k
            .heartbeat
            .as_ref()
            .and_then(|(_, d)| serde_json::from_str(d).ok());
        let (last, silent) = match &k.heartbeat {
            Some((at, _)) => {
                let age = now.duration_since(*at);
                (
                    format!(
                        "{} ({} s)",
                        at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                        age.as_secs()
                    ),
                    age > SILENT_AFTER,
                )
            }
            // Never reported, or nothing kept: `[retention]` deletes old events, so a kiosk
            // silent for longer than that also lands here.
            None => ("无记录 / none on record".to_string(), true),
        };
        let status = if silent {
            "<span class=\"bad\">失联 / silent</span>"
        } else {
            "<span class=\"ok\">在线 / reporting</span>"
        };
        let (version, config, devices, paper, sessions) = match &hb {
            Some(h) => (
                esc(&h.version),
                esc(&h.config_hash),
                h.devices
                    .iter()
                    .map(|(d, up)| {
                        if *up {
                            format!("{} ✓ ok", esc(d))
                        } else {
                            format!("<span class=\"bad\">{} ✗ down</span>", esc(d))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                match h.paper.as_deref() {
                    Some("ok") => "有纸 / ok".to_string(),
                    Some("low") => "<span class=\"bad\">纸将尽 / low</span>".to_string(),
                    Some("out") => "<span class=\"bad\">缺纸 / out</span>".to_string(),
                    Some(other) => esc(other),
                    None => "—".to_string(),
                },
                h.sessions_today.to_string(),
            ),
            None => Default::default(),
        };
        let last_event = k
            .last_event
            .as_ref()
            .map(|(kind, detail, at)| {
                format!(
                    "{} {}: {}",
                    at.strftime("%m-%d %H:%M"),
                    esc(kind),
                    esc(detail)
                )
            })
            .unwrap_or_else(|| "—".into());
        let problems = if k.problems > 0 {
            format!("<span class=\"bad\">{}</span>", k.problems)
        } else {
            "0".into()
        };
        table.push_str(&format!(
            "<tr class=\"kiosk\" data-kiosk=\"{id_e}\"><td>{id_e}</td><td>{hall}</td><td>{status} {last}</td>\
             <td>{version}</td><td>{config}</td><td>{devices}</td><td>{paper}</td><td>{sessions}</td>\
             <td>{problems}</td><td>{last_event}</td></tr>",
            id_e = esc(id),
            hall = esc(hall),
            last = esc(&last),
        ));
    }
    table.push_str("</table>");
    page(
        "自助机运行情况 / Kiosk fleet",
        &format!(
            "<h1>自助机运行情况 / Kiosk fleet</h1><p>操作员 / Operator: <b id=\"operator\">{}</b> · \
             {} 台 / kiosks · {}</p>{staff_calls}<h2>自助机 / Kiosks</h2>{table}\
             <p>心跳超过 {} 秒未到即为失联 / Silent: no heartbeat for more than {} s.</p>",
            esc(operator),
            by_id.len(),
            now.strftime("%Y-%m-%d %H:%M:%S UTC"),
            SILENT_AFTER.as_secs(),
            SILENT_AFTER.as_secs(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> super::super::KioskRegistry {
        let key = |n: u8| {
            hex::encode(
                ed25519_dalek::SigningKey::from_bytes(&[n; 32])
                    .verifying_key()
                    .as_bytes(),
            )
        };
        super::super::KioskRegistry::parse(
            &format!(
                "[kiosks.YB-2]\npublic_key = \"{}\"\nhall = \"渝北大厅\"\n\
                 [kiosks.YB-1]\npublic_key = \"{}\"\nhall = \"渝北大厅\"\n\
                 [kiosks.YZ-1]\npublic_key = \"{}\"\nhall = \"渝中<大厅>\"\n",
                key(1),
                key(2),
                key(3)
            ),
            false,
        )
        .unwrap()
    }

    #[test]
    fn open_staff_calls_are_listed_per_hall_and_kiosk_newest_first_and_escaped() {
        let now: Timestamp = "2026-11-25T02:30:00Z".parse().unwrap();
        let row = |kiosk: &str, detail: &str, mins: i64| StaffCallRow {
            kiosk_id: kiosk.into(),
            at: now - jiff::SignedDuration::from_mins(mins),
            detail: detail.into(),
        };
        let calls = [
            row("YZ-1", "reason=help step=card", 1),
            row("YB-2", "reason=payment_problem step=payment", 2),
            row("YB-1", "reason=face_service_down step=face", 9),
            row("YB-1", "reason=refusal step=violations", 3),
            row("UNKNOWN", "<script>", 4),
        ];
        let html = render_staff_calls(&registry(), &calls, now);
        // 渝中<大厅>, then 渝北大厅 (YB-1: the newer call first, then the older; YB-2); a kiosk
        // outside the kiosks file last, under "—".
        let yb1_new = html.find("业务不能在自助机办理").unwrap();
        let yb1_old = html.find("人脸核验服务无响应").unwrap();
        let yb2 = html.find("缴款遇到问题").unwrap();
        let yz = html.find("群众请求协助").unwrap();
        let unknown = html.find("UNKNOWN").unwrap();
        assert!(
            yz < yb1_new && yb1_new < yb1_old && yb1_old < yb2 && yb2 < unknown,
            "{html}"
        );
        assert!(
            html.contains("渝中&lt;大厅&gt;") && html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("10:21:00 (9 分钟前 / min ago)"), "{html}");
        // None open: said so.
        let none = render_staff_calls(&registry(), &[], now);
        assert!(none.contains("无 / none"), "{none}");
    }

    /// A kiosk of the kiosks file with no event kept (never reported, or silent for longer than
    /// `[retention]` keeps events) is still listed, as silent with nothing on record.
    #[test]
    fn a_kiosk_with_no_event_kept_is_listed_silent_with_none_on_record() {
        let now: Timestamp = "2026-11-25T02:30:00Z".parse().unwrap();
        let html = render("ops", &registry(), Vec::new(), &[], now);
        for id in ["YB-1", "YB-2", "YZ-1"] {
            assert!(html.contains(id), "{html}");
        }
        assert_eq!(html.matches("无记录 / none on record").count(), 3, "{html}");
        assert_eq!(html.matches("失联 / silent").count(), 3, "{html}");
        assert!(!html.contains("从未"), "{html}");
    }
}
