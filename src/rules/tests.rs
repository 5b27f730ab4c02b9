//! Table-driven tests of the eligibility decision, one per clause, named after it; the batch
//! order; and property tests of the invariants.

use jiff::Timestamp;
use proptest::prelude::*;

use super::Policy;
use super::eligibility::*;
use crate::domain::{Fen, LicenceStatus, Plate, PlateType, StatusSet, VehicleStatus, VehicleUse};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A case where everything is allowed: own small car, clean licence, 11:06 on the seed's date.
fn base() -> EligibilityRequest {
    EligibilityRequest {
        now: ts("2022-10-24T11:06:10+08:00"),
        policy: Policy {
            epidemic_relief: false,
        },
        driver: DriverFacts {
            has_license: true,
            license_status: StatusSet::parse_codes(["A"]).unwrap(),
            cycle_points: 0,
            pending_points: 0,
            full_12_count_in_cycle: 0,
        },
        vehicle: VehicleFacts {
            plate: Plate::parse("渝A12345").unwrap(),
            plate_type: PlateType::parse("02").unwrap(),
            use_: VehicleUse::parse("A").unwrap(),
            status: StatusSet::parse_codes(["A"]).unwrap(),
            relation: Relation::Own,
        },
        violations: vec![violation("v1", 3, 200)],
    }
}

fn violation(id: &str, points: u32, fine_yuan: i64) -> ViolationFacts {
    ViolationFacts {
        id: id.to_string(),
        occurred_at: ts("2022-10-10T09:00:00+08:00"),
        recorded_by: RecordedBy::Camera,
        penalty: Penalty::Fine,
        fine: Fen::from_yuan(fine_yuan),
        points,
        province: '渝',
        province_online: true,
    }
}

fn reasons(req: &EligibilityRequest) -> Vec<Reason> {
    decide(req).remove(0).reasons
}

/// Each row: a name, a change to the base case, the expected reasons of its one violation.
type Row = (&'static str, fn(&mut EligibilityRequest), &'static [Reason]);

fn run_table(rows: &[Row]) {
    for (name, change, want) in rows {
        let mut req = base();
        change(&mut req);
        let got = reasons(&req);
        assert_eq!(got, *want, "{name}");
        let d = decide(&req).remove(0);
        assert_eq!(d.eligible(), want.is_empty(), "{name}");
        assert!(
            !d.clauses().is_empty(),
            "{name}: every decision names a clause"
        );
    }
}

#[test]
fn base_case_is_eligible() {
    let d = decide(&base()).remove(0);
    assert!(d.eligible());
    assert_eq!(d.points_after, 3);
    assert!(d.message_zh().contains("四.1"));
}

#[test]
fn clause_4_1_simple_procedure_limits() {
    use Reason::*;
    run_table(&[
        (
            "fine 200 is allowed",
            |r| r.violations[0].fine = Fen::from_yuan(200),
            &[],
        ),
        (
            "fine 201 is over",
            |r| r.violations[0].fine = Fen::from_yuan(201),
            &[FineOverLimit],
        ),
        (
            "fine 200.01 is over",
            |r| r.violations[0].fine = Fen(200_01),
            &[FineOverLimit],
        ),
        ("points 6 allowed", |r| r.violations[0].points = 6, &[]),
        (
            "points 7 over",
            |r| r.violations[0].points = 7,
            &[PointsOver6],
        ),
        (
            "warning allowed",
            |r| r.violations[0].penalty = Penalty::Warning,
            &[],
        ),
        (
            "other penalty",
            |r| r.violations[0].penalty = Penalty::Other,
            &[PenaltyNotSimple],
        ),
        (
            "officer recorded",
            |r| r.violations[0].recorded_by = RecordedBy::Officer,
            &[NotCameraRecorded],
        ),
        (
            "province offline",
            |r| r.violations[0].province_online = false,
            &[ProvinceNotOnline],
        ),
        (
            "other province online is fine",
            |r| r.violations[0].province = '川',
            &[],
        ),
    ]);
}

