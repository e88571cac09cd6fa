//! The house rules of ARCHITECTURE.md, read from the source: the floors import only
//! downwards (face → data → engine, `synth` through the data layer, `model` and `memory`
//! below everything), no two modules import each other through any chain, only the
//! engine and the data layer name `duckdb`, and only the face and the entry points name
//! `rmcp`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`["db", "scenarios", "write"]`) → its source without comments and tests.
fn modules() -> BTreeMap<Vec<String>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut modules = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap().with_extension("");
        let path: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        if path == ["main"] || path.last().is_some_and(|p| p == "tests") {
            continue; // the binary is a crate of its own; `tests.rs` files are unit tests
        }
        let path = if path == ["lib"] { Vec::new() } else { path };
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests sit at the end of a file, after `#[cfg(test)]`.
        let code = text.split("#[cfg(test)]").next().unwrap();
        let code: String = code
            .lines()
            .map(|line| line.split("//").next().unwrap())
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        modules.insert(path, code);
    }
    modules
}

/// The module paths `code` (of module `at`) names through `crate::` and `super::`,
/// resolved to the longest prefix that is a module of `known`.
fn references(at: &[String], code: &str, known: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut resolve = |base: Vec<String>, rest: &str| {
        // rest: `a::b::{c, d::e}` or `a::b::Item`; expand one level of braces.
        let (head, braces) = match rest.find('{') {
            Some(open) => {
                (&rest[..open], Some(&rest[open + 1..rest[open..].find('}').map_or(rest.len(), |c| open + c)]))
            }
            None => (rest, None),
        };
        let mut stem = base;
        stem.extend(head.split("::").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned));
        let mut candidates = vec![stem.clone()];
        if let Some(inner) = braces {
            for part in inner.split(',') {
                let mut path = stem.clone();
                path.extend(part.split("::").map(|s| s.split_whitespace().next().unwrap_or("").to_owned()));
                candidates.push(path);
            }
        }
        for mut path in candidates {
            while !path.is_empty() && !known.contains(&path) {
                path.pop();
            }
            found.insert(path);
        }
    };
    for (start, _) in code.match_indices("crate::") {
        if start > 0 && code[..start].ends_with(|c: char| ident(c) || c == ':') {
            continue;
        }
        let rest: String = code[start + 7..].chars().take_while(|&c| ident(c) || ":{}, \n".contains(c)).collect();
        let rest = rest.split(['(', ';', ')']).next().unwrap();
        let rest = if rest.contains('{') { rest } else { rest.split([',', ' ', '\n', '}']).next().unwrap() };
        resolve(Vec::new(), rest);
    }
    for (start, _) in code.match_indices("super::") {
        if start > 0 && code[..start].ends_with(|c: char| ident(c) || c == ':') {
            continue;
        }
        let mut base: Vec<String> = at[..at.len().saturating_sub(1)].to_vec();
        let mut rest = &code[start + 7..];
        while let Some(more) = rest.strip_prefix("super::") {
            base.pop();
            rest = more;
        }
        let rest: String = rest.chars().take_while(|&c| ident(c) || ":{}, \n".contains(c)).collect();
        let rest = if rest.contains('{') { rest.as_str() } else { rest.split([',', ' ', '\n', '}']).next().unwrap() };
        resolve(base, rest);
    }
    found
}

/// Which floors each top-level module may import (besides itself).
const MAY_IMPORT: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("memory", &[]),
    ("engine", &["model", "memory"]),
    ("db", &["engine", "model", "memory"]),
    ("synth", &["db", "model", "memory"]),
    ("mcp", &["config", "db", "synth", "model", "memory"]),
    ("config", &["db", "engine", "memory"]),
    ("client", &["config", "mcp", "memory"]),
    ("engine_info", &["config", "engine"]),
];

/// Every module imports only its own floor and the floors below it.
#[test]
fn floors_import_downwards() {
    let modules = modules();
    let known: BTreeSet<Vec<String>> = modules.keys().cloned().collect();
    let mut wrong = Vec::new();
    for (path, code) in &modules {
        let Some(top) = path.first() else { continue };
        let allowed = MAY_IMPORT.iter().find(|(name, _)| name == top).map(|(_, a)| *a);
        let allowed = allowed.unwrap_or_else(|| panic!("src/{top} is on no floor: add it to MAY_IMPORT"));
        for target in references(path, code, &known) {
            let Some(floor) = target.first() else {
                wrong.push(format!("{} names the crate root", path.join("::")));
                continue;
            };
            if floor != top && !allowed.contains(&floor.as_str()) {
                wrong.push(format!("{} imports {}", path.join("::"), target.join("::")));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the floors:\n{}", wrong.join("\n"));
}

/// No two modules import each other, directly or through others (a module and its own
/// submodules excepted: a parent declares its children).
#[test]
fn no_import_circles() {
    let modules = modules();
    let known: BTreeSet<Vec<String>> = modules.keys().cloned().collect();
    let related = |a: &[String], b: &[String]| a.starts_with(b) || b.starts_with(a);
    let edges: BTreeMap<&Vec<String>, BTreeSet<Vec<String>>> = modules
        .iter()
        .map(|(path, code)| {
            let targets = references(path, code, &known).into_iter().filter(|t| !related(path, t)).collect();
            (path, targets)
        })
        .collect();
    // A module reaches a module that reaches it back: a circle.
    let reach = |from: &Vec<String>| -> BTreeSet<Vec<String>> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(next) = stack.pop() {
            for target in edges.get(&next).into_iter().flatten() {
                if seen.insert(target.clone()) {
                    stack.push(target.clone());
                }
            }
        }
        seen
    };
    let mut circles = Vec::new();
    for (path, targets) in &edges {
        for target in targets {
            if reach(target).contains(*path) {
                circles.push(format!("{} → {} → … → {}", path.join("::"), target.join("::"), path.join("::")));
            }
        }
    }
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}

/// Only the engine and the data layer name `duckdb`; only the face and the entry points
/// name `rmcp` (tests excepted).
#[test]
fn crates_stay_on_their_floors() {
    let mut wrong = Vec::new();
    for (path, code) in modules() {
        let top = path.first().map_or("lib", String::as_str);
        if code.contains("duckdb::") && !["engine", "db"].contains(&top) {
            wrong.push(format!("{} names duckdb", path.join("::")));
        }
        if code.contains("rmcp::") && !["mcp", "client"].contains(&top) {
            wrong.push(format!("{} names rmcp", path.join("::")));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
