//! The bounds of `POST /notify/alipay`, which anyone may call (Alipay does, with its own signature
//! and no kiosk identity), so that a flood of forged notifications can neither fill the database
//! nor starve the server (`config::NotifySection`):
//!
//! - [`IpLimiter`]: a token bucket per source address (an IPv6 address by its /64), answered 429
//!   before anything is read or checked; the map is bounded ([`MAX_TRACKED`] addresses), so a
//!   stranger with many addresses cannot grow it either;
//! - [`NotifyGuard`]: the store's [`RefusalGate`]. Every refusal is counted in
//!   `kiosk_serve_notify_refused_total{reason}`; of those whose signature does not hold, at most
//!   `refused_audited_per_minute` a minute are written to the audit log (and logged); the rest
//!   are counted in `kiosk_serve_notify_refused_unaudited_total`, with one log line a minute. A
//!   notification whose signature holds is checked before this cap and never refused by it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::config::NotifySection;
use crate::store::platform::RefusalGate;

/// How many source addresses the limiter keeps buckets for. Beyond it, idle buckets (full again)
/// are forgotten; when none is idle, the addresses it does not know share one bucket.
pub const MAX_TRACKED: usize = 4096;

/// One address's bucket: tokens left and when they were counted.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token bucket per source address: `burst` notifications at once, `per_minute` sustained.
#[derive(Debug)]
pub struct IpLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

/// The key an address is counted under: an IPv4 address itself, an IPv6 address by its /64 (one
/// host is routinely given a whole /64), an IPv4-mapped IPv6 address as the IPv4 one.
fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The shared bucket of the addresses the map had no room for.
const OVERFLOW: IpAddr = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);