#[test]
fn clause_4_1_vehicle_type_use_and_status() {
    use Reason::*;
    run_table(&[
        (
            "small new-energy",
            |r| r.vehicle.plate_type = PlateType::parse("52").unwrap(),
            &[],
        ),
        (
            "large car",
            |r| r.vehicle.plate_type = PlateType::parse("01").unwrap(),
            &[VehicleTypeNotAllowed],
        ),
        (
            "motorcycle",
            |r| r.vehicle.plate_type = PlateType::parse("07").unwrap(),
            &[VehicleTypeNotAllowed],
        ),
        (
            "large under relief",
            |r| {
                r.vehicle.plate_type = PlateType::parse("51").unwrap();
                r.policy.epidemic_relief = true;
            },
            &[],
        ),
        (
            "light motorcycle under relief",
            |r| {
                r.vehicle.plate_type = PlateType::parse("08").unwrap();
                r.policy.epidemic_relief = true;
            },
            &[],
        ),
        (
            "trailer even under relief",
            |r| {
                r.vehicle.plate_type = PlateType::parse("15").unwrap();
                r.policy.epidemic_relief = true;
            },
            &[VehicleTypeNotAllowed],
        ),
        (
            "operating use",
            |r| r.vehicle.use_ = VehicleUse::parse("D").unwrap(),
            &[VehicleOperatingUse],
        ),
        (
            "rental use on own car",
            |r| r.vehicle.use_ = VehicleUse::parse("G").unwrap(),
            &[VehicleOperatingUse],
        ),
        (
            "status G does not block",
            |r| r.vehicle.status = StatusSet::parse_codes(["A", "G"]).unwrap(),
            &[],
        ),
        (
            "transferred out",
            |r| r.vehicle.status = StatusSet::parse_codes(["B"]).unwrap(),
            &[VehicleStatusBlocked],
        ),
        (
            "stolen",
            |r| r.vehicle.status = StatusSet::parse_codes(["C"]).unwrap(),
            &[VehicleStatusBlocked],
        ),
        (
            "deregistered",
            |r| r.vehicle.status = StatusSet::parse_codes(["E"]).unwrap(),
            &[VehicleStatusBlocked],
        ),
        (
            "forced deregistration",
            |r| r.vehicle.status = StatusSet::parse_codes(["M"]).unwrap(),
            &[VehicleStatusBlocked],
        ),
        (
            "scrap standard",
            |r| r.vehicle.status = StatusSet::parse_codes(["P"]).unwrap(),
            &[VehicleStatusBlocked],
        ),
        (
            "not related",
            |r| r.vehicle.relation = Relation::None,
            &[VehicleNotRelated],
        ),
    ]);
}

#[test]
fn clause_4_1_note_unit_vehicles_only_under_relief() {
    use Reason::*;
    run_table(&[
        (
            "unit filed, no relief",
            |r| {
                r.vehicle.relation = Relation::UnitFiled {
                    filed_at: ts("2022-10-01T00:00:00+08:00"),
                }
            },
            &[UnitVehicleNotAllowed],
        ),
        (
            "unit filed, relief",
            |r| {
                r.vehicle.relation = Relation::UnitFiled {
                    filed_at: ts("2022-10-01T00:00:00+08:00"),
                };
                r.policy.epidemic_relief = true;
            },
            &[],
        ),
    ]);
}

#[test]
fn clause_4_2_only_violations_after_filing_unless_no_points_or_relief() {
    use Reason::*;
    run_table(&[
        (
            "after filing",
            |r| {
                r.vehicle.relation = Relation::Filed {
                    filed_at: ts("2022-10-01T00:00:00+08:00"),
                }
            },
            &[],
        ),
        (
            "before filing with points",
            |r| {
                r.vehicle.relation = Relation::Filed {
                    filed_at: ts("2022-10-20T00:00:00+08:00"),
                }
            },
            &[BeforeFiling],
        ),
        (
            "before filing, 0 points",
            |r| {
                r.vehicle.relation = Relation::Filed {
                    filed_at: ts("2022-10-20T00:00:00+08:00"),
                };
                r.violations[0].points = 0;
            },
            &[],
        ),
        (
            "before filing under relief",
            |r| {
                r.vehicle.relation = Relation::Filed {
                    filed_at: ts("2022-10-20T00:00:00+08:00"),
                };
                r.policy.epidemic_relief = true;
            },
            &[],
        ),
        (
            "exactly at filing time",
            |r| {
                r.vehicle.relation = Relation::Filed {
                    filed_at: ts("2022-10-10T09:00:00+08:00"),
                }
            },
            &[],
        ),
    ]);
}

