//! The in-memory demo platform and devices: a handful of demo persons covering the rule branches,
//! deterministic from the instant it is built. Decisions are the rule core's (`rules::decide`,
//! `rules::filing::check_new_filing`, `rules::payment`); nothing here re-implements a rule.
//!
//! | card | who | shows |
//! | --- | --- | --- |
//! | 张三 | clean driver, 渝A12345 | payable camera violations, one out of province (川), one with a late surcharge; one officer-recorded and one 12-point refused |
//! | 李四 | 10 points in the cycle | a 3-point violation refused (would reach 12), a 1-point one allowed |
//! | 王五 | licence suspended (暂扣) | everything refused (四.3) |
//! | 赵六 | owner of 渝B67890 | the vehicle others file by QR or SMS |
//! | 陈七 | renter of 渝D22222 | inside / outside the rental period (四.4) |
//! | 孙八 | 3 filings already | the 3/3 limit (三.2) |

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp, ToSpan, civil::Date};
use sha2::{Digest, Sha256};

use super::ports::*;
use crate::domain::{
    CardType, Fen, Gender, IdCard, IdNumber, LicenceStatus, Nation, Photo, Plate, PlateType,
    StatusSet, ValidUntil, VehicleStatus, VehicleUse,
};
use crate::privacy::Masked;
use crate::rules::filing::{FilingCounts, FilingMethod, OwnerKind, check_new_filing};
use crate::rules::maintenance::local_time;
use crate::rules::payment::{HandlingState, PaymentWindow, check_payment, revert_due};
use crate::rules::surcharge::late_payment_surcharge;
use crate::rules::{
    DriverFacts, EligibilityRequest, Penalty, PolicyBook, RecordedBy, Relation, RentalPeriod,
    SERVICE_FEE, VehicleFacts, ViolationFacts, decide, decide_each_alone,
};

/// The key the demo signs vehicle QR codes with. Demo only: the real store uses ed25519 tokens.
const DEMO_QR_KEY: &[u8] = b"kiosk-demo-vehicle-qr";
/// How long a demo vehicle QR code is valid.
pub const QR_VALIDITY: SignedDuration = SignedDuration::from_mins(10);

/// A demo SMS, as the simulator's outbox shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// Masked phone (138****1234).
    pub to: String,
    pub text: String,
    /// The code, for the simulator and tests.
    pub code: String,
    pub at: Timestamp,
}

/// The demo SMS outbox, shared with the simulator panel.
pub type Outbox = Arc<Mutex<Vec<SmsMessage>>>;

#[derive(Debug, Clone)]
struct DemoPerson {
    id: IdNumber,
    name: String,
    phone: Option<String>,
    has_license: bool,
    licence_status: StatusSet<LicenceStatus>,
    cycle_points: u32,
    pending_points: u32,
    full_12_count: u32,
    first_issued: Date,
}

#[derive(Debug, Clone)]
enum Owner {
    Person(IdNumber),
    Unit { name: String },
}

#[derive(Debug, Clone)]
struct DemoVehicle {
    plate: Plate,
    plate_type: PlateType,
    use_: VehicleUse,
    status: StatusSet<VehicleStatus>,
    owner: Owner,
    /// Owner's phone, or the unit's manager's (三.3).
    owner_phone: String,
    /// Renter and period, for a rental vehicle.
    rental: Option<(IdNumber, RentalPeriod)>,
}

