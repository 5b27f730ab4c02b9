//! Section 三: filing another person's (or a unit's) vehicle, and its limits.
//!
//! The limits count filings pending review as well as approved ones, so two kiosks cannot each
//! approve a 3rd filing at the same moment; un-filing frees a slot at once.

use super::Clause;

/// 三.2: at most this many other people's vehicles filed by one user.
pub const MAX_FILINGS_PER_USER: u32 = 3;
/// 三.2: at most this many filed drivers per vehicle, the owner not counted.
pub const MAX_DRIVERS_PER_VEHICLE: u32 = 3;

/// How the owner's consent is proved (三.2, 三.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FilingMethod {
    /// 扫码备案: the owner's vehicle QR code.
    OwnerQr,
    /// 短信验证备案: a code sent to the owner's phone.
    OwnerSms,
    /// A unit's vehicle: a code sent to the manager phone the unit registered (三.3).
    UnitManagerSms,
}

/// The owner of the vehicle to be filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OwnerKind {
    Person,
    Unit,
}

/// What the store counted inside its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FilingCounts {
    /// Other people's vehicles this user has filed (pending review + approved).
    pub user_active_filings: u32,
    /// Drivers other than the owner filed on this vehicle (pending review + approved).
    pub vehicle_active_drivers: u32,
    /// This user already has an active filing of this vehicle.
    pub already_filed_by_user: bool,
    /// The user owns the vehicle.
    pub user_is_owner: bool,
}

/// Why a filing is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FilingRefusal {
    #[error("您已备案3辆他人名下机动车，需先解除一辆才能新增（三.2）")]
    UserLimitReached,
    #[error("该车已有3名其他驾驶人备案，需车主解除一名后才能新增（三.2）")]
    VehicleLimitReached,
    #[error("您已备案该车，无需重复备案（三.2）")]
    AlreadyFiled,
    #[error("本人名下机动车已自动关联，无需备案（三.1）")]
    OwnVehicle,
    #[error("单位名下车辆须通过短信验证码发送至管理人手机备案（三.3）")]
    UnitNeedsManagerSms,
    #[error("个人名下车辆须扫描车主二维码或由车主接收短信验证码（三.2）")]
    PersonNeedsOwnerConsent,
    #[error("单位名下车辆只能备案小型非营运汽车（三.3）")]
    UnitVehicleNotSmallNonOperating,
    #[error("单位名下车辆仅在疫情防控便民措施期间可以备案（三.3）")]
    UnitFilingNeedsRelief,
}

impl FilingRefusal {
    pub fn clause(self) -> Clause {
        match self {
            FilingRefusal::OwnVehicle => Clause::Seed("三.1"),
            FilingRefusal::UnitNeedsManagerSms
            | FilingRefusal::UnitVehicleNotSmallNonOperating
            | FilingRefusal::UnitFilingNeedsRelief => Clause::Seed("三.3"),
            _ => Clause::Seed("三.2"),
        }
    }
    pub fn message_en(self) -> &'static str {
        match self {
            FilingRefusal::UserLimitReached => {
                "You already have 3 other people's vehicles filed; un-file one first (三.2)"
            }
            FilingRefusal::VehicleLimitReached => {
                "This vehicle already has 3 filed drivers; the owner must un-file one first (三.2)"
            }
            FilingRefusal::AlreadyFiled => "You have already filed this vehicle (三.2)",
            FilingRefusal::OwnVehicle => "Your own vehicles are linked automatically (三.1)",
            FilingRefusal::UnitNeedsManagerSms => {
                "A unit's vehicle is filed by an SMS code sent to its manager (三.3)"
            }
            FilingRefusal::PersonNeedsOwnerConsent => {
                "A person's vehicle is filed by the owner's QR code or an SMS code to the owner (三.2)"
            }
            FilingRefusal::UnitVehicleNotSmallNonOperating => {
                "Of a unit's vehicles only a small non-operating car can be filed (三.3)"
            }
            FilingRefusal::UnitFilingNeedsRelief => {
                "A unit's vehicle can be filed only while epidemic relief is in force (三.3)"
            }
        }
    }
}

/// Plate types of a unit's vehicle that may be filed: small car, small new-energy car (三.3).
pub const UNIT_FILING_PLATE_TYPES: &[&str] = &["02", "52"];

/// 三.3 with the 四.1 备注: may a vehicle of this owner, plate type and use be filed at all, with
/// the relief policy in force at this moment? A person's vehicle always may (its limits are
/// [`check_new_filing`]'s). A unit's vehicle only when it is a small car (`02`, `52`) with use `A`
/// and only while epidemic relief is in force — unit filing is one of the things relief newly
/// allows. Decided before any SMS code is sent to the unit's manager.
pub fn check_filable_vehicle(
    owner: OwnerKind,
    plate_type: &str,
    use_code: &str,
    epidemic_relief: bool,
) -> Result<(), FilingRefusal> {
    if owner == OwnerKind::Person {
        return Ok(());
    }
    if !UNIT_FILING_PLATE_TYPES.contains(&plate_type) || use_code != "A" {
        return Err(FilingRefusal::UnitVehicleNotSmallNonOperating);
    }
    if !epidemic_relief {
        return Err(FilingRefusal::UnitFilingNeedsRelief);
    }
    Ok(())
}