#[test]
fn clause_4_3_licence_status_full_12_and_running_total() {
    use Reason::*;
    run_table(&[
        (
            "overdue inspection",
            |r| r.driver.license_status = StatusSet::parse_codes(["S"]).unwrap(),
            &[LicenseStatusBlocked],
        ),
        (
            "H and S together",
            |r| r.driver.license_status = StatusSet::parse_codes(["H", "S"]).unwrap(),
            &[LicenseStatusBlocked],
        ),
        (
            "H alone does not block",
            |r| r.driver.license_status = StatusSet::parse_codes(["H"]).unwrap(),
            &[],
        ),
        (
            "deferred renewal N does not block",
            |r| r.driver.license_status = StatusSet::parse_codes(["N"]).unwrap(),
            &[],
        ),
        (
            "12 points B",
            |r| r.driver.license_status = StatusSet::parse_codes(["B"]).unwrap(),
            &[LicenseStatusBlocked],
        ),
        (
            "full 12 twice",
            |r| r.driver.full_12_count_in_cycle = 2,
            &[],
        ),
        (
            "full 12 three times",
            |r| r.driver.full_12_count_in_cycle = 3,
            &[Full12ThreeTimes],
        ),
        ("8 + 3 = 11 allowed", |r| r.driver.cycle_points = 8, &[]),
        (
            "9 + 3 = 12 refused",
            |r| r.driver.cycle_points = 9,
            &[PointsWouldReach12],
        ),
        (
            "6 + pending 2 + 3 = 11",
            |r| {
                r.driver.cycle_points = 6;
                r.driver.pending_points = 2;
            },
            &[],
        ),
        (
            "6 + pending 3 + 3 = 12",
            |r| {
                r.driver.cycle_points = 6;
                r.driver.pending_points = 3;
            },
            &[PointsWouldReach12],
        ),
        (
            "already 12, 0 points",
            |r| {
                r.driver.cycle_points = 12;
                r.violations[0].points = 0;
            },
            &[PointsWouldReach12],
        ),
    ]);
    for s in super::eligibility::BLOCKED_LICENCE_CODES {
        let mut r = base();
        r.driver.license_status = StatusSet::<LicenceStatus>::parse_codes([*s]).unwrap();
        assert_eq!(
            reasons(&r),
            vec![Reason::LicenseStatusBlocked],
            "licence {s}"
        );
    }
}

#[test]
fn clause_4_4_rental_period_and_use() {
    use Reason::*;
    let rental = RentalPeriod {
        start: ts("2022-10-05T00:00:00+08:00"),
        end: ts("2022-10-12T00:00:00+08:00"),
    };
    let mut r = base();
    r.vehicle.use_ = VehicleUse::parse("G").unwrap();
    r.vehicle.relation = Relation::RentalRenter { rental };
    assert_eq!(reasons(&r), vec![]);
    r.violations[0].occurred_at = ts("2022-10-12T00:00:00+08:00");
    assert_eq!(reasons(&r), vec![], "end is included");
    r.violations[0].occurred_at = ts("2022-10-12T00:00:01+08:00");
    assert_eq!(reasons(&r), vec![OutsideRentalPeriod]);
    r.violations[0].occurred_at = ts("2022-10-04T23:59:59+08:00");
    assert_eq!(reasons(&r), vec![OutsideRentalPeriod]);
    r.violations[0].occurred_at = ts("2022-10-06T00:00:00+08:00");
    r.vehicle.use_ = VehicleUse::parse("A").unwrap();
    assert_eq!(
        reasons(&r),
        vec![],
        "四.4 sets no condition on use: A is fine"
    );
    // A temporary driver filed after the violation: no filing-time limit for rentals.
    r.vehicle.use_ = VehicleUse::parse("G").unwrap();
    r.vehicle.relation = Relation::RentalTempDriver {
        filed_at: ts("2022-10-10T00:00:00+08:00"),
        rental,
    };
    assert_eq!(reasons(&r), vec![]);
}

