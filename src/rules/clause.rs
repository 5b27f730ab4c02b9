//! Clause names of the seed, as rules.md numbers them (`四.3` is item 3 of section 四).

/// A clause of the seed, or a rule beyond it with its legal source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Clause {
    Seed(&'static str),
    /// From national regulations, with the article.
    BeyondSeed(&'static str),
}

impl Clause {
    /// The clause as printed in contracts: `四.1`, or `beyond-seed`.
    pub fn code(self) -> &'static str {
        match self {
            Clause::Seed(s) => s,
            Clause::BeyondSeed(_) => "beyond-seed",
        }
    }
    /// The source of a beyond-seed rule (empty for seed clauses).
    pub fn source(self) -> &'static str {
        match self {
            Clause::Seed(_) => "",
            Clause::BeyondSeed(s) => s,
        }
    }
}

impl std::fmt::Display for Clause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clause::Seed(s) => write!(f, "{s}"),
            Clause::BeyondSeed(s) => write!(f, "beyond-seed: {s}"),
        }
    }
}
