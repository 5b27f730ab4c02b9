//! The code map in ARCHITECTURE.md, checked against `src/`.
//!
//! Each row of the code map names a path (`src/store/`) and, in its last column, what code under
//! that path must not depend on, each item in backticks:
//! - a bare name that is a top-level module of this crate (`ui`, `store`) forbids `crate::ui…`;
//! - anything else (`rusqlite`, `std::fs`, `Timestamp::now`) forbids that path in the code.
//!
//! The test reads every `.rs` file under each path (comments left out, test code included: a
//! module's tests obey its layering too) and fails naming the file, the line and the row broken.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// One row of the code map.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// `src/store/` or `src/config.rs`.
    path: String,
    forbidden: Vec<Forbidden>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Forbidden {
    /// A top-level module of the crate: `crate::NAME`.
    Module(String),
    /// A path in the code (an external crate, `std::fs`, `Timestamp::now`).
    Path(String),
}

impl Forbidden {
    fn label(&self) -> String {
        match self {
            Forbidden::Module(m) => format!("crate::{m}"),
            Forbidden::Path(p) => p.clone(),
        }
    }
}

/// The crate's top-level modules: `src/NAME.rs` and `src/NAME/`.
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in fs::read_dir(src).expect("src/ is readable") {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.path().is_dir() {
            out.insert(name);
        } else if let Some(stem) = name.strip_suffix(".rs")
            && stem != "lib"
            && stem != "main"
        {
            out.insert(stem.to_string());
        }
    }
    out
}

/// Backticked items of a table cell.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The code map's rows: a table whose first cell is a backticked `src/…` path.
fn parse_code_map(markdown: &str, modules: &BTreeSet<String>) -> Vec<Rule> {
    let section = markdown
        .split("## Code map")
        .nth(1)
        .expect("ARCHITECTURE.md has a “## Code map” section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut rules = Vec::new();
    for line in section.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 3 {
            continue;
        }
        let Some(path) = backticked(cells[0]).into_iter().next() else {
            continue;
        };
        if !path.starts_with("src/") {
            continue;
        }
        let forbidden = backticked(cells[cells.len() - 1])
            .into_iter()
            .map(|item| {
                if modules.contains(&item) {
                    Forbidden::Module(item)
                } else {
                    Forbidden::Path(item)
                }
            })
            .collect();
        rules.push(Rule { path, forbidden });
    }
    rules
}

/// The code of a file without its comments (line comments and doc comments; string contents are
/// kept, which only makes the check stricter).
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_block = false;
    for (i, raw) in text.lines().enumerate() {
        let mut line = raw.to_string();
        if in_block {
            match line.find("*/") {
                Some(end) => {
                    line = line[end + 2..].to_string();
                    in_block = false;
                }
                None => continue,
            }
        }
        if let Some(start) = line.find("/*")
            && !line[..start].contains('"')
        {
            match line[start..].find("*/") {
                Some(end) => line.replace_range(start..start + end + 2, ""),
                None => {
                    line.truncate(start);
                    in_block = true;
                }
            }
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        // A trailing comment: cut at `//` not inside a string literal (an even number of quotes
        // before it) and not part of a URL (`://`).
        let mut cut = None;
        let bytes = line.as_bytes();
        let mut quotes = 0;
        for (j, b) in bytes.iter().enumerate() {
            match b {
                b'"' => quotes += 1,
                b'/' if quotes % 2 == 0
                    && bytes.get(j + 1) == Some(&b'/')
                    && (j == 0 || bytes[j - 1] != b':') =>
                {
                    cut = Some(j);
                    break;
                }
                _ => {}
            }
        }
        if let Some(j) = cut {
            line.truncate(j);
        }
        out.push((i + 1, line));
    }
    out
}

/// Whether `line` refers to `needle` as a path: the needle is not glued to an identifier on its
/// left, and what follows it ends the path segment.
fn refers_to(line: &str, needle: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(pos) = line[from..].find(needle) {
        let at = from + pos;
        let before = line[..at].chars().next_back();
        let after = line[at + needle.len()..].chars().next();
        let left_ok = before.is_none_or(|c| !is_ident(c));
        let right_ok = after.is_none_or(|c| !is_ident(c));
        if left_ok && right_ok {
            return true;
        }
        from = at + needle.len();
    }
    false
}