#[derive(Debug, Clone)]
struct DemoViolation {
    plate: Plate,
    view: ViolationView,
    state: ViolationState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ViolationState {
    Pending,
    /// In a handling decision (index into `handlings`).
    Handled(usize),
}

#[derive(Debug, Clone)]
struct DemoFiling {
    view: FilingView,
    user: IdNumber,
    active: bool,
}

#[derive(Debug, Clone)]
struct DemoHandling {
    view: HandlingView,
    user: IdNumber,
    state: HandlingState,
    key: String,
}

/// The demo platform. Deterministic from `anchor` (the instant it is built).
#[derive(Debug)]
pub struct DemoBackend {
    policy: PolicyBook,
    payment_window: SignedDuration,
    persons: Vec<DemoPerson>,
    vehicles: Vec<DemoVehicle>,
    violations: Vec<DemoViolation>,
    filings: Vec<DemoFiling>,
    handlings: Vec<DemoHandling>,
    payments: Vec<PaymentView>,
    registrations: HashMap<IdNumber, String>,
    /// Codes sent, by (purpose, phone).
    codes: HashMap<(String, String), String>,
    outbox: Outbox,
    feedback: Vec<FeedbackTopic>,
    seq: u64,
}

fn id(s: &str) -> IdNumber {
    IdNumber::parse(s).expect("demo ID numbers are valid (tested)")
}

fn plate(s: &str) -> Plate {
    Plate::parse(s).expect("demo plates are valid (tested)")
}

/// The demo persons' ID numbers, in the table's order.
pub const DEMO_IDS: [(&str, &str); 6] = [
    ("张三", "500103199003070017"),
    ("李四", "500104198505120025"),
    ("王五", "500105197801230031"),
    ("赵六", "500106198211110048"),
    ("陈七", "500107199506060054"),
    ("孙八", "500108198808080060"),
];

/// A demo ID number with a valid check character (the last digit of `DEMO_IDS` is recomputed).
fn demo_id(i: usize) -> IdNumber {
    let s = DEMO_IDS[i].1;
    let first17 = &s[..17];
    id(&format!(
        "{first17}{}",
        crate::domain::id_number::check_character(first17)
    ))
}

/// The card of demo person `i` (0..6), as the simulated reader hands it over.
pub fn demo_card(i: usize) -> IdCard {
    let number = demo_id(i);
    IdCard {
        card_type: CardType::Resident,
        name: Masked::new(DEMO_IDS[i].0.to_string()),
        gender: if number.is_male() {
            Gender::Male
        } else {
            Gender::Female
        },
        nation: Nation::parse("01").ok(),
        birth_date: number.birth_date(),
        address: Masked::new("重庆市渝中区示例路1号".to_string()),
        authority: "重庆市公安局渝中区分局".to_string(),
        valid_from: Date::constant(2020, 1, 1),
        valid_until: ValidUntil::Date(Date::constant(2040, 1, 1)),
        id_number: number,
        photo: Photo::default(),
    }
}

/// Number of demo cards.
pub const DEMO_CARDS: usize = DEMO_IDS.len();

fn mac(payload: &str) -> String {
    let mut h = Sha256::new();
    h.update(DEMO_QR_KEY);
    h.update(payload.as_bytes());
    hex::encode(&h.finalize()[..8])
}

/// A demo vehicle QR code for `plate`, valid until `expires`.
pub fn vehicle_qr(plate: &str, expires: Timestamp) -> String {
    let payload = format!("VQR1|{plate}|{}", expires.as_second());
    format!("{payload}|{}", mac(&payload))
}

/// The same QR code with its plate altered (its signature no longer matches).
pub fn tampered_vehicle_qr(plate: &str, expires: Timestamp) -> String {
    vehicle_qr(plate, expires).replacen("VQR1|渝B", "VQR1|渝E", 1)
}

/// The plate demo owners show their QR code for (赵六's).
pub const DEMO_FILING_PLATE: &str = "渝B67890";
/// A unit's vehicle, filed by an SMS code to its manager (三.3).
pub const DEMO_UNIT_PLATE: &str = "渝C11111";

#[allow(clippy::too_many_arguments)]
fn violation(
    plate_: &str,
    n: &str,
    occurred_at: Timestamp,
    recorded_by: RecordedBy,
    fine_yuan: i64,
    points: u32,
    province: char,
    behaviour: &str,
    place: &str,
    authority: (&str, &str),
    decided_on: Option<Date>,
) -> DemoViolation {
    let facts = ViolationFacts {
        id: n.to_string(),
        occurred_at,
        recorded_by,
        penalty: Penalty::Fine,
        fine: Fen::from_yuan(fine_yuan),
        points,
        province,
        province_online: true,
    };
    DemoViolation {
        plate: plate(plate_),
        view: ViolationView {
            decision: crate::rules::Eligibility {
                violation: n.to_string(),
                reasons: Vec::new(),
                points_after: 0,
                relation_clauses: &[],
            },
            facts,
            behaviour: behaviour.into(),
            place: place.into(),
            authority: authority.0.into(),
            authority_address: authority.1.into(),
            decided_on,
        },
        state: ViolationState::Pending,
    }
}

const CQ: (&str, &str) = (
    "重庆市公安局交通巡逻警察总队",
    "重庆市渝北区金开大道西段68号",
);
const CD: (&str, &str) = ("成都市公安局交通管理局", "成都市青羊区草市街2号");

impl DemoBackend {
    /// The demo city as of `anchor`; violations are dated before it.
    pub fn new(anchor: Timestamp, payment_window_minutes: u32) -> Self {
        let day = |n: i64| anchor - SignedDuration::from_hours(24 * n);
        let today = local_time(anchor).date();
        let lic = |c: &str| StatusSet::parse_codes([c]).expect("valid code");
        let veh = |c: &str| StatusSet::parse_codes([c]).expect("valid code");
        let person = |i: usize, phone: Option<&str>, points: u32, licence: &str| DemoPerson {
            id: demo_id(i),
            name: DEMO_IDS[i].0.to_string(),
            phone: phone.map(str::to_string),
            has_license: true,
            licence_status: lic(licence),
            cycle_points: points,
            pending_points: 0,
            full_12_count: 0,
            first_issued: Date::constant(2015, 6, 12),
        };
        let persons = vec![
            person(0, Some("13800001234"), 2, "A"),
            person(1, Some("13800005678"), 10, "A"),
            person(2, None, 0, "D"),
            person(3, Some("13900001111"), 0, "A"),
            person(4, Some("13600003333"), 0, "A"),
            person(5, Some("13500004444"), 0, "A"),
        ];
        let vehicle = |p: &str, owner: Owner, phone: &str, use_: &str| DemoVehicle {
            plate: plate(p),
            plate_type: PlateType::parse("02").expect("valid"),
            use_: VehicleUse::parse(use_).expect("valid"),
            status: veh("A"),
            owner,
            owner_phone: phone.to_string(),
            rental: None,
        };
        let mut rental = vehicle(
            "渝D22222",
            Owner::Unit {
                name: "重庆示例汽车租赁有限公司".into(),
            },
            "13700009999",
            "G",
        );
        rental.rental = Some((
            demo_id(4),
            RentalPeriod {
                start: day(10),
                end: anchor + SignedDuration::from_hours(24 * 20),
            },
        ));
        let vehicles = vec![
            vehicle("渝A12345", Owner::Person(demo_id(0)), "13800001234", "A"),
            vehicle("渝A55555", Owner::Person(demo_id(1)), "13800005678", "A"),
            vehicle("渝A66666", Owner::Person(demo_id(2)), "13800006666", "A"),
            vehicle(
                DEMO_FILING_PLATE,
                Owner::Person(demo_id(3)),
                "13900001111",
                "A",
            ),
            vehicle(
                DEMO_UNIT_PLATE,
                Owner::Unit {
                    name: "重庆示例物流有限公司".into(),
                },
                "13700002222",
                "A",
            ),
            vehicle("渝B99999", Owner::Person(demo_id(3)), "13900001111", "A"),
            rental,
            vehicle("渝A10001", Owner::Person(demo_id(3)), "13900001111", "A"),
            vehicle("渝A10002", Owner::Person(demo_id(3)), "13900001111", "A"),
            vehicle("渝A10003", Owner::Person(demo_id(3)), "13900001111", "A"),
        ];
        use RecordedBy::{Camera, Officer};
        let violations = vec![
            violation(
                "渝A12345",
                "V0001",
                day(20),
                Camera,
                200,
                3,
                '渝',
                "机动车违反禁止标线指示的",
                "渝中区解放碑民族路",
                CQ,
                None,
            ),
            violation(
                "渝A12345",
                "V0002",
                day(40),
                Camera,
                100,
                2,
                '川',
                "机动车不按规定车道行驶的",
                "成都市青羊区人民中路",
                CD,
                None,
            ),
            violation(
                "渝A12345",
                "V0003",
                day(45),
                Camera,
                150,
                0,
                '渝',
                "机动车违反规定停放、临时停车的",
                "江北区观音桥步行街",
                CQ,
                Some(today.checked_sub(30.days()).expect("in range")),
            ),
            violation(
                "渝A12345",
                "V0004",
                day(50),
                Officer,
                200,
                3,
                '渝',
                "驾驶机动车不按规定使用灯光的",
                "南岸区南滨路",
                CQ,
                None,
            ),
            violation(
                "渝A12345",
                "V0005",
                day(60),
                Camera,
                200,
                12,
                '渝',
                "驾驶机动车在高速公路上倒车的",
                "G75兰海高速K1203",
                CQ,
                None,
            ),
            violation(
                "渝A55555",
                "V0101",
                day(5),
                Camera,
                200,
                3,
                '渝',
                "机动车违反禁止标线指示的",
                "沙坪坝区三峡广场",
                CQ,
                None,
            ),
            violation(
                "渝A55555",
                "V0102",
                day(8),
                Camera,
                50,
                1,
                '渝',
                "机动车通过路口遇停止信号时停在停止线以内的",
                "九龙坡区杨家坪",
                CQ,
                None,
            ),
            violation(
                "渝A66666",
                "V0201",
                day(3),
                Camera,
                200,
                3,
                '渝',
                "机动车违反禁止标线指示的",
                "渝北区龙溪街道",
                CQ,
                None,
            ),
            violation(
                "渝D22222",
                "V0401",
                day(5),
                Camera,
                200,
                3,
                '渝',
                "机动车违反禁止标线指示的",
                "渝北区空港大道",
                CQ,
                None,
            ),
            violation(
                "渝D22222",
                "V0402",
                day(30),
                Camera,
                100,
                0,
                '渝',
                "机动车违反规定停放、临时停车的",
                "江北机场T3航站楼",
                CQ,
                None,
            ),
        ];
        let filing = |n: usize, user: IdNumber, p: &str| DemoFiling {
            view: FilingView {
                id: format!("F{n:04}"),
                plate: plate(p),
                method: FilingMethod::OwnerQr,
                status: FilingStatus::Approved,
                filed_at: day(100),
            },
            user,
            active: true,
        };
        // 孙八 has 3 filings (三.2 limit); 渝B99999 has 3 other drivers.
        let filings = vec![
            filing(1, demo_id(5), "渝A10001"),
            filing(2, demo_id(5), "渝A10002"),
            filing(3, demo_id(5), "渝A10003"),
            filing(4, demo_id(0), "渝B99999"),
            filing(5, demo_id(1), "渝B99999"),
            filing(6, demo_id(4), "渝B99999"),
        ];
        // 张三's filing of 渝B99999 would make him "already filed"; keep his list empty.
        let mut filings = filings;
        filings[3].user = demo_id(2);
        let mut registrations = HashMap::new();
        for p in &persons {
            if let Some(phone) = &p.phone {
                registrations.insert(p.id.clone(), phone.clone());
            }
        }
        DemoBackend {
            policy: PolicyBook::embedded().expect("the embedded policy is valid (tested)"),
            payment_window: SignedDuration::from_mins(i64::from(payment_window_minutes)),
            persons,
            vehicles,
            violations,
            filings,
            handlings: Vec::new(),
            payments: Vec::new(),
            registrations,
            codes: HashMap::new(),
            outbox: Arc::new(Mutex::new(Vec::new())),
            feedback: Vec::new(),
            seq: 0,
        }
    }

