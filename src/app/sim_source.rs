//! What the simulator panel offers when the kiosk runs on the demo database: the store's
//! well-known demo persons as ID cards, and vehicle QR codes issued (and forged) by the platform.

use jiff::{SignedDuration, Timestamp};

use crate::devices::reader::sim::{resident_card, spec_card};
use crate::domain::{IdCard, IdNumber};
use crate::store::demo::DEMO_PERSONS;
use std::sync::Arc;

use crate::store::platform::{Platform, SqlitePlatform, VehicleKey};
use crate::ui::{SimScan, SimScript};

/// One card the simulator can place on the reader.
pub struct SimCard {
    pub label: String,
    pub role: String,
    pub card: IdCard,
}

/// The card of a demo-city person, as the simulated reader hands it over. The first demo person
/// (李小红) carries the spec's GA 467 test-vector card byte for byte.
pub(crate) fn person_card(id: &IdNumber, name: &str, address: &str) -> IdCard {
    let spec = spec_card();
    if spec.id_number == *id {
        return spec;
    }
    resident_card(id, name, address, "重庆市公安局")
}

/// The card the reader simulator holds for `id` (`kiosk device sim-reader --card ID`): a demo
/// person's card, or one synthesised for any other valid number (name 测试用户).
pub fn card_for(id: &IdNumber) -> IdCard {
    match DEMO_PERSONS.iter().find(|p| p.id_number == id.expose()) {
        Some(p) => person_card(id, p.name, "重庆市"),
        None => person_card(id, "测试用户", "重庆市渝北区龙溪街道金龙路1号"),
    }
}

/// The demo persons' cards, as the simulated reader would hand them over (addresses from the
/// demo database).
pub fn demo_cards(platform: &SqlitePlatform) -> Vec<SimCard> {
    DEMO_PERSONS
        .iter()
        .filter_map(|p| {
            let id = IdNumber::parse(p.id_number).ok()?;
            let address: String = platform
                .with_connection_ref(|c| {
                    Ok(c.query_row(
                        "SELECT address FROM persons WHERE id_number = ?1",
                        [p.id_number],
                        |r| r.get(0),
                    )?)
                })
                .unwrap_or_default();
            Some(SimCard {
                label: p.name.to_string(),
                role: p.description.to_string(),
                card: person_card(&id, p.name, &address),
            })
        })
        .collect()
}

/// The demo persons' cards when the platform is a server (no local database to read the
/// addresses from).
pub fn demo_cards_without_store() -> Vec<SimCard> {
    DEMO_PERSONS
        .iter()
        .filter_map(|p| {
            let id = IdNumber::parse(p.id_number).ok()?;
            Some(SimCard {
                label: p.name.to_string(),
                role: p.description.to_string(),
                card: person_card(&id, p.name, "重庆市"),
            })
        })
        .collect()
}

/// The own vehicle of a demo owner, as the platform names it.
fn own_vehicle(platform: &dyn Platform, owner: &IdNumber, now: Timestamp) -> Option<VehicleKey> {
    let vehicles = platform.vehicles(owner, now).ok()?;
    let v = vehicles
        .iter()
        .find(|v| v.relation == crate::rules::Relation::Own)?;
    Some(v.key())
}

/// A token issued by the platform for `owner`'s vehicle at `at` (empty when it cannot be).
fn issue(platform: &dyn Platform, owner: &IdNumber, key: &VehicleKey, at: Timestamp) -> String {
    platform
        .issue_vehicle_qr(owner, key, at)
        .map(|t| t.token)
        .unwrap_or_default()
}

/// A vehicle QR code the platform issues at `at` for `owner`'s own vehicle (None when they own
/// none).
pub fn own_vehicle_qr(
    platform: &SqlitePlatform,
    owner: &IdNumber,
    at: Timestamp,
) -> Option<String> {
    let key = own_vehicle(platform, owner, at)?;
    Some(issue(platform, owner, &key, at))
}