/// The paths a `use` tree names: `crate::{domain::Plate, ui::{A, B}}` gives `crate::domain::Plate`,
/// `crate::ui::A`, `crate::ui::B`.
fn expand_use(tree: &str) -> Vec<String> {
    fn items(s: &str) -> Vec<&str> {
        let (mut depth, mut start, mut out) = (0, 0, Vec::new());
        for (i, c) in s.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(s[start..i].trim());
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(s[start..].trim());
        out.into_iter().filter(|i| !i.is_empty()).collect()
    }
    fn walk(prefix: &str, tree: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        match tree.find('{') {
            Some(open) if tree.ends_with('}') => {
                let head = tree[..open].trim_end_matches("::");
                let prefix = match (prefix.is_empty(), head.is_empty()) {
                    (true, _) => head.to_string(),
                    (false, true) => prefix.to_string(),
                    (false, false) => format!("{prefix}::{head}"),
                };
                for item in items(&tree[open + 1..tree.len() - 1]) {
                    walk(&prefix, item, out);
                }
            }
            _ => {
                let path = tree.split(" as ").next().unwrap_or(tree).trim();
                out.push(if prefix.is_empty() {
                    path.to_string()
                } else {
                    format!("{prefix}::{path}")
                });
            }
        }
    }
    let mut out = Vec::new();
    walk("", tree, &mut out);
    out
}

