//! Section 四 (with 六.7): may this person handle these violations at the kiosk by themselves?
//!
//! [`decide`] takes plain facts and returns one [`Eligibility`] per violation, in the order given,
//! each listing **every** failing [`Reason`] with its clause. A batch is decided in order: each
//! eligible violation adds its points to the running total before the next one is decided.

use jiff::Timestamp;

use super::{Clause, FULL_POINTS, Policy, maintenance};
use crate::domain::{Fen, LicenceStatus, Plate, PlateType, StatusSet, VehicleStatus, VehicleUse};

/// How the person is related to the vehicle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Relation {
    /// 本人名下 (三.1).
    Own,
    /// 备案他人名下机动车 (三.2): filed, approved at `filed_at`.
    Filed { filed_at: Timestamp },
    /// 备案单位名下小型非营运机动车 (三.3).
    UnitFiled { filed_at: Timestamp },
    /// 承租驾驶人 (四.4): the rental contract names the person.
    RentalRenter { rental: RentalPeriod },
    /// 备案的临时驾驶人 (四.4).
    RentalTempDriver {
        filed_at: Timestamp,
        rental: RentalPeriod,
    },
    /// No relation the seed recognises.
    None,
}

impl Relation {
    pub fn is_rental(&self) -> bool {
        matches!(
            self,
            Relation::RentalRenter { .. } | Relation::RentalTempDriver { .. }
        )
    }
    /// For a relation code, whether it needs a filing time and a rental period (None: unknown code).
    pub fn needs(code: &str) -> Option<(bool, bool)> {
        Some(match code {
            "own" | "none" => (false, false),
            "filed" | "unit_filed" => (true, false),
            "rental_renter" => (false, true),
            "rental_temp_driver" => (true, true),
            _ => return None,
        })
    }

    /// Build a relation from its code and the parts [`Relation::needs`] asks for; None when the
    /// code is unknown or a needed part is missing.
    pub fn build(
        code: &str,
        filed_at: Option<Timestamp>,
        rental: Option<RentalPeriod>,
    ) -> Option<Relation> {
        Some(match code {
            "own" => Relation::Own,
            "none" => Relation::None,
            "filed" => Relation::Filed {
                filed_at: filed_at?,
            },
            "unit_filed" => Relation::UnitFiled {
                filed_at: filed_at?,
            },
            "rental_renter" => Relation::RentalRenter { rental: rental? },
            "rental_temp_driver" => Relation::RentalTempDriver {
                filed_at: filed_at?,
                rental: rental?,
            },
            _ => return None,
        })
    }

    pub fn code(&self) -> &'static str {
        match self {
            Relation::Own => "own",
            Relation::Filed { .. } => "filed",
            Relation::UnitFiled { .. } => "unit_filed",
            Relation::RentalRenter { .. } => "rental_renter",
            Relation::RentalTempDriver { .. } => "rental_temp_driver",
            Relation::None => "none",
        }
    }
}

/// A rental contract's period, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RentalPeriod {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Who recorded the violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RecordedBy {
    /// 交通技术监控设备.
    Camera,
    /// 民警现场.
    Officer,
}

impl RecordedBy {
    /// `camera` or `officer`, as contracts and the store write it.
    pub fn code(self) -> &'static str {
        match self {
            RecordedBy::Camera => "camera",
            RecordedBy::Officer => "officer",
        }
    }
    pub fn from_code(code: &str) -> Option<Self> {
        [RecordedBy::Camera, RecordedBy::Officer]
            .into_iter()
            .find(|r| r.code() == code)
    }
}

/// The penalty kind (处罚种类).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Penalty {
    Warning,
    Fine,
    /// Suspension, detention, … — never simple procedure.
    Other,
}