#[test]
fn clause_6_7_maintenance_window_boundaries() {
    let table = [
        ("2022-10-24T21:59:59+08:00", false),
        ("2022-10-24T22:00:00+08:00", true),
        ("2022-10-25T00:59:59+08:00", true),
        ("2022-10-25T01:00:00+08:00", false),
        ("2022-10-24T13:59:59Z", false),
        ("2022-10-24T14:00:00Z", true),
        ("2022-10-24T16:59:59Z", true),
        ("2022-10-24T17:00:00Z", false),
    ];
    for (now, closed) in table {
        let mut r = base();
        r.now = ts(now);
        let want: &[Reason] = if closed {
            &[Reason::MaintenanceWindow]
        } else {
            &[]
        };
        assert_eq!(reasons(&r), want, "{now}");
    }
}

#[test]
fn beyond_seed_no_licence() {
    use Reason::*;
    run_table(&[
        (
            "no licence, own car, points",
            |r| {
                r.driver.has_license = false;
                r.driver.license_status = StatusSet::default();
            },
            &[NoLicense],
        ),
        (
            "no licence, own car, 0 points",
            |r| {
                r.driver.has_license = false;
                r.driver.license_status = StatusSet::default();
                r.violations[0].points = 0;
            },
            &[],
        ),
        (
            "no licence, filed car, 0 points",
            |r| {
                r.driver.has_license = false;
                r.driver.license_status = StatusSet::default();
                r.violations[0].points = 0;
                r.vehicle.relation = Relation::Filed {
                    filed_at: ts("2022-10-01T00:00:00+08:00"),
                };
            },
            &[NoLicense],
        ),
    ]);
}

#[test]
fn every_failing_reason_is_listed_not_just_the_first() {
    let mut r = base();
    r.now = ts("2022-10-24T23:00:00+08:00");
    r.vehicle.status = StatusSet::<VehicleStatus>::parse_codes(["E"]).unwrap();
    r.violations[0] = ViolationFacts {
        recorded_by: RecordedBy::Officer,
        points: 9,
        ..violation("x", 9, 500)
    };
    r.driver.cycle_points = 5;
    let got = reasons(&r);
    assert_eq!(
        got,
        vec![
            Reason::MaintenanceWindow,
            Reason::VehicleStatusBlocked,
            Reason::NotCameraRecorded,
            Reason::FineOverLimit,
            Reason::PointsOver6,
            Reason::PointsWouldReach12,
        ]
    );
    let d = decide(&r).remove(0);
    for c in ["六.7", "四.1", "四.3"] {
        assert!(d.clauses().iter().any(|x| x.code() == c), "{c}");
        assert!(d.message_zh().contains(c), "{c}");
    }
}