impl IpLimiter {
    /// None when `per_ip_per_minute` is 0 (no per-address limit).
    pub fn new(cfg: &NotifySection) -> Option<Self> {
        (cfg.per_ip_per_minute > 0).then(|| IpLimiter {
            per_second: f64::from(cfg.per_ip_per_minute) / 60.0,
            burst: f64::from(cfg.per_ip_burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Whether one more notification from `ip` may go on, at `now`.
    pub fn admit(&self, ip: IpAddr, now: Instant) -> bool {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut key = key_of(ip);
        if !map.contains_key(&key) && map.len() >= MAX_TRACKED {
            // Forget the buckets that are full again (they would start full anyway).
            let (rate, burst) = (self.per_second, self.burst);
            map.retain(|_, b| b.tokens + since(b.at, now) * rate < burst);
            if map.len() >= MAX_TRACKED {
                key = OVERFLOW;
            }
        }
        let burst = self.burst;
        let b = map.entry(key).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + since(b.at, now) * self.per_second).min(burst);
        b.at = now.max(b.at);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How many addresses have a bucket now.
    pub fn tracked(&self) -> usize {
        self.buckets.lock().map(|m| m.len()).unwrap_or(0)
    }
}

fn since(then: Instant, now: Instant) -> f64 {
    now.checked_duration_since(then)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// The audit cap's window: the first refusal starts a minute; refusals in it are audited up to
/// the cap, the rest counted.
#[derive(Debug, Default)]
struct Window {
    /// Unix seconds of the window's start; None before the first refusal.
    start: Option<i64>,
    audited: u32,
    unaudited: u64,
}

/// The server's [`RefusalGate`]: counts every refused notification by reason, and lets at most
/// `refused_audited_per_minute` unsigned refusals a minute into the audit log.
#[derive(Debug)]
pub struct NotifyGuard {
    per_minute: u32,
    window: Mutex<Window>,
    unaudited_total: AtomicU64,
}

impl NotifyGuard {
    pub fn new(refused_audited_per_minute: u32) -> Self {
        NotifyGuard {
            per_minute: refused_audited_per_minute,
            window: Mutex::new(Window::default()),
            unaudited_total: AtomicU64::new(0),
        }
    }

    /// How many refusals this guard kept out of the audit log so far.
    pub fn unaudited(&self) -> u64 {
        self.unaudited_total.load(Ordering::Relaxed)
    }
}

impl RefusalGate for NotifyGuard {
    fn refused(&self, reason: &'static str, signed: bool, now: Timestamp) -> bool {
        let metrics = crate::ops::metrics::server();
        metrics.notify_refused(reason);
        if signed {
            return true;
        }
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let t = now.as_second();
        if w.start.is_none_or(|s| t >= s + 60 || t < s) {
            if w.unaudited > 0 {
                tracing::warn!(
                    count = w.unaudited,
                    "refused payment notifications of the last minute not audited one by one"
                );
            }
            *w = Window {
                start: Some(t),
                ..Window::default()
            };
        }
        if w.audited < self.per_minute {
            w.audited += 1;
            return true;
        }
        w.unaudited += 1;
        self.unaudited_total.fetch_add(1, Ordering::Relaxed);
        metrics.notify_refused_unaudited.inc();
        if w.unaudited == 1 {
            // The one log line of this minute.
            tracing::warn!(
                cap = self.per_minute,
                reason,
                "payment notifications refused beyond the cap this minute: counted in kiosk_serve_notify_refused_unaudited_total, not audited"
            );
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, burst: u32) -> IpLimiter {
        IpLimiter::new(&NotifySection {
            per_ip_per_minute: per_minute,
            per_ip_burst: burst,
            refused_audited_per_minute: 60,
        })
        .unwrap()
    }

    #[test]
    fn an_address_gets_its_burst_then_its_rate_and_others_keep_theirs() {
        let l = limiter(60, 5);
        let t0 = Instant::now();
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "198.51.100.1".parse().unwrap();
        let admitted = (0..20).filter(|_| l.admit(a, t0)).count();
        assert_eq!(admitted, 5, "the burst, then nothing at the same instant");
        assert!(l.admit(b, t0), "another address has its own bucket");
        // One a second comes back (60 a minute).
        let later = t0 + Duration::from_millis(1500);
        assert!(l.admit(a, later));
        assert!(!l.admit(a, later));
        // Never more than the burst, however long it waited.
        let much_later = t0 + Duration::from_secs(3600);
        assert_eq!((0..20).filter(|_| l.admit(a, much_later)).count(), 5);
    }

    #[test]
    fn an_ipv6_host_is_one_address_across_its_64() {
        let l = limiter(60, 2);
        let t0 = Instant::now();
        let admitted = (0..10u16)
            .filter(|i| l.admit(format!("2001:db8:1:2::{i:x}").parse().unwrap(), t0))
            .count();
        assert_eq!(admitted, 2);
        assert!(l.admit("2001:db8:1:3::1".parse().unwrap(), t0));
        // An IPv4-mapped address is the IPv4 one.
        let l = limiter(60, 1);
        assert!(l.admit("::ffff:192.0.2.1".parse().unwrap(), t0));
        assert!(!l.admit("192.0.2.1".parse().unwrap(), t0));
    }

    #[test]
    fn the_limiter_tracks_a_bounded_number_of_addresses() {
        let l = limiter(1, 1);
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 500) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            l.admit(ip, t0);
        }
        assert!(l.tracked() <= MAX_TRACKED + 1, "{}", l.tracked());
        // The addresses beyond share one bucket: already spent.
        assert!(!l.admit("192.0.2.200".parse().unwrap(), t0));
        // Once the buckets are full again they are forgotten and a new address has its own.
        let later = t0 + Duration::from_secs(120);
        assert!(l.admit("192.0.2.201".parse().unwrap(), later));
        assert!(l.tracked() < 10, "{}", l.tracked());
    }

    #[test]
    fn unsigned_refusals_are_audited_up_to_the_cap_a_minute_and_signed_ones_always() {
        let g = NotifyGuard::new(3);
        let t0: Timestamp = "2026-12-07T10:00:30Z".parse().unwrap();
        let audited = (0..10)
            .filter(|_| g.refused("bad_signature", false, t0))
            .count();
        assert_eq!(audited, 3);
        assert_eq!(g.unaudited(), 7);
        // Signed by the provider: always audited, never counted as capped.
        assert!(g.refused("wrong_amount", true, t0));
        assert_eq!(g.unaudited(), 7);
        // 59 s after the window opened: still capped; a minute after: a new window.
        let s = jiff::SignedDuration::from_secs;
        assert!(!g.refused("malformed", false, t0 + s(59)));
        assert!(g.refused("malformed", false, t0 + s(60)));
        assert_eq!(g.unaudited(), 8);
        // A clock stepped back opens a new window rather than staying shut.
        assert!(g.refused("malformed", false, t0 - s(600)));
    }
}