/// Alter one character of a token's signed payload: its signature no longer matches.
pub fn forge(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    if let Some(c) = chars
        .iter()
        .position(|c| *c == '.')
        .and_then(|i| chars.get_mut(i + 3))
    {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}

/// Scans the simulator offers: the demo owner's vehicle QR code (valid, altered, expired), a
/// vehicle already filed by 3 drivers, and a QR code that is not a vehicle code. Each token is
/// issued by the platform's signing key when the button is pressed.
pub fn demo_scans(platform: Arc<SqlitePlatform>, now: Timestamp) -> Vec<SimScan> {
    demo_scans_on(platform, now)
}

/// [`demo_scans`] on any platform (a server's too).
pub fn demo_scans_on(platform: Arc<dyn Platform>, now: Timestamp) -> Vec<SimScan> {
    let mut out: Vec<SimScan> = Vec::new();
    let owners = [
        ("500107198209150056", "刘芳"),
        ("500103199003070017", "王建国"),
    ];
    let found: Vec<(IdNumber, VehicleKey, &str)> = owners
        .iter()
        .filter_map(|(id, name)| {
            let id = IdNumber::parse(id).ok()?;
            let key = own_vehicle(platform.as_ref(), &id, now)?;
            Some((id, key, *name))
        })
        .collect();
    if let Some((owner, key, name)) = found.first().cloned() {
        let label = format!("扫描{name}的车辆二维码 {}（有效）", key.plate);
        let (p, o, k) = (platform.clone(), owner.clone(), key.clone());
        out.push((label, Box::new(move |at| issue(p.as_ref(), &o, &k, at))));
        let (p, o, k) = (platform.clone(), owner.clone(), key.clone());
        out.push((
            "扫描车主二维码（被篡改）".to_string(),
            Box::new(move |at| forge(&issue(p.as_ref(), &o, &k, at))),
        ));
        let (p, o, k) = (platform.clone(), owner, key);
        out.push((
            "扫描车主二维码（已过期）".to_string(),
            Box::new(move |at| issue(p.as_ref(), &o, &k, at - SignedDuration::from_hours(1))),
        ));
    }
    if let Some((owner, key, name)) = found.get(1).cloned() {
        let label = format!("扫描{name}的车辆二维码 {}（已有3人备案）", key.plate);
        let p = platform.clone();
        out.push((
            label,
            Box::new(move |at| issue(p.as_ref(), &owner, &key, at)),
        ));
    }
    out.push((
        "扫描一张非车辆二维码".to_string(),
        Box::new(|_| "https://cq.122gov.cn/".to_string()),
    ));
    out
}

/// The simulator panel's script over the demo database.
pub fn demo_script(platform: Arc<SqlitePlatform>, now: Timestamp) -> SimScript {
    SimScript {
        cards: demo_cards(&platform)
            .into_iter()
            .map(|c| (c.label, c.role, c.card))
            .collect(),
        scans: demo_scans(platform, now),
    }
}

/// The simulator panel's script when the platform is a server: the demo persons' cards, and QR
/// codes the server issues.
pub fn demo_script_remote(platform: Arc<dyn Platform>, now: Timestamp) -> SimScript {
    SimScript {
        cards: demo_cards_without_store()
            .into_iter()
            .map(|c| (c.label, c.role, c.card))
            .collect(),
        scans: demo_scans_on(platform, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::demo::{DemoOptions, build_city};
    use crate::store::schema;
    use crate::store::token::TokenError;

    #[test]
    fn every_demo_card_is_a_person_of_the_city_and_the_scans_are_what_they_say() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite3");
        let anchor: Timestamp = "2026-11-25T09:00:00+08:00".parse().unwrap();
        let mut conn = schema::open(&path).unwrap();
        build_city(
            &mut conn,
            &DemoOptions {
                persons: 30,
                seed: 1,
                anchor,
            },
        )
        .unwrap();
        drop(conn);
        let platform = Arc::new(SqlitePlatform::open_demo(&path).unwrap());
        let now = anchor + SignedDuration::from_hours(2);
        let cards = demo_cards(&platform);
        assert_eq!(cards.len(), DEMO_PERSONS.len());
        for c in &cards {
            let p = platform.person(&c.card.id_number, now).unwrap();
            assert_eq!(p.name.expose(), &c.label);
        }
        let scans: Vec<String> = demo_scans(platform.clone(), now)
            .iter()
            .map(|(_, f)| f(now))
            .collect();
        assert_eq!(scans.len(), 5);
        // The reader simulator's cards are the same people.
        for c in &cards {
            let sim = card_for(&c.card.id_number);
            assert_eq!(sim.name, c.card.name);
        }
        assert_eq!(cards[0].card, spec_card());
        let keys = platform.qr_keys();
        assert!(keys.verify(&scans[0], now).is_ok(), "valid");
        assert!(keys.verify(&scans[1], now).is_err(), "forged");
        assert_eq!(keys.verify(&scans[2], now), Err(TokenError::Expired));
        assert!(
            keys.verify(&scans[3], now).is_ok(),
            "valid, but the vehicle is at its limit"
        );
        assert!(keys.verify(&scans[4], now).is_err(), "not a vehicle code");
    }
}