#[test]
fn batch_is_decided_in_order_and_only_eligible_ones_add_points() {
    let mut r = base();
    r.driver.cycle_points = 4;
    r.violations = vec![
        violation("a", 3, 150),
        violation("b", 6, 200),
        violation("c", 1, 0),
    ];
    let d = decide(&r);
    assert_eq!(
        d.iter().map(|e| e.eligible()).collect::<Vec<_>>(),
        vec![true, false, true]
    );
    assert_eq!(d[1].reasons, vec![Reason::PointsWouldReach12]);
    assert_eq!((d[0].points_after, d[2].points_after), (7, 8));
    // Reversed order: b is taken first, then a no longer fits.
    r.violations.swap(0, 1);
    let d = decide(&r);
    assert_eq!(
        d.iter().map(|e| e.eligible()).collect::<Vec<_>>(),
        vec![true, false, true]
    );
    assert_eq!(d[0].violation, "b");
    // An ineligible violation adds nothing.
    let mut r = base();
    r.driver.cycle_points = 5;
    let mut officer = violation("o", 6, 100);
    officer.recorded_by = RecordedBy::Officer;
    r.violations = vec![officer, violation("p", 6, 100)];
    let d = decide(&r);
    assert_eq!(d[0].reasons, vec![Reason::NotCameraRecorded]);
    assert!(
        d[1].eligible(),
        "the officer-recorded 6 points were not taken"
    );
}