    /// The SMS outbox the simulator panel reads.
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    fn person_of(&self, id: &IdNumber) -> Result<&DemoPerson, BackendError> {
        self.persons
            .iter()
            .find(|p| p.id == *id)
            .ok_or(BackendError::NotFound)
    }

    fn vehicle_of(&self, plate: &Plate) -> Result<&DemoVehicle, BackendError> {
        self.vehicles
            .iter()
            .find(|v| v.plate == *plate)
            .ok_or(BackendError::NotFound)
    }

    fn relation(&self, user: &IdNumber, v: &DemoVehicle) -> Relation {
        if matches!(&v.owner, Owner::Person(o) if o == user) {
            return Relation::Own;
        }
        if let Some((renter, period)) = &v.rental
            && renter == user
        {
            return Relation::RentalRenter { rental: *period };
        }
        match self
            .filings
            .iter()
            .find(|f| f.active && f.user == *user && f.view.plate == v.plate)
        {
            Some(f) if f.view.status == FilingStatus::Approved => match v.owner {
                Owner::Person(_) => Relation::Filed {
                    filed_at: f.view.filed_at,
                },
                Owner::Unit { .. } => Relation::UnitFiled {
                    filed_at: f.view.filed_at,
                },
            },
            _ => Relation::None,
        }
    }

