//! What the simulator panel offers when the kiosk runs on the demo database: the store's
//! well-known demo persons as ID cards, and vehicle QR codes issued (and forged) by the platform.

use jiff::{SignedDuration, Timestamp, civil::Date};

use crate::domain::{CardType, Gender, IdCard, IdNumber, Nation, Photo, ValidUntil};
use crate::privacy::Masked;
use crate::store::demo::DEMO_PERSONS;
use crate::store::platform::{Platform, SqlitePlatform, VehicleKey};

/// One card the simulator can place on the reader.
pub struct SimCard {
    pub label: String,
    pub role: String,
    pub card: IdCard,
}

/// The demo persons' cards, as the simulated reader would hand them over.
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
            let birth = id.birth_date();
            let issued = Date::new(2016, birth.month(), birth.day().min(28)).ok()?;
            Some(SimCard {
                label: p.name.to_string(),
                role: p.description.to_string(),
                card: IdCard {
                    card_type: CardType::Resident,
                    name: Masked::new(p.name.to_string()),
                    gender: if id.is_male() {
                        Gender::Male
                    } else {
                        Gender::Female
                    },
                    nation: Nation::parse("01").ok(),
                    birth_date: birth,
                    address: Masked::new(address),
                    authority: "重庆市公安局".to_string(),
                    valid_from: issued,
                    valid_until: ValidUntil::Date(
                        issued.saturating_add(jiff::Span::new().years(20)),
                    ),
                    id_number: id,
                    photo: Photo::default(),
                },
            })
        })
        .collect()
}

/// Scans the simulator offers at `now`: the demo owner's vehicle QR code (valid, altered,
/// expired). Each is a real token of the platform's signing key, or a forgery of one.
pub fn demo_scans(platform: &SqlitePlatform, now: Timestamp) -> Vec<(String, String)> {
    let owner = match IdNumber::parse("500107198209150056") {
        Ok(id) => id,
        Err(_) => return Vec::new(),
    };
    let Ok(vehicles) = platform.vehicles(&owner, now) else {
        return Vec::new();
    };
    let Some(v) = vehicles.iter().find(|v| v.relation == "own") else {
        return Vec::new();
    };
    let key = VehicleKey {
        plate: v.plate.clone(),
        plate_type: v.plate_type.clone(),
    };
    let mut out = Vec::new();
    if let Ok(t) = platform.issue_vehicle_qr(&owner, &key, now) {
        out.push((
            format!("扫描车主二维码 {}（有效）", v.plate),
            t.token.clone(),
        ));
        // Alter one character of the signed payload: the signature no longer matches.
        let mut forged: Vec<char> = t.token.chars().collect();
        if let Some(i) = forged.iter().position(|c| *c == '.').map(|i| i + 3) {
            if let Some(c) = forged.get_mut(i) {
                *c = if *c == 'A' { 'B' } else { 'A' };
            }
        }
        out.push((
            "扫描车主二维码（被篡改）".to_string(),
            forged.into_iter().collect(),
        ));
    }
    if let Ok(t) = platform.issue_vehicle_qr(&owner, &key, now - SignedDuration::from_hours(1)) {
        out.push(("扫描车主二维码（已过期）".to_string(), t.token));
    }
    out.push((
        "扫描一张非车辆二维码".to_string(),
        "https://cq.122gov.cn/".to_string(),
    ));
    out
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
        let platform = SqlitePlatform::open_demo(&path).unwrap();
        let now = anchor + SignedDuration::from_hours(2);
        let cards = demo_cards(&platform);
        assert_eq!(cards.len(), DEMO_PERSONS.len());
        for c in &cards {
            let p = platform.person(&c.card.id_number, now).unwrap();
            assert_eq!(p.name, c.label);
        }
        let scans = demo_scans(&platform, now);
        assert_eq!(scans.len(), 4);
        let keys = platform.qr_keys();
        assert!(keys.verify(&scans[0].1, now).is_ok(), "valid");
        assert!(keys.verify(&scans[1].1, now).is_err(), "forged");
        assert_eq!(keys.verify(&scans[2].1, now), Err(TokenError::Expired));
        assert!(keys.verify(&scans[3].1, now).is_err(), "not a vehicle code");
    }
}
