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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilingMethod {
    /// 扫码备案: the owner's vehicle QR code.
    OwnerQr,
    /// 短信验证备案: a code sent to the owner's phone.
    OwnerSms,
    /// A unit's vehicle: a code sent to the manager phone the unit registered (三.3).
    UnitManagerSms,
}

/// The owner of the vehicle to be filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    Person,
    Unit,
}

/// What the store counted inside its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl FilingRefusal {
    pub fn clause(self) -> Clause {
        match self {
            FilingRefusal::OwnVehicle => Clause::Seed("三.1"),
            FilingRefusal::UnitNeedsManagerSms => Clause::Seed("三.3"),
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
        }
    }
}

/// May this user file this vehicle now? Checked inside the store's transaction.
/// Unit filing: 三.3 describes it as a standing path, so filing is always open; whether the unit
/// vehicle's violations may be *handled* is decided by eligibility (`unit_vehicle_not_allowed`,
/// 四.1 备注), which depends on the relief policy in force.
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