    fn driver_facts(p: &DemoPerson) -> DriverFacts {
        DriverFacts {
            has_license: p.has_license,
            license_status: p.licence_status.clone(),
            cycle_points: p.cycle_points,
            pending_points: p.pending_points,
            full_12_count_in_cycle: p.full_12_count,
        }
    }

    fn vehicle_facts(&self, user: &IdNumber, v: &DemoVehicle) -> VehicleFacts {
        VehicleFacts {
            plate: v.plate.clone(),
            plate_type: v.plate_type,
            use_: v.use_,
            status: v.status.clone(),
            relation: self.relation(user, v),
        }
    }

    /// 六.2: revert every unpaid handling whose window has closed.
    fn sweep_reverts(&mut self, now: Timestamp) {
        for i in 0..self.handlings.len() {
            let h = &self.handlings[i];
            let window = PaymentWindow {
                handled_at: h.view.handled_at,
                deadline: h.view.pay_by,
            };
            if let Some(release) =
                revert_due(h.state, window, now, h.view.points, h.view.violations.len())
            {
                let user = h.user.clone();
                self.handlings[i].state = HandlingState::Reverted;
                for v in &mut self.violations {
                    if v.state == ViolationState::Handled(i) {
                        v.state = ViolationState::Pending;
                    }
                }
                if let Some(p) = self.persons.iter_mut().find(|p| p.id == user) {
                    p.pending_points = p.pending_points.saturating_sub(release.released_points);
                }
            }
        }
    }

