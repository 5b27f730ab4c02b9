//! The small look-ups a kiosk needs besides the operations (a plate's vehicle, its owner as a
//! screen shows it, the filing pre-check, a vehicle-QR token's claims, the demo SMS outbox), as
//! reads on whichever backend holds the store. Each is one snapshot read transaction.

use super::rows::{filing_counts_in, parse_plate_type, person_row, vehicle_row};
use super::*;
use crate::domain::Plate;
use crate::privacy::mask_text;
use crate::rules::filing::OwnerKind;
use crate::sql_params;
use crate::store::sms;
use crate::store::token::VehicleQrClaims;

impl<B: Backend> StorePlatform<B> {
    /// The vehicle a plate names (its first plate type when several share the plate).
    pub(super) fn lookup_vehicle_by_plate(&self, plate: &Plate) -> Result<VehicleKey, StoreError> {
        let plate_type: Option<String> = self.read(|tx| {
            Ok(tx.opt(
                "SELECT plate_type FROM vehicles WHERE plate = ?1 ORDER BY plate_type LIMIT 1",
                &sql_params![plate.as_str()],
            )?)
        })?;
        let plate_type = plate_type.ok_or(StoreError::VehicleNotFound)?;
        Ok(VehicleKey::new(
            plate.clone(),
            parse_plate_type(&plate_type)?,
        ))
    }

    /// The vehicle's owner as a screen shows it: a person's name masked, a unit's name.
    pub(super) fn lookup_vehicle_owner(
        &self,
        vehicle: &VehicleKey,
    ) -> Result<VehicleOwner, StoreError> {
        let row: Option<(Option<String>, Option<String>)> = self.read(|tx| {
            let row = tx.query_opt(
                "SELECT p.name, u.name FROM vehicles v
                 LEFT JOIN persons p ON p.id = v.owner_person_id
                 LEFT JOIN units u ON u.id = v.owner_unit_id
                 WHERE v.plate = ?1 AND v.plate_type = ?2",
                &sql_params![vehicle.plate.as_str(), vehicle.plate_type.code()],
            )?;
            Ok(match row {
                Some(r) => Some((r.get(0)?, r.get(1)?)),
                None => None,
            })
        })?;
        match row {
            Some((Some(person), _)) => Ok(VehicleOwner {
                kind: OwnerKind::Person,
                shown_name: mask_text(&person),
            }),
            Some((None, Some(unit))) => Ok(VehicleOwner {
                kind: OwnerKind::Unit,
                shown_name: unit,
            }),
            Some((None, None)) => Err(StoreError::Corrupt("a vehicle without an owner".into())),
            None => Err(StoreError::VehicleNotFound),
        }
    }

    /// The filing limits as they stand (the store counts again inside `file_vehicle`), and who
    /// owns the vehicle.
    pub(super) fn lookup_filing_precheck(
        &self,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
    ) -> Result<FilingPrecheck, StoreError> {
        self.read(|tx| {
            let p = person_row(tx, applicant)?;
            let v = vehicle_row(tx, vehicle)?;
            Ok(FilingPrecheck {
                counts: filing_counts_in(tx, p.id, &v)?,
                owner_kind: v.owner_kind(),
            })
        })
    }

    /// A vehicle-QR token's claims, when its signature and validity hold at `now`.
    pub(super) fn lookup_verify_vehicle_qr(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<VehicleQrClaims, StoreError> {
        Ok(self.qr.verify(token.trim(), now)?)
    }

    /// The demo SMS outbox, newest first.
    pub(super) fn lookup_sms_outbox(
        &self,
        limit: u32,
    ) -> Result<Vec<sms::OutboxEntry>, StoreError> {
        self.sms_outbox(limit)
    }
}