/// The `use` declarations of some code, each with the line it starts on.
fn use_declarations(lines: &[(usize, String)]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in lines {
        let mut rest = line.as_str();
        loop {
            if let Some((start, text)) = current.as_mut() {
                match rest.find(';') {
                    Some(end) => {
                        text.push(' ');
                        text.push_str(&rest[..end]);
                        out.push((*start, std::mem::take(text)));
                        current = None;
                        rest = &rest[end + 1..];
                    }
                    None => {
                        text.push(' ');
                        text.push_str(rest);
                        break;
                    }
                }
            } else {
                let found = rest.match_indices("use ").find(|(i, _)| {
                    *i == 0 || !rest[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                match found {
                    Some((i, _)) => {
                        current = Some((*n, String::new()));
                        rest = &rest[i + 4..];
                    }
                    None => break,
                }
            }
        }
    }
    out
}

/// How some code breaks a rule: (line number, what it refers to).
fn violations_in(text: &str, rule: &Rule) -> Vec<(usize, String)> {
    let lines = code_lines(text);
    let mut out = Vec::new();
    let needle = |f: &Forbidden| match f {
        Forbidden::Module(m) => format!("crate::{m}"),
        Forbidden::Path(p) => p.clone(),
    };
    for (n, line) in &lines {
        for f in &rule.forbidden {
            if refers_to(line, &needle(f)) {
                out.push((*n, f.label()));
            }
        }
    }
    for (n, decl) in use_declarations(&lines) {
        for path in expand_use(&decl) {
            let path: String = path.split_whitespace().collect();
            for f in &rule.forbidden {
                let p = needle(f);
                let hit = path == p || path.starts_with(&format!("{p}::"));
                if hit && !out.contains(&(n, f.label())) {
                    out.push((n, f.label()));
                }
            }
        }
    }
    out
}

fn rust_files(root: &Path) -> Vec<PathBuf> {
    if root.is_file() {
        return vec![root.to_path_buf()];
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_code_map_in_architecture_md_holds_for_src() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let markdown = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let modules = top_level_modules(&root.join("src"));
    let rules = parse_code_map(&markdown, &modules);
    // Every top-level module has a row, so nothing new escapes the map.
    for m in &modules {
        let covered = rules.iter().any(|r| {
            r.path == format!("src/{m}/") || r.path == format!("src/{m}.rs") || r.path == "src/"
        });
        assert!(covered, "ARCHITECTURE.md's code map has no row for src/{m}");
    }
    let mut broken = Vec::new();
    let mut files_checked = 0;
    for rule in &rules {
        let path = root.join(&rule.path);
        assert!(
            path.exists(),
            "the code map names {} which does not exist",
            rule.path
        );
        for file in rust_files(&path) {
            files_checked += 1;
            let text = fs::read_to_string(&file).expect("a source file");
            for (line, what) in violations_in(&text, rule) {
                broken.push(format!(
                    "{}:{line} refers to {what}, which the code map says {} must not depend on",
                    file.strip_prefix(root).unwrap_or(&file).display(),
                    rule.path
                ));
            }
        }
    }
    assert!(
        files_checked > 50,
        "only {files_checked} files checked: is the code map parsed?"
    );
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

fn sample_rules() -> (BTreeSet<String>, Vec<Rule>) {
    let modules: BTreeSet<String> = ["store", "ui", "flow", "rules", "devices"]
        .into_iter()
        .map(String::from)
        .collect();
    let map = "## Code map\n\n| path | owns | must not depend on |\n| --- | --- | --- |\n\
               | `src/store/` | the store | `ui`, `flow` |\n\
               | `src/rules/` | the rules | `store`, `rusqlite`, `std::fs`, `Timestamp::now` |\n\n## Invariants\n";
    let rules = parse_code_map(map, &modules);
    (modules, rules)
}

#[test]
fn the_code_map_table_is_parsed_into_modules_and_paths() {
    let (_, rules) = sample_rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].path, "src/store/");
    assert_eq!(
        rules[0].forbidden,
        vec![
            Forbidden::Module("ui".into()),
            Forbidden::Module("flow".into())
        ]
    );
    assert_eq!(
        rules[1].forbidden,
        vec![
            Forbidden::Module("store".into()),
            Forbidden::Path("rusqlite".into()),
            Forbidden::Path("std::fs".into()),
            Forbidden::Path("Timestamp::now".into()),
        ]
    );
}

#[test]
fn a_forbidden_import_is_caught_in_every_spelling() {
    let (_, rules) = sample_rules();
    let store = &rules[0];
    for bad in [
        "use crate::ui::KioskApp;",
        "use crate::flow;",
        "    let s = crate::flow::State::new();",
        "use crate::{domain::Plate, ui::Screen};",
        "use crate::{ui, domain};",
        "pub(crate) use crate::flow::Event as E; // re-export",
        "use crate::{\n    domain::Plate,\n    flow::{Event, State},\n};",
    ] {
        assert!(
            !violations_in(bad, store).is_empty(),
            "not caught in src/store/: {bad}"
        );
    }
    let rules_row = &rules[1];
    for bad in [
        "use rusqlite::Connection;",
        "let t = jiff::Timestamp::now();",
        "std::fs::read(\"policy.toml\")",
        "use std::{fs, io};",
        "use crate::store::Platform;",
    ] {
        assert!(
            !violations_in(bad, rules_row).is_empty(),
            "not caught in src/rules/: {bad}"
        );
    }
}

#[test]
fn comments_and_lookalike_names_are_not_imports() {
    let (_, rules) = sample_rules();
    let store = &rules[0];
    for fine in [
        "// the ui draws this (crate::ui never reaches the store)",
        "/// See [`crate::flow`] for who calls this.",
        "use crate::store_extra::Thing;",
        "use crate::domain::Plate; // not crate::ui",
        "let ui = 1; let flow = ui + 1;",
        "/* crate::flow */ let x = 1;",
    ] {
        assert_eq!(
            violations_in(fine, store),
            Vec::<(usize, String)>::new(),
            "flagged in src/store/: {fine}"
        );
    }
    let rules_row = &rules[1];
    for fine in [
        "fn decide(now: Timestamp) {}",
        "let rusqlite_like = 1;",
        "use crate::rules::store_policy;",
    ] {
        assert!(
            violations_in(fine, rules_row).is_empty(),
            "flagged in src/rules/: {fine}"
        );
    }
}