    fn send_code(&mut self, purpose: &str, phone: &str, now: Timestamp) -> SmsSent {
        self.seq += 1;
        let digest = Sha256::digest(format!("{purpose}|{phone}|{}", self.seq).as_bytes());
        let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % 1_000_000;
        let code = format!("{n:06}");
        self.codes
            .insert((purpose.to_string(), phone.to_string()), code.clone());
        let to = crate::privacy::mask_text(phone);
        let text = Self::sms_text(purpose, &code);
        if let Ok(mut outbox) = self.outbox.lock() {
            outbox.push(SmsMessage {
                to: to.clone(),
                text,
                code,
                at: now,
            });
        }
        SmsSent {
            to_masked: to,
            to_unit_manager: false,
        }
    }

    fn sms_text(purpose: &str, code: &str) -> String {
        match purpose {
            "register" => format!("【交管12123】您正在自助终端注册，验证码{code}，5分钟内有效。"),
            _ => format!(
                "【交管12123】有人申请在自助终端备案驾驶您的机动车，如同意请将验证码{code}告知对方，否则请忽略。"
            ),
        }
    }

    fn take_code(&mut self, purpose: &str, phone: &str, code: &str) -> bool {
        let key = (purpose.to_string(), phone.to_string());
        if self.codes.get(&key).is_some_and(|c| c == code) {
            self.codes.remove(&key);
            true
        } else {
            false
        }
    }

    fn candidate(
        &self,
        user: &IdNumber,
        plate: &Plate,
        method: FilingMethod,
    ) -> Result<FilingCandidate, FilingError> {
        let v = self.vehicle_of(plate)?;
        let owner_kind = match v.owner {
            Owner::Person(_) => OwnerKind::Person,
            Owner::Unit { .. } => OwnerKind::Unit,
        };
        let active = |f: &&DemoFiling| f.active;
        let counts = FilingCounts {
            user_active_filings: self
                .filings
                .iter()
                .filter(active)
                .filter(|f| f.user == *user)
                .count() as u32,
            vehicle_active_drivers: self
                .filings
                .iter()
                .filter(active)
                .filter(|f| f.view.plate == *plate)
                .count() as u32,
            already_filed_by_user: self
                .filings
                .iter()
                .filter(active)
                .any(|f| f.user == *user && f.view.plate == *plate),
            user_is_owner: matches!(&v.owner, Owner::Person(o) if o == user),
        };
        check_new_filing(counts, owner_kind, method)?;
        let owner = match &v.owner {
            Owner::Person(o) => self
                .persons
                .iter()
                .find(|p| p.id == *o)
                .map(|p| crate::privacy::mask_text(&p.name))
                .unwrap_or_default(),
            Owner::Unit { name } => name.clone(),
        };
        Ok(FilingCandidate {
            plate: plate.clone(),
            method,
            owner,
        })
    }

    /// Add `n` payable camera violations to `plate_` (the benchmark's long list).
    pub fn add_bulk_violations(&mut self, plate_: &str, n: usize, anchor: Timestamp) {
        for i in 0..n {
            self.violations.push(violation(
                plate_,
                &format!("B{i:05}"),
                anchor - SignedDuration::from_hours(24 + i as i64),
                RecordedBy::Camera,
                50 + (i as i64 % 4) * 50,
                (i % 3) as u32,
                '渝',
                "机动车违反禁止标线指示的",
                "渝中区解放碑民族路",
                CQ,
                None,
            ));
        }
    }

