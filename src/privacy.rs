//! Personal data kept out of logs at the type level.
//!
//! `Masked<T>` shows only a non-identifying fragment in `Display` and `Debug`; the clear value is
//! reachable only through [`Masked::expose`], which a reviewer can grep for.

use zeroize::Zeroize;

/// A personal datum (ID number, name, phone, address) whose `Display`/`Debug` never shows it in clear.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Masked<T: Zeroize>(T);

impl<T: Zeroize> Masked<T> {
    pub fn new(value: T) -> Self {
        Masked(value)
    }
    /// The clear value. Only for the screen of its owner, the database and the printer.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> Drop for Masked<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Masked<String> {
    /// A masked rendering: first and last characters kept, the rest as `*`.
    /// `500103199003070017` → `5001**********0017`; `张三` → `张*`; `13800001234` → `138****1234`.
    pub fn masked(&self) -> String {
        mask_text(&self.0)
    }
}

/// Mask a personal string for display to anyone but its owner (and for logs).
pub fn mask_text(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let (head, tail) = match n {
        0 => (0, 0),
        1 => (0, 0),
        2 => (1, 0),
        3..=5 => (1, 1),
        6..=11 => (3, 4),
        _ => (4, 4),
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' })
        .collect()
}

impl std::fmt::Display for Masked<String> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&mask_text(&self.0))
    }
}

impl<T: Zeroize> std::fmt::Debug for Masked<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Masked(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_never_shows_the_clear_value() {
        let id = Masked::new("500103199003070017".to_string());
        assert_eq!(id.to_string(), "5001**********0017");
        assert_eq!(format!("{id:?}"), "Masked(***)");
        assert_eq!(Masked::new("张三".to_string()).to_string(), "张*");
        assert_eq!(
            Masked::new("13800001234".to_string()).to_string(),
            "138****1234"
        );
        assert_eq!(id.expose(), "500103199003070017");
    }
}