fn arb_violation() -> impl Strategy<Value = ViolationFacts> {
    (
        0u32..=9,
        0i64..=400,
        any::<bool>(),
        0u8..3,
        any::<bool>(),
        0i64..40 * 86400,
    )
        .prop_map(|(points, fine, camera, pen, online, secs)| ViolationFacts {
            id: "v".into(),
            occurred_at: ts("2022-09-01T00:00:00+08:00") + jiff::SignedDuration::from_secs(secs),
            recorded_by: if camera {
                RecordedBy::Camera
            } else {
                RecordedBy::Officer
            },
            penalty: [Penalty::Warning, Penalty::Fine, Penalty::Other][pen as usize],
            fine: Fen::from_yuan(fine),
            points,
            province: '渝',
            province_online: online,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// 四.3: an accepted batch never brings the licence to 12 points.
    #[test]
    fn accepted_batch_never_reaches_12(
        cycle in 0u32..=13, pending in 0u32..=6,
        vs in proptest::collection::vec(arb_violation(), 0..8),
        relief in any::<bool>(), hour in 0i64..24,
    ) {
        let mut r = base();
        r.driver.cycle_points = cycle;
        r.driver.pending_points = pending;
        r.policy.epidemic_relief = relief;
        r.now = ts("2022-10-24T00:00:00+08:00") + jiff::SignedDuration::from_hours(hour);
        r.violations = vs;
        let d = decide(&r);
        prop_assert_eq!(d.len(), r.violations.len());
        let accepted: u32 = d.iter().zip(&r.violations).filter(|(e, _)| e.eligible()).map(|(_, v)| v.points).sum();
        if d.iter().any(|e| e.eligible()) {
            prop_assert!(cycle + pending + accepted < 12);
        }
        for e in &d {
            // eligible holds exactly when there is no reason.
            prop_assert_eq!(e.eligible(), e.reasons.is_empty());
            prop_assert!(!e.clauses().is_empty());
            let mut uniq = e.reasons.clone();
            uniq.dedup();
            prop_assert_eq!(uniq.len(), e.reasons.len());
        }
    }
}

#[test]
fn each_alone_ignores_the_running_total_of_the_others() {
    let mut r = base();
    r.driver.cycle_points = 4;
    r.violations = vec![violation("a", 6, 150), violation("b", 6, 200)];
    let together = decide(&r);
    assert!(together[0].eligible() && !together[1].eligible());
    let alone = decide_each_alone(&r);
    assert!(alone.iter().all(|d| d.eligible()), "each alone: 4 + 6 = 10");
    assert_eq!(
        alone
            .iter()
            .map(|d| d.violation.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
}

#[test]
fn recorded_by_and_penalty_codes_round_trip() {
    for r in [RecordedBy::Camera, RecordedBy::Officer] {
        assert_eq!(RecordedBy::from_code(r.code()), Some(r));
    }
    for p in [Penalty::Warning, Penalty::Fine, Penalty::Other] {
        assert_eq!(Penalty::from_code(p.code()), Some(p));
    }
    assert_eq!(Penalty::from_code("detention"), None);
    assert!(!DriverFacts::without_licence().has_license);
}

#[test]
fn relations_are_built_from_their_code_and_the_parts_they_need() {
    let t = ts("2022-10-01T00:00:00+08:00");
    let rental = RentalPeriod { start: t, end: t };
    assert_eq!(Relation::needs("rental_temp_driver"), Some((true, true)));
    assert_eq!(Relation::needs("owner"), None);
    assert_eq!(Relation::build("own", None, None), Some(Relation::Own));
    assert_eq!(
        Relation::build("filed", None, None),
        None,
        "filed needs its time"
    );
    assert_eq!(
        Relation::build("rental_renter", None, Some(rental)),
        Some(Relation::RentalRenter { rental })
    );
    for code in [
        "own",
        "filed",
        "unit_filed",
        "rental_renter",
        "rental_temp_driver",
        "none",
    ] {
        let r = Relation::build(code, Some(t), Some(rental)).unwrap();
        assert_eq!(r.code(), code);
    }
}

/// Rules.md corrected: the relief's wider plate types (01, 51, 07, 08) apply to own, filed and
/// unit-filed vehicles only; a rented vehicle is a small car or nothing (四.1 备注, 四.4).
#[test]
fn clause_4_1_note_and_4_4_relief_plate_types_not_for_rentals() {
    let rental = RentalPeriod {
        start: ts("2022-10-01T00:00:00+08:00"),
        end: ts("2022-10-20T00:00:00+08:00"),
    };
    let filed_at = ts("2022-10-01T00:00:00+08:00");
    let relations = [
        (Relation::Own, true),
        (Relation::Filed { filed_at }, true),
        (Relation::UnitFiled { filed_at }, true),
        (Relation::RentalRenter { rental }, false),
        (Relation::RentalTempDriver { filed_at, rental }, false),
    ];
    for (relation, widened) in relations {
        for pt in RELIEF_PLATE_TYPES {
            for relief in [false, true] {
                let mut r = base();
                r.policy.epidemic_relief = relief;
                r.vehicle.plate_type = PlateType::parse(pt).unwrap();
                r.vehicle.relation = relation.clone();
                let want = if relief && widened {
                    vec![]
                } else {
                    vec![Reason::VehicleTypeNotAllowed]
                };
                let mut got = reasons(&r);
                got.retain(|x| *x != Reason::UnitVehicleNotAllowed);
                assert_eq!(got, want, "{} {pt} relief={relief}", relation.code());
            }
        }
        // Small cars are allowed for every relation, relief or not.
        let mut r = base();
        r.vehicle.plate_type = PlateType::parse("52").unwrap();
        r.vehicle.relation = relation.clone();
        r.policy.epidemic_relief = true;
        assert_eq!(reasons(&r), vec![], "{} 52", relation.code());
    }
    assert_eq!(
        Reason::VehicleTypeNotAllowed.clauses(),
        &[super::Clause::Seed("四.1"), super::Clause::Seed("四.4")]
    );
}

/// Rules.md corrected: a rental relation accepts use A or G (四.4 sets no condition on use);
/// any other relation needs A (四.1).
#[test]
fn clause_4_4_rental_accepts_use_a_or_g() {
    let rental = RentalPeriod {
        start: ts("2022-10-01T00:00:00+08:00"),
        end: ts("2022-10-20T00:00:00+08:00"),
    };
    let filed_at = ts("2022-10-01T00:00:00+08:00");
    let table: [(Relation, &[&str]); 4] = [
        (Relation::Own, &["A"]),
        (Relation::Filed { filed_at }, &["A"]),
        (Relation::RentalRenter { rental }, &["A", "G"]),
        (Relation::RentalTempDriver { filed_at, rental }, &["A", "G"]),
    ];
    for (relation, accepted) in table {
        for u in VehicleUse::all() {
            let mut r = base();
            r.vehicle.use_ = u;
            r.vehicle.relation = relation.clone();
            let want = if accepted.contains(&u.code()) {
                vec![]
            } else {
                vec![Reason::VehicleOperatingUse]
            };
            assert_eq!(reasons(&r), want, "{} use {}", relation.code(), u.code());
        }
    }
}
