//! Mainland China mobile numbers, as a person types them on the kiosk's keypad.

/// Digits in a mainland mobile number.
pub const MOBILE_LEN: usize = 11;

/// Whether `s` is a mainland China mobile number: 11 digits, `1` then `3`–`9` (the 13x–19x
/// ranges the carriers assign; 10x, 11x and 12x are service and test numbers, never a phone's).
pub fn is_mainland_mobile(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == MOBILE_LEN
        && b.iter().all(u8::is_ascii_digit)
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainland_mobiles_are_11_digits_starting_13_to_19() {
        for ok in ["13912345678", "15000000000", "19999999999", "16612345678"] {
            assert!(is_mainland_mobile(ok), "{ok}");
        }
        for bad in [
            "12345678901",
            "10086000000",
            "11111111111",
            "1391234567",
            "139123456789",
            "23912345678",
            "1391234567a",
            "",
            "１３９１２３４５６７８",
        ] {
            assert!(!is_mainland_mobile(bad), "{bad}");
        }
    }
}