/// May this user file this vehicle now, as far as the limits go? Checked inside the store's
/// transaction, after [`check_filable_vehicle`].
pub fn check_new_filing(
    counts: FilingCounts,
    owner: OwnerKind,
    method: FilingMethod,
) -> Result<(), FilingRefusal> {
    if counts.user_is_owner {
        return Err(FilingRefusal::OwnVehicle);
    }
    match (owner, method) {
        (OwnerKind::Unit, FilingMethod::UnitManagerSms) => {}
        (OwnerKind::Unit, _) => return Err(FilingRefusal::UnitNeedsManagerSms),
        (OwnerKind::Person, FilingMethod::UnitManagerSms) => {
            return Err(FilingRefusal::PersonNeedsOwnerConsent);
        }
        (OwnerKind::Person, _) => {}
    }
    if counts.already_filed_by_user {
        return Err(FilingRefusal::AlreadyFiled);
    }
    if counts.user_active_filings >= MAX_FILINGS_PER_USER {
        return Err(FilingRefusal::UserLimitReached);
    }
    if counts.vehicle_active_drivers >= MAX_DRIVERS_PER_VEHICLE {
        return Err(FilingRefusal::VehicleLimitReached);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(user: u32, vehicle: u32) -> FilingCounts {
        FilingCounts {
            user_active_filings: user,
            vehicle_active_drivers: vehicle,
            already_filed_by_user: false,
            user_is_owner: false,
        }
    }

    #[test]
    fn clause_3_2_three_per_user_and_three_per_vehicle() {
        let table = [
            (0, 0, Ok(())),
            (2, 2, Ok(())),
            (3, 0, Err(FilingRefusal::UserLimitReached)),
            (0, 3, Err(FilingRefusal::VehicleLimitReached)),
            (3, 3, Err(FilingRefusal::UserLimitReached)),
        ];
        for (u, v, want) in table {
            assert_eq!(
                check_new_filing(counts(u, v), OwnerKind::Person, FilingMethod::OwnerQr),
                want,
                "user {u} vehicle {v}"
            );
        }
    }

    #[test]
    fn clause_3_1_own_vehicle_needs_no_filing() {
        let mut c = counts(0, 0);
        c.user_is_owner = true;
        assert_eq!(
            check_new_filing(c, OwnerKind::Person, FilingMethod::OwnerSms),
            Err(FilingRefusal::OwnVehicle)
        );
    }

    /// 三.3 (rules.md, corrected): a unit's vehicle only if a small car with use A, only under
    /// relief; a person's vehicle whatever its type (its violations are decided by 四.1).
    #[test]
    fn clause_3_3_unit_filing_only_small_non_operating_under_relief() {
        use FilingRefusal::*;
        // Owner, plate type, use, relief in force: the verdict.
        type Case = (
            OwnerKind,
            &'static str,
            &'static str,
            bool,
            Result<(), FilingRefusal>,
        );
        let table: [Case; 10] = [
            (OwnerKind::Unit, "02", "A", true, Ok(())),
            (OwnerKind::Unit, "52", "A", true, Ok(())),
            (
                OwnerKind::Unit,
                "02",
                "A",
                false,
                Err(UnitFilingNeedsRelief),
            ),
            (
                OwnerKind::Unit,
                "52",
                "A",
                false,
                Err(UnitFilingNeedsRelief),
            ),
            (
                OwnerKind::Unit,
                "01",
                "A",
                true,
                Err(UnitVehicleNotSmallNonOperating),
            ),
            (
                OwnerKind::Unit,
                "07",
                "A",
                true,
                Err(UnitVehicleNotSmallNonOperating),
            ),
            (
                OwnerKind::Unit,
                "02",
                "F",
                true,
                Err(UnitVehicleNotSmallNonOperating),
            ),
            (
                OwnerKind::Unit,
                "02",
                "G",
                false,
                Err(UnitVehicleNotSmallNonOperating),
            ),
            (OwnerKind::Person, "01", "F", false, Ok(())),
            (OwnerKind::Person, "02", "A", false, Ok(())),
        ];
        for (owner, pt, use_code, relief, want) in table {
            assert_eq!(
                check_filable_vehicle(owner, pt, use_code, relief),
                want,
                "{owner:?} {pt} {use_code} relief={relief}"
            );
        }
        for r in [UnitFilingNeedsRelief, UnitVehicleNotSmallNonOperating] {
            assert_eq!(r.clause(), Clause::Seed("三.3"));
            assert!(r.to_string().contains("三.3") && r.message_en().contains("三.3"));
        }
    }

    #[test]
    fn clause_3_3_unit_vehicle_by_manager_sms() {
        let c = counts(0, 0);
        assert_eq!(
            check_new_filing(c, OwnerKind::Unit, FilingMethod::UnitManagerSms),
            Ok(())
        );
        assert_eq!(
            check_new_filing(c, OwnerKind::Unit, FilingMethod::OwnerQr),
            Err(FilingRefusal::UnitNeedsManagerSms)
        );
        let mut again = c;
        again.already_filed_by_user = true;
        assert_eq!(
            check_new_filing(again, OwnerKind::Person, FilingMethod::OwnerQr),
            Err(FilingRefusal::AlreadyFiled)
        );
    }
}