    /// How many feedback entries were received (for tests).
    pub fn feedback_count(&self) -> usize {
        self.feedback.len()
    }
}

impl KioskBackend for DemoBackend {
    fn person(&mut self, id: &IdNumber, now: Timestamp) -> Result<PersonView, BackendError> {
        self.sweep_reverts(now);
        let p = self.person_of(id)?.clone();
        let vehicles = self
            .vehicles
            .iter()
            .filter(|v| self.relation(id, v) != Relation::None)
            .map(|v| VehicleView {
                facts: self.vehicle_facts(id, v),
                pending: self
                    .violations
                    .iter()
                    .filter(|x| x.plate == v.plate && x.state == ViolationState::Pending)
                    .count(),
            })
            .collect();
        Ok(PersonView {
            name: Masked::new(p.name.clone()),
            phone: self.registrations.get(id).map(|ph| Masked::new(ph.clone())),
            registered: self.registrations.contains_key(id),
            driver: Self::driver_facts(&p),
            licence_first_issued: Some(p.first_issued),
            licence_status: p.licence_status.clone(),
            vehicles,
        })
    }

    fn violations(
        &mut self,
        id: &IdNumber,
        plate: &Plate,
        now: Timestamp,
    ) -> Result<ViolationList, BackendError> {
        self.sweep_reverts(now);
        let p = self.person_of(id)?.clone();
        let v = self.vehicle_of(plate)?.clone();
        let vehicle = self.vehicle_facts(id, &v);
        if vehicle.relation == Relation::None {
            return Err(BackendError::NotFound);
        }
        let request = EligibilityRequest {
            now,
            policy: self.policy.at(now),
            driver: Self::driver_facts(&p),
            vehicle,
            violations: Vec::new(),
        };
        let mut violations: Vec<ViolationView> = self
            .violations
            .iter()
            .filter(|x| x.plate == *plate && x.state == ViolationState::Pending)
            .map(|x| x.view.clone())
            .collect();
        let all = EligibilityRequest {
            violations: violations.iter().map(|v| v.facts.clone()).collect(),
            ..request.clone()
        };
        for (view, decision) in violations.iter_mut().zip(decide_each_alone(&all)) {
            view.decision = decision;
        }
        Ok(ViolationList {
            plate: plate.clone(),
            request,
            violations,
        })
    }

    fn handle(
        &mut self,
        id: &IdNumber,
        plate: &Plate,
        violations: &[String],
        key: &str,
        now: Timestamp,
    ) -> Result<HandlingView, HandleError> {
        if let Some(h) = self.handlings.iter().find(|h| h.key == key) {
            return Ok(h.view.clone());
        }
        let list = self.violations(id, plate, now)?;
        let chosen: Vec<&ViolationView> = list
            .violations
            .iter()
            .filter(|v| violations.contains(&v.facts.id))
            .collect();
        if chosen.len() != violations.len() || chosen.is_empty() {
            return Err(BackendError::Invalid("violation not pending".into()).into());
        }
        let decisions = decide(&EligibilityRequest {
            violations: chosen.iter().map(|v| v.facts.clone()).collect(),
            ..list.request.clone()
        });
        if decisions.iter().any(|d| !d.eligible()) {
            return Err(HandleError::Refused(decisions));
        }
        let today = local_time(now).date();
        let fines = Fen(chosen.iter().map(|v| v.facts.fine.0).sum());
        let surcharge = Fen(chosen
            .iter()
            .filter_map(|v| {
                v.decided_on
                    .map(|d| late_payment_surcharge(v.facts.fine, d, today).amount.0)
            })
            .sum());
        let points: u32 = chosen.iter().map(|v| v.facts.points).sum();
        self.seq += 1;
        let decision = format!("5001{}{:06}", today.strftime("%Y%m%d"), self.seq);
        let window = PaymentWindow::with_length(now, self.payment_window);
        let view = HandlingView {
            payment_url: format!("https://pay.demo.invalid/12123?decision={decision}"),
            decision,
            plate: plate.clone(),
            violations: violations.to_vec(),
            fines,
            surcharge,
            fee: SERVICE_FEE,
            total: Fen(fines.0 + surcharge.0 + SERVICE_FEE.0),
            points,
            handled_at: now,
            pay_by: window.deadline,
        };
        let index = self.handlings.len();
        self.handlings.push(DemoHandling {
            view: view.clone(),
            user: id.clone(),
            state: HandlingState::HandledUnpaid,
            key: key.to_string(),
        });
        for v in &mut self.violations {
            if violations.contains(&v.view.facts.id) && v.plate == *plate {
                v.state = ViolationState::Handled(index);
            }
        }
        if let Some(p) = self.persons.iter_mut().find(|p| p.id == *id) {
            p.pending_points += points;
        }
        Ok(view)
    }