impl Penalty {
    /// `warning`, `fine` or `other`, as contracts and the store write it.
    pub fn code(self) -> &'static str {
        match self {
            Penalty::Warning => "warning",
            Penalty::Fine => "fine",
            Penalty::Other => "other",
        }
    }
    pub fn from_code(code: &str) -> Option<Self> {
        [Penalty::Warning, Penalty::Fine, Penalty::Other]
            .into_iter()
            .find(|p| p.code() == code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverFacts {
    pub has_license: bool,
    pub license_status: StatusSet<LicenceStatus>,
    /// Points recorded in the current scoring cycle (the platform's copy).
    pub cycle_points: u32,
    /// Points of handlings not yet confirmed back from the police network (六.3, 七.2).
    pub pending_points: u32,
    pub full_12_count_in_cycle: u32,
}

impl DriverFacts {
    /// A person who holds no driving licence: no status, no points.
    pub fn without_licence() -> Self {
        DriverFacts {
            has_license: false,
            license_status: StatusSet::default(),
            cycle_points: 0,
            pending_points: 0,
            full_12_count_in_cycle: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VehicleFacts {
    pub plate: Plate,
    pub plate_type: PlateType,
    pub use_: VehicleUse,
    pub status: StatusSet<VehicleStatus>,
    pub relation: Relation,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ViolationFacts {
    pub id: String,
    pub occurred_at: Timestamp,
    pub recorded_by: RecordedBy,
    pub penalty: Penalty,
    pub fine: Fen,
    pub points: u32,
    /// Province abbreviation where it happened.
    pub province: char,
    pub province_online: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibilityRequest {
    pub now: Timestamp,
    pub policy: Policy,
    pub driver: DriverFacts,
    pub vehicle: VehicleFacts,
    pub violations: Vec<ViolationFacts>,
}

/// Why a violation cannot be handled here. Codes are stable (rules.md).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Reason {
    MaintenanceWindow,
    VehicleNotRelated,
    VehicleTypeNotAllowed,
    VehicleOperatingUse,
    VehicleStatusBlocked,
    UnitVehicleNotAllowed,
    NotCameraRecorded,
    PenaltyNotSimple,
    FineOverLimit,
    PointsOver6,
    ProvinceNotOnline,
    BeforeFiling,
    OutsideRentalPeriod,
    NoLicense,
    LicenseStatusBlocked,
    Full12ThreeTimes,
    PointsWouldReach12,
}

impl Reason {
    pub const ALL: [Reason; 17] = [
        Reason::MaintenanceWindow,
        Reason::VehicleNotRelated,
        Reason::VehicleTypeNotAllowed,
        Reason::VehicleOperatingUse,
        Reason::VehicleStatusBlocked,
        Reason::UnitVehicleNotAllowed,
        Reason::NotCameraRecorded,
        Reason::PenaltyNotSimple,
        Reason::FineOverLimit,
        Reason::PointsOver6,
        Reason::ProvinceNotOnline,
        Reason::BeforeFiling,
        Reason::OutsideRentalPeriod,
        Reason::NoLicense,
        Reason::LicenseStatusBlocked,
        Reason::Full12ThreeTimes,
        Reason::PointsWouldReach12,
    ];

    /// The stable reason code of the contract.
    pub fn code(self) -> &'static str {
        match self {
            Reason::MaintenanceWindow => "maintenance_window",
            Reason::VehicleNotRelated => "vehicle_not_related",
            Reason::VehicleTypeNotAllowed => "vehicle_type_not_allowed",
            Reason::VehicleOperatingUse => "vehicle_operating_use",
            Reason::VehicleStatusBlocked => "vehicle_status_blocked",
            Reason::UnitVehicleNotAllowed => "unit_vehicle_not_allowed",
            Reason::NotCameraRecorded => "not_camera_recorded",
            Reason::PenaltyNotSimple => "penalty_not_simple",
            Reason::FineOverLimit => "fine_over_limit",
            Reason::PointsOver6 => "points_over_6",
            Reason::ProvinceNotOnline => "province_not_online",
            Reason::BeforeFiling => "before_filing",
            Reason::OutsideRentalPeriod => "outside_rental_period",
            Reason::NoLicense => "no_license",
            Reason::LicenseStatusBlocked => "license_status_blocked",
            Reason::Full12ThreeTimes => "full_12_three_times",
            Reason::PointsWouldReach12 => "points_would_reach_12",
        }
    }

    /// The clauses of the seed that produce this reason.
    pub fn clauses(self) -> &'static [Clause] {
        use Clause::*;
        match self {
            Reason::MaintenanceWindow => &[Seed("六.7")],
            Reason::VehicleNotRelated => &[Seed("四.1"), Seed("四.2"), Seed("四.4")],
            Reason::VehicleTypeNotAllowed | Reason::VehicleOperatingUse => {
                &[Seed("四.1"), Seed("四.4")]
            }
            Reason::VehicleStatusBlocked
            | Reason::NotCameraRecorded
            | Reason::PenaltyNotSimple
            | Reason::FineOverLimit
            | Reason::PointsOver6
            | Reason::ProvinceNotOnline => &[Seed("四.1")],
            Reason::UnitVehicleNotAllowed => &[Seed("四.1 备注")],
            Reason::BeforeFiling => &[Seed("四.2")],
            Reason::OutsideRentalPeriod => &[Seed("四.4")],
            Reason::NoLicense => &[BeyondSeed("道路交通安全法 art. 19; 记分管理办法 art. 3")],
            Reason::LicenseStatusBlocked
            | Reason::Full12ThreeTimes
            | Reason::PointsWouldReach12 => &[Seed("四.3")],
        }
    }

    /// What the person is told, in Chinese.
    pub fn message_zh(self) -> &'static str {
        match self {
            Reason::MaintenanceWindow => "每天22时至次日1时银行对账维护，此时段不能处理交通违法",
            Reason::VehicleNotRelated => "该车不是您名下的车辆，也未由您备案或租赁",
            Reason::VehicleTypeNotAllowed => {
                "只能自助处理小型汽车（含小型新能源汽车）的交通违法；疫情防控期间本人及备案车辆还可处理大中型汽车和摩托车，租赁车辆仅限小型汽车"
            }
            Reason::VehicleOperatingUse => {
                "只能自助处理非营运车辆的交通违法（租赁车辆可为非营运或租赁性质）"
            }
            Reason::VehicleStatusBlocked => "车辆处于转出、被盗抢、注销或报废等状态",
            Reason::UnitVehicleNotAllowed => "单位名下车辆仅在疫情防控便民措施期间可自助处理",
            Reason::NotCameraRecorded => "只能自助处理交通技术监控设备记录的交通违法",
            Reason::PenaltyNotSimple => "处罚种类不是警告或罚款，不适用简易程序",
            Reason::FineOverLimit => "罚款超过200元",
            Reason::PointsOver6 => "记分超过6分",
            Reason::ProvinceNotOnline => "违法发生地省份尚未开通互联网服务平台",
            Reason::BeforeFiling => "该违法发生在备案之前且有记分，只能处理备案后新发生的违法",
            Reason::OutsideRentalPeriod => "该违法不在租赁合同的承租期间内",
            Reason::NoLicense => "您没有驾驶证，不能处理有记分的违法或他人车辆的违法",
            Reason::LicenseStatusBlocked => {
                "驾驶证状态异常（如逾期未审验、暂扣、吊销、记满12分等）"
            }
            Reason::Full12ThreeTimes => "一个记分周期内已3次及以上记满12分",
            Reason::PointsWouldReach12 => "本次处理后累积记分将达到12分及以上",
        }
    }

    /// What the person is told, in English.
    pub fn message_en(self) -> &'static str {
        match self {
            Reason::MaintenanceWindow => {
                "From 22:00 to 01:00 the bank reconciles; violations cannot be handled now"
            }
            Reason::VehicleNotRelated => "This vehicle is not yours, nor filed or rented by you",
            Reason::VehicleTypeNotAllowed => {
                "Only small cars (including small new-energy cars) can be handled here; under epidemic relief also large cars and motorcycles that are yours or filed by you, rented vehicles small cars only"
            }
            Reason::VehicleOperatingUse => {
                "Only non-operating vehicles can be handled here (a rented vehicle may be non-operating or rental)"
            }
            Reason::VehicleStatusBlocked => {
                "The vehicle is transferred out, stolen, deregistered or scrapped"
            }
            Reason::UnitVehicleNotAllowed => {
                "A unit's vehicle can be handled only while epidemic relief is in force"
            }
            Reason::NotCameraRecorded => {
                "Only violations recorded by traffic cameras can be handled here"
            }
            Reason::PenaltyNotSimple => "The penalty is neither a warning nor a fine",
            Reason::FineOverLimit => "The fine is over 200 yuan",
            Reason::PointsOver6 => "More than 6 points",
            Reason::ProvinceNotOnline => {
                "The province where it happened is not on the online platform"
            }
            Reason::BeforeFiling => "It happened before you filed the vehicle and carries points",
            Reason::OutsideRentalPeriod => "It happened outside your rental period",
            Reason::NoLicense => {
                "Without a driving licence you cannot handle violations with points or on others' vehicles"
            }
            Reason::LicenseStatusBlocked => {
                "Your licence's status does not allow self-service (overdue, suspended, revoked, 12 points, …)"
            }
            Reason::Full12ThreeTimes => {
                "Your licence reached 12 points 3 or more times in this cycle"
            }
            Reason::PointsWouldReach12 => "After handling, your points would reach 12 or more",
        }
    }
}

/// The decision for one violation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Eligibility {
    pub violation: String,
    /// Every failing reason, in the order of rules.md's table; empty means eligible.
    pub reasons: Vec<Reason>,
    /// Cycle + pending + points taken in this request, after this violation when eligible.
    pub points_after: u32,
    /// The clauses behind an eligible decision (the relation's clauses with 四.1, 四.3 and 六.7).
    #[serde(with = "relation_clauses_wire")]
    pub relation_clauses: &'static [Clause],
}

impl Eligibility {
    pub fn eligible(&self) -> bool {
        self.reasons.is_empty()
    }

    /// The clauses of this decision: every failing reason's, or what made it eligible.
    pub fn clauses(&self) -> Vec<Clause> {
        let mut out: Vec<Clause> = Vec::new();
        let src: Vec<Clause> = if self.reasons.is_empty() {
            self.relation_clauses.to_vec()
        } else {
            self.reasons
                .iter()
                .flat_map(|r| r.clauses().iter().copied())
                .collect()
        };
        for c in src {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    fn clause_list(&self) -> String {
        self.clauses()
            .iter()
            .map(|c| c.code())
            .collect::<Vec<_>>()
            .join("、")
    }

    /// The explanation shown to the person, in Chinese, naming the clauses.
    pub fn message_zh(&self) -> String {
        if self.eligible() {
            return format!(
                "可以自助处理：处理后累积记分{}/12分（{}）",
                self.points_after,
                self.clause_list()
            );
        }
        let parts: Vec<String> = self
            .reasons
            .iter()
            .map(|r| {
                let cl: Vec<&str> = r.clauses().iter().map(|c| c.code()).collect();
                format!("{}（{}）", r.message_zh(), cl.join("、"))
            })
            .collect();
        format!("不能自助处理：{}", parts.join("；"))
    }

    /// The explanation in English.
    pub fn message_en(&self) -> String {
        if self.eligible() {
            return format!(
                "Can be handled here: {}/12 points after handling ({})",
                self.points_after,
                self.clause_list()
            );
        }
        let parts: Vec<String> = self
            .reasons
            .iter()
            .map(|r| {
                let cl: Vec<&str> = r.clauses().iter().map(|c| c.code()).collect();
                format!("{} ({})", r.message_en(), cl.join(", "))
            })
            .collect();
        format!("Cannot be handled here: {}", parts.join("; "))
    }
}

/// Licence statuses that block self-service (四.3).
pub const BLOCKED_LICENCE_CODES: &[&str] = &[
    "S", "M", "C", "J", "L", "K", "U", "D", "F", "E", "G", "R", "B",
];
/// Vehicle statuses that block self-service (四.1).
pub const BLOCKED_VEHICLE_CODES: &[&str] = &["B", "C", "E", "M", "P"];
/// Plate types always allowed: small car, small new-energy car (四.1).
pub const SMALL_CAR_PLATE_TYPES: &[&str] = &["02", "52"];
/// Plate types allowed in addition under epidemic relief: large/medium, motorcycles (四.1 备注).
pub const RELIEF_PLATE_TYPES: &[&str] = &["01", "51", "07", "08"];
/// The simple-procedure fine limit (四.1), in yuan, inclusive.
pub const FINE_LIMIT: Fen = Fen(200_00);
/// The simple-procedure points limit (四.1), inclusive.
pub const POINTS_LIMIT: u32 = 6;

/// Uses accepted for a rental relation: non-operating or rental (四.4 sets no condition on use).
pub const RENTAL_USES: &[&str] = &["A", "G"];

/// 四.1, 四.4 (`vehicle_type_not_allowed`): small cars always; under epidemic relief also large
/// cars and motorcycles, but only for the person's own, filed and unit-filed vehicles — the 备注
/// widens 四.1 for filed non-operating vehicles, while 四.4 covers rented small cars only.
pub fn plate_type_allowed(plate_type: &str, relation: &Relation, relief: bool) -> bool {
    let relief_applies = matches!(
        relation,
        Relation::Own | Relation::Filed { .. } | Relation::UnitFiled { .. }
    );
    SMALL_CAR_PLATE_TYPES.contains(&plate_type)
        || relief && relief_applies && RELIEF_PLATE_TYPES.contains(&plate_type)
}

/// 四.1, 四.4 (`vehicle_operating_use`): non-operating (`A`); a rental relation also accepts
/// rental use (`G`).
pub fn use_allowed(use_code: &str, relation: &Relation) -> bool {
    if relation.is_rental() {
        RENTAL_USES.contains(&use_code)
    } else {
        use_code == "A"
    }
}

/// Reasons that do not depend on the other violations of the request.
fn own_reasons(req: &EligibilityRequest, v: &ViolationFacts) -> Vec<Reason> {
    let relief = req.policy.epidemic_relief;
    let d = &req.driver;
    let veh = &req.vehicle;
    let mut r = Vec::new();

    if maintenance::in_maintenance_window(req.now) {
        r.push(Reason::MaintenanceWindow);
    }
    if veh.relation == Relation::None {
        r.push(Reason::VehicleNotRelated);
    }
    if !plate_type_allowed(veh.plate_type.code(), &veh.relation, relief) {
        r.push(Reason::VehicleTypeNotAllowed);
    }
    if !use_allowed(veh.use_.code(), &veh.relation) {
        r.push(Reason::VehicleOperatingUse);
    }
    if veh
        .status
        .iter()
        .any(|s| BLOCKED_VEHICLE_CODES.contains(&s.code()))
    {
        r.push(Reason::VehicleStatusBlocked);
    }
    if matches!(veh.relation, Relation::UnitFiled { .. }) && !relief {
        r.push(Reason::UnitVehicleNotAllowed);
    }
    if v.recorded_by != RecordedBy::Camera {
        r.push(Reason::NotCameraRecorded);
    }
    if v.penalty == Penalty::Other {
        r.push(Reason::PenaltyNotSimple);
    }
    if v.fine > FINE_LIMIT {
        r.push(Reason::FineOverLimit);
    }
    if v.points > POINTS_LIMIT {
        r.push(Reason::PointsOver6);
    }
    if !v.province_online {
        r.push(Reason::ProvinceNotOnline);
    }
    match veh.relation {
        Relation::Filed { filed_at } | Relation::UnitFiled { filed_at }
            if v.points > 0 && v.occurred_at < filed_at && !relief =>
        {
            r.push(Reason::BeforeFiling)
        }
        _ => {}
    }
    match veh.relation {
        Relation::RentalRenter { rental } | Relation::RentalTempDriver { rental, .. }
            if v.occurred_at < rental.start || v.occurred_at > rental.end =>
        {
            r.push(Reason::OutsideRentalPeriod)
        }
        _ => {}
    }
    if !d.has_license && (v.points > 0 || veh.relation != Relation::Own) {
        r.push(Reason::NoLicense);
    }
    if d.license_status
        .iter()
        .any(|s| BLOCKED_LICENCE_CODES.contains(&s.code()))
    {
        r.push(Reason::LicenseStatusBlocked);
    }
    if d.full_12_count_in_cycle >= 3 {
        r.push(Reason::Full12ThreeTimes);
    }
    r
}

/// The relation clauses travel as their codes and come back as the rule core's own lists.
mod relation_clauses_wire {
    use super::{Clause, Relation, relation_clauses};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(c: &&'static [Clause], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(c.iter().map(|c| c.code()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static [Clause], D::Error> {
        let codes = Vec::<String>::deserialize(d)?;
        let t = jiff::Timestamp::UNIX_EPOCH;
        let rental = super::RentalPeriod { start: t, end: t };
        [
            Relation::Own,
            Relation::Filed { filed_at: t },
            Relation::RentalRenter { rental },
        ]
        .iter()
        .map(relation_clauses)
        .find(|list| {
            list.iter()
                .map(|c| c.code())
                .eq(codes.iter().map(String::as_str))
        })
        .ok_or_else(|| serde::de::Error::custom(format!("unknown relation clauses {codes:?}")))
    }
}

fn relation_clauses(rel: &Relation) -> &'static [Clause] {
    use Clause::Seed;
    match rel {
        Relation::Own | Relation::None => &[Seed("四.1"), Seed("四.3"), Seed("六.7")],
        Relation::Filed { .. } | Relation::UnitFiled { .. } => {
            &[Seed("四.1"), Seed("四.2"), Seed("四.3"), Seed("六.7")]
        }
        Relation::RentalRenter { .. } | Relation::RentalTempDriver { .. } => {
            &[Seed("四.1"), Seed("四.3"), Seed("四.4"), Seed("六.7")]
        }
    }
}

/// Decide every violation of the request, in order (四.1–四.4, 六.7).
pub fn decide(req: &EligibilityRequest) -> Vec<Eligibility> {
    let base = u64::from(req.driver.cycle_points) + u64::from(req.driver.pending_points);
    let mut taken: u64 = 0;
    req.violations
        .iter()
        .map(|v| {
            let mut reasons = own_reasons(req, v);
            let after = base + taken + u64::from(v.points);
            if after >= u64::from(FULL_POINTS) {
                reasons.push(Reason::PointsWouldReach12);
            }
            if reasons.is_empty() {
                taken += u64::from(v.points);
            }
            Eligibility {
                violation: v.id.clone(),
                reasons,
                points_after: u32::try_from(base + taken).unwrap_or(u32::MAX),
                relation_clauses: relation_clauses(&req.vehicle.relation),
            }
        })
        .collect()
}

/// Decide each violation as if it were the only one selected (the list screen shows these;
/// handling re-decides the actual selection in order with [`decide`]).
pub fn decide_each_alone(req: &EligibilityRequest) -> Vec<Eligibility> {
    req.violations
        .iter()
        .flat_map(|v| {
            decide(&EligibilityRequest {
                violations: vec![v.clone()],
                ..req.clone()
            })
        })
        .collect()
}
