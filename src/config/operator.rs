//! `[operator]`: the operator screen's PIN, kept as an argon2 hash (PHC string, `pin_hash`, made
//! by `kiosk pin-hash`). The plain `pin` is the demo's form only: with `demo = false` it must be
//! empty. A trivial PIN (the shipped 246810, one digit repeated, an ascending or descending run)
//! is refused wherever it can be seen: `kiosk pin-hash` refuses to hash it, and the start-up
//! check refuses it in `pin` and tries the commonest ones against `pin_hash`.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

/// The PIN the embedded kiosk.toml ships (the demo's).
pub const DEFAULT_PIN: &str = "246810";

/// The operator PIN's length bounds, in digits.
pub const PIN_DIGITS: std::ops::RangeInclusive<usize> = 4..=12;

/// The most memory (KiB) a `pin_hash` may ask argon2 for: verifying it at the operator screen
/// must stay bounded whatever the file says.
pub const MAX_HASH_MEMORY_KIB: u32 = 256 * 1024;
/// The most passes a `pin_hash` may ask for.
pub const MAX_HASH_PASSES: u32 = 16;

/// The trivial PINs tried against a `pin_hash` at start (each try is one argon2 run, so only
/// the commonest; `kiosk pin-hash` refuses every trivial PIN before hashing it).
const COMMON_TRIVIAL: &[&str] = &[
    DEFAULT_PIN,
    "123456",
    "1234",
    "000000",
    "111111",
    "654321",
    "0000",
];

/// `[operator]` of kiosk.toml.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OperatorSection {
    /// The plain PIN: the demo's form only (empty with `demo = false`).
    #[serde(default)]
    pub pin: String,
    /// The PIN's argon2 hash (PHC string, `$argon2id$v=19$m=…`), made by `kiosk pin-hash`.
    /// When set it is what the operator screen checks, and `pin` is ignored.
    #[serde(default)]
    pub pin_hash: String,
}

/// Why a PIN is trivial, in words (None: it is not).
pub fn trivial_pin(pin: &str) -> Option<&'static str> {
    let d: Vec<i32> = pin
        .chars()
        .filter_map(|c| c.to_digit(10).map(|v| v as i32))
        .collect();
    if d.len() != pin.chars().count() || d.is_empty() {
        return None;
    }
    if pin == DEFAULT_PIN {
        return Some("it is the PIN kiosk.toml ships (246810), known to everyone");
    }
    if d.iter().all(|&x| x == d[0]) {
        return Some("one digit repeated");
    }
    let steps: Vec<i32> = d.windows(2).map(|w| w[1] - w[0]).collect();
    if steps.iter().all(|&s| s == 1 || s == -9) {
        return Some("an ascending run of digits");
    }
    if steps.iter().all(|&s| s == -1 || s == 9) {
        return Some("a descending run of digits");
    }
    None
}

/// Whether `pin` has the right form: 4 to 12 digits.
pub fn pin_form_ok(pin: &str) -> bool {
    PIN_DIGITS.contains(&pin.len()) && pin.chars().all(|c| c.is_ascii_digit())
}

/// The argon2 parameters `kiosk pin-hash` uses (argon2id, 19 MiB, 2 passes: OWASP's minimum).
fn hasher() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters"),
    )
}

/// The PHC string of `pin` with `salt` (16 random bytes from the caller). Refuses a PIN that is
/// not 4 to 12 digits or is trivial.
pub fn hash_pin(pin: &str, salt: &[u8]) -> Result<String, String> {
    if !pin_form_ok(pin) {
        return Err(format!(
            "the PIN must be {} to {} digits",
            PIN_DIGITS.start(),
            PIN_DIGITS.end()
        ));
    }
    if let Some(why) = trivial_pin(pin) {
        return Err(format!("this PIN is trivial ({why}); choose another"));
    }
    let salt = SaltString::encode_b64(salt).map_err(|e| format!("salt: {e}"))?;
    hasher()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("argon2: {e}"))
}

/// Whether `phc` is an argon2 PHC string within the bounds ([`MAX_HASH_MEMORY_KIB`],
/// [`MAX_HASH_PASSES`]); the reason when not.
pub fn check_pin_hash(phc: &str) -> Result<(), String> {
    let h = PasswordHash::new(phc.trim())
        .map_err(|e| format!("not a PHC string ({e}); make one with `kiosk pin-hash`"))?;
    if !h.algorithm.as_str().starts_with("argon2") {
        return Err(format!(
            "algorithm {} is not argon2; make one with `kiosk pin-hash`",
            h.algorithm
        ));
    }
    let params = Params::try_from(&h).map_err(|e| format!("argon2 parameters: {e}"))?;
    if params.m_cost() > MAX_HASH_MEMORY_KIB || params.t_cost() > MAX_HASH_PASSES {
        return Err(format!(
            "argon2 asks for m={} KiB, t={}: at most m={MAX_HASH_MEMORY_KIB}, t={MAX_HASH_PASSES}",
            params.m_cost(),
            params.t_cost()
        ));
    }
    if h.hash.is_none() || h.salt.is_none() {
        return Err("the PHC string has no salt or no hash".into());
    }
    Ok(())
}

/// Whether `pin` is the PIN `phc` was made from (argon2; tens of milliseconds). A hash outside
/// the bounds never matches.
pub fn verify_pin(phc: &str, pin: &str) -> bool {
    if check_pin_hash(phc).is_err() {
        return false;
    }
    let Ok(h) = PasswordHash::new(phc.trim()) else {
        return false;
    };
    Argon2::default()
        .verify_password(pin.as_bytes(), &h)
        .is_ok()
}

/// A trivial PIN `phc` was made from, among the commonest (None: none of them).
pub fn hash_of_trivial_pin(phc: &str) -> Option<&'static str> {
    COMMON_TRIVIAL.iter().copied().find(|p| verify_pin(phc, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivial_pins_are_named_and_others_pass() {
        for p in [
            "246810",
            "1111",
            "000000000000",
            "1234",
            "123456",
            "567890",
            "987654",
            "3210",
            "890123",
        ] {
            assert!(trivial_pin(p).is_some(), "{p}");
        }
        for p in ["2580", "135792", "802413", "112233"] {
            assert_eq!(trivial_pin(p), None, "{p}");
        }
    }

    #[test]
    fn a_hash_verifies_its_pin_only_and_bad_hashes_are_refused() {
        let h = hash_pin("802413", &[7u8; 16]).unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        check_pin_hash(&h).unwrap();
        assert!(verify_pin(&h, "802413"));
        assert!(!verify_pin(&h, "802414"));
        assert_eq!(hash_of_trivial_pin(&h), None);
        assert!(hash_pin("123456", &[7u8; 16]).is_err());
        assert!(hash_pin("12a4", &[7u8; 16]).is_err());
        assert!(check_pin_hash("802413").is_err());
        assert!(check_pin_hash("$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaA").is_err());
        let greedy = "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA";
        assert!(check_pin_hash(greedy).unwrap_err().contains("at most"));
        assert!(!verify_pin(greedy, "802413"));
    }

    #[test]
    fn the_hash_of_the_shipped_pin_is_found() {
        let mut weak = String::new();
        let salt = SaltString::encode_b64(&[9u8; 16]).unwrap();
        // Made without hash_pin's refusal, as another tool would.
        weak.push_str(
            &hasher()
                .hash_password(DEFAULT_PIN.as_bytes(), &salt)
                .unwrap()
                .to_string(),
        );
        assert_eq!(hash_of_trivial_pin(&weak), Some(DEFAULT_PIN));
    }
}