    fn pay(&mut self, decision: &str, now: Timestamp) -> Result<PaymentView, PayError> {
        self.sweep_reverts(now);
        let Some(h) = self
            .handlings
            .iter_mut()
            .find(|h| h.view.decision == decision)
        else {
            return Err(BackendError::NotFound.into());
        };
        let window = PaymentWindow {
            handled_at: h.view.handled_at,
            deadline: h.view.pay_by,
        };
        check_payment(h.state, window, now)?;
        h.state = HandlingState::Paid;
        self.seq += 1;
        let payment = PaymentView {
            decision: decision.to_string(),
            amount: h.view.total,
            paid_at: now,
            reference: format!("PAY{:010}", self.seq),
        };
        self.payments.push(payment.clone());
        Ok(payment)
    }

    fn filings(&mut self, id: &IdNumber, _now: Timestamp) -> Result<Vec<FilingView>, BackendError> {
        self.person_of(id)?;
        Ok(self
            .filings
            .iter()
            .filter(|f| f.active && f.user == *id)
            .map(|f| f.view.clone())
            .collect())
    }

    fn check_filing_qr(
        &mut self,
        id: &IdNumber,
        token: &str,
        now: Timestamp,
    ) -> Result<FilingCandidate, FilingError> {
        let parts: Vec<&str> = token.split('|').collect();
        let [tag, plate_s, exp, sig] = parts[..] else {
            return Err(FilingError::TokenInvalid);
        };
        if tag != "VQR1" || mac(&format!("{tag}|{plate_s}|{exp}")) != sig {
            return Err(FilingError::TokenInvalid);
        }
        let expires = exp
            .parse::<i64>()
            .ok()
            .and_then(|s| Timestamp::from_second(s).ok())
            .ok_or(FilingError::TokenInvalid)?;
        if now >= expires {
            return Err(FilingError::TokenExpired);
        }
        let plate = Plate::parse(plate_s).map_err(|_| FilingError::TokenInvalid)?;
        self.candidate(id, &plate, FilingMethod::OwnerQr)
    }

    fn request_owner_code(
        &mut self,
        id: &IdNumber,
        plate: &Plate,
        now: Timestamp,
    ) -> Result<SmsSent, FilingError> {
        let v = self.vehicle_of(plate)?.clone();
        let method = match v.owner {
            Owner::Person(_) => FilingMethod::OwnerSms,
            Owner::Unit { .. } => FilingMethod::UnitManagerSms,
        };
        self.candidate(id, plate, method)?;
        let mut sent = self.send_code("filing", &v.owner_phone, now);
        sent.to_unit_manager = method == FilingMethod::UnitManagerSms;
        Ok(sent)
    }

    fn check_owner_code(
        &mut self,
        id: &IdNumber,
        plate: &Plate,
        code: &str,
        _now: Timestamp,
    ) -> Result<FilingCandidate, FilingError> {
        let v = self.vehicle_of(plate)?.clone();
        if !self.take_code("filing", &v.owner_phone, code) {
            return Err(BackendError::WrongCode.into());
        }
        let method = match v.owner {
            Owner::Person(_) => FilingMethod::OwnerSms,
            Owner::Unit { .. } => FilingMethod::UnitManagerSms,
        };
        self.candidate(id, plate, method)
    }

    fn submit_filing(
        &mut self,
        id: &IdNumber,
        candidate: &FilingCandidate,
        now: Timestamp,
    ) -> Result<FilingView, FilingError> {
        self.candidate(id, &candidate.plate, candidate.method)?;
        self.seq += 1;
        let view = FilingView {
            id: format!("F{:04}", 100 + self.seq),
            plate: candidate.plate.clone(),
            method: candidate.method,
            status: FilingStatus::PendingReview,
            filed_at: now,
        };
        self.filings.push(DemoFiling {
            view: view.clone(),
            user: id.clone(),
            active: true,
        });
        Ok(view)
    }

