//! Dated policies: epidemic relief (the 备注 under 四.1 and 四.2) is in force between two instants
//! read from `assets/policy.toml`; a decision uses the policy in force at `now`.

use jiff::Timestamp;
use serde::Deserialize;

/// The policy in force for one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// 疫情防控期间便民措施 (四.1 备注, 四.2 备注).
    pub epidemic_relief: bool,
}

/// One dated period of epidemic relief: in force for `from <= now < until`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReliefPeriod {
    pub name: String,
    pub from: Timestamp,
    pub until: Timestamp,
}

/// Every dated policy the kiosk knows.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBook {
    #[serde(default)]
    pub epidemic_relief: Vec<ReliefPeriod>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy file: {0}")]
    Parse(String),
    #[error("policy file: epidemic_relief “{0}”: `from` must be before `until`")]
    EmptyPeriod(String),
    #[error("policy file: epidemic_relief periods “{0}” and “{1}” overlap")]
    Overlap(String, String),
}

/// The policy embedded in the binary (`assets/policy.toml`).
pub const EMBEDDED_POLICY: &str = include_str!("../../assets/policy.toml");

impl PolicyBook {
    /// Parse a policy file's text (the caller reads the file).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut book: PolicyBook =
            toml::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        book.epidemic_relief.sort_by_key(|p| p.from);
        for p in &book.epidemic_relief {
            if p.from >= p.until {
                return Err(PolicyError::EmptyPeriod(p.name.clone()));
            }
        }
        for w in book.epidemic_relief.windows(2) {
            if w[1].from < w[0].until {
                return Err(PolicyError::Overlap(w[0].name.clone(), w[1].name.clone()));
            }
        }
        Ok(book)
    }

    pub fn embedded() -> Result<Self, PolicyError> {
        Self::parse(EMBEDDED_POLICY)
    }

    /// The policy in force at `now`.
    pub fn at(&self, now: Timestamp) -> Policy {
        Policy {
            epidemic_relief: self
                .epidemic_relief
                .iter()
                .any(|p| p.from <= now && now < p.until),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_relief_is_dated() {
        let book = PolicyBook::parse(
            r#"[[epidemic_relief]]
name = "x"
from = "2020-02-01T00:00:00+08:00"
until = "2020-03-01T00:00:00+08:00"
"#,
        )
        .unwrap();
        let at = |s: &str| book.at(s.parse().unwrap()).epidemic_relief;
        assert!(!at("2020-01-31T23:59:59+08:00"));
        assert!(at("2020-02-01T00:00:00+08:00"));
        assert!(at("2020-02-29T23:59:59+08:00"));
        assert!(!at("2020-03-01T00:00:00+08:00"));
    }

    #[test]
    fn embedded_policy_parses_and_is_off_on_the_seed_date() {
        let book = PolicyBook::embedded().unwrap();
        assert!(!book.epidemic_relief.is_empty());
        assert!(
            !book
                .at("2022-10-24T11:06:10+08:00".parse().unwrap())
                .epidemic_relief
        );
        assert!(
            book.at("2021-06-01T12:00:00+08:00".parse().unwrap())
                .epidemic_relief
        );
    }

    #[test]
    fn bad_policy_files_are_refused() {
        assert!(matches!(
            PolicyBook::parse("epidemic_relief = 3"),
            Err(PolicyError::Parse(_))
        ));
        let backwards = r#"[[epidemic_relief]]
name = "b"
from = "2021-01-01T00:00:00Z"
until = "2020-01-01T00:00:00Z"
"#;
        assert!(matches!(
            PolicyBook::parse(backwards),
            Err(PolicyError::EmptyPeriod(_))
        ));
        let overlap = r#"[[epidemic_relief]]
name = "a"
from = "2020-01-01T00:00:00Z"
until = "2020-06-01T00:00:00Z"
[[epidemic_relief]]
name = "b"
from = "2020-05-01T00:00:00Z"
until = "2020-07-01T00:00:00Z"
"#;
        assert!(matches!(
            PolicyBook::parse(overlap),
            Err(PolicyError::Overlap(_, _))
        ));
    }
}
