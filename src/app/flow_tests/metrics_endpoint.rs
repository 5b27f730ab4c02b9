//! A scripted session, then the kiosk's metrics endpoint fetched over TCP: the series are there
//! with the session's values, and no label value looks like personal data. The metrics are
//! process-wide (other tests run beside this one), so values are compared before and after.

use std::io::{Read as _, Write as _};

use super::*;
use crate::ops::metrics::{label_values, looks_personal};

fn fetch(addr: std::net::SocketAddr) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(
        out.contains("Content-Type: text/plain; version=0.0.4"),
        "{out}"
    );
    out.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// The value of the series named exactly `series` (name and labels), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[test]
fn after_a_scripted_session_the_endpoint_shows_its_figures_and_no_personal_data() {
    let addr = crate::ops::metrics::serve("127.0.0.1:0".parse().unwrap()).unwrap();
    let before = fetch(addr);
    let series = [
        "kiosk_sessions_started_total",
        "kiosk_sessions_finished_total",
        "kiosk_tasks_completed_total{kind=\"handle\"}",
        "kiosk_tasks_completed_total{kind=\"pay\"}",
        "kiosk_tasks_completed_total{kind=\"print\"}",
        "kiosk_payments_total",
        "kiosk_payment_amount_fen_total",
        "kiosk_platform_call_seconds_count{op=\"person\"}",
        "kiosk_platform_call_seconds_count{op=\"pay\"}",
        "kiosk_refusals_total{reason=\"not_camera_recorded\"}",
    ];

    // Card, violations, handle both, pay 350.00元, receipt, card out.
    let mut k = Kiosk::signed_in(DAY, "李小红");
    k.violations_unticked(LXH_PLATE);
    k.ui(Action::ToggleViolation(LXH_V1.into()))
        .ui(Action::ToggleViolation(LXH_V2.into()))
        .ui(Action::ToNotices)
        .ui(Action::Handle)
        .ui(Action::Pay);
    assert!(
        matches!(k.screen(), Screen::Done { .. }),
        "{:?}",
        k.screen()
    );
    k.send(Event::CardRemoved);
    assert!(k.is_attract());
    // A refusal: a violation recorded by an officer cannot be handled here (四.1).
    let mut k = Kiosk::signed_in(DAY, "周强");
    k.violations_unticked("渝A9H3J5");
    k.ui(Action::ToggleViolation(v(14)));
    assert!(
        matches!(k.message(), Some(Message::Refused(_))),
        "{:?}",
        k.message()
    );

    let after = fetch(addr);
    for s in series {
        assert!(after.contains(s), "{s} missing:\n{after}");
        assert!(value(&after, s) > value(&before, s), "{s} did not move");
    }
    assert!(
        value(&after, "kiosk_payment_amount_fen_total")
            - value(&before, "kiosk_payment_amount_fen_total")
            >= 35000.0
    );
    for name in [
        "kiosk_sessions_timed_out_total",
        "kiosk_card_read_seconds_bucket",
        "kiosk_frame_build_seconds_bucket",
        "kiosk_device_up{device=\"printer\"}",
        "kiosk_paper_state{state=\"ok\"}",
    ] {
        assert!(after.contains(name), "{name} missing:\n{after}");
    }
    let values = label_values(&after);
    assert!(!values.is_empty());
    for v in values {
        assert!(!looks_personal(&v), "a label value looks personal: {v}");
    }
    assert!(!after.contains("李") && !after.contains(LXH_PLATE));
}