    fn unfile(&mut self, id: &IdNumber, filing: &str, _now: Timestamp) -> Result<(), BackendError> {
        let f = self
            .filings
            .iter_mut()
            .find(|f| f.active && f.user == *id && f.view.id == filing)
            .ok_or(BackendError::NotFound)?;
        f.active = false;
        Ok(())
    }

    fn request_register_code(
        &mut self,
        id: &IdNumber,
        phone: &str,
        now: Timestamp,
    ) -> Result<SmsSent, BackendError> {
        self.person_of(id)?;
        Ok(self.send_code("register", phone, now))
    }

    fn register(
        &mut self,
        id: &IdNumber,
        phone: &str,
        code: &str,
        _now: Timestamp,
    ) -> Result<(), BackendError> {
        self.person_of(id)?;
        if !self.take_code("register", phone, code) {
            return Err(BackendError::WrongCode);
        }
        self.registrations.insert(id.clone(), phone.to_string());
        Ok(())
    }

    fn feedback(
        &mut self,
        _id: Option<&IdNumber>,
        topic: FeedbackTopic,
        _now: Timestamp,
    ) -> Result<(), BackendError> {
        self.feedback.push(topic);
        Ok(())
    }
}

/// Printed receipts, shared with the simulator panel (text for now).
pub type PrintedReceipts = Arc<Mutex<Vec<String>>>;

/// The simulated printer: keeps what it printed; paper can be made to run out.
#[derive(Debug, Default)]
pub struct DemoPeripherals {
    printed: PrintedReceipts,
    /// Set by the simulator to test the out-of-paper path.
    pub out_of_paper: Arc<Mutex<bool>>,
}

impl DemoPeripherals {
    pub fn printed(&self) -> PrintedReceipts {
        self.printed.clone()
    }
}

impl Peripherals for DemoPeripherals {
    fn print(&mut self, receipt: &ReceiptDocument) -> PrintOutcome {
        if self.out_of_paper.lock().map(|g| *g).unwrap_or(false) {
            return PrintOutcome::OutOfPaper;
        }
        if let Ok(mut p) = self.printed.lock() {
            p.push(receipt.to_text());
        }
        PrintOutcome::Printed
    }

    fn health(&mut self) -> DeviceHealth {
        let out = self.out_of_paper.lock().map(|g| *g).unwrap_or(false);
        DeviceHealth {
            reader: Ok(()),
            scanner: Ok(()),
            printer: Ok(()),
            paper: if out {
                PaperStatus::Out
            } else {
                PaperStatus::Ok
            },
        }
    }
}

/// The demo face verifier: always matches (the screen says it is a demo) unless told otherwise.
#[derive(Debug, Default)]
pub struct DemoFaceVerifier {
    /// Set by the simulator to make the next verification fail.
    pub fail_next: Arc<Mutex<bool>>,
}

impl FaceVerifier for DemoFaceVerifier {
    fn is_demo(&self) -> bool {
        true
    }
    fn verify(&mut self, _id: &IdNumber) -> FaceOutcome {
        let mut fail = self.fail_next.lock().map(|g| *g).unwrap_or(false);
        if fail && let Ok(mut g) = self.fail_next.lock() {
            *g = false;
            fail = true;
        }
        if fail {
            FaceOutcome::NoMatch
        } else {
            FaceOutcome::Match
        }
    }
}

/// Every text of the demo data a screen may show (for the font-coverage test).
pub fn all_demo_texts() -> Vec<String> {
    let b = DemoBackend::new(Timestamp::UNIX_EPOCH, 120);
    let mut out: Vec<String> = DEMO_IDS.iter().map(|(n, _)| n.to_string()).collect();
    for v in &b.violations {
        out.extend([
            v.view.behaviour.clone(),
            v.view.place.clone(),
            v.view.authority.clone(),
            v.view.authority_address.clone(),
            v.plate.to_string(),
        ]);
    }
    for v in &b.vehicles {
        if let Owner::Unit { name } = &v.owner {
            out.push(name.clone());
        }
    }
    out.push(demo_card(0).address.expose().clone());
    out.push(demo_card(0).authority.clone());
    for m in b.outbox.lock().iter().flat_map(|o| o.iter()) {
        out.push(m.text.clone());
    }
    out.push(DemoBackend::sms_text("register", "000000"));
    out.push(DemoBackend::sms_text("filing", "000000"));
    out
}
