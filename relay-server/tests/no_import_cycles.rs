//! The crate's top-level modules form layers: no `crate::` path leads from a module back to
//! one that depends on it. Read from the sources, so a new circle fails here with its path.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Test outcome: a failed step is an error naming it, not a panic.
type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> TestResult {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The top-level module a file under `src/` belongs to (`hub` for `src/hub/shell.rs`).
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let first = file.strip_prefix(src).ok()?.components().next()?;
    let name = first.as_os_str().to_str()?;
    Some(name.trim_end_matches(".rs").to_string())
}

/// The top-level modules a source names through `crate::` outside comments and tests.
fn crate_paths(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in source.lines() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
        // `use crate::{a::X, b::Y}` names several modules at once.
        if let Some(group) = code.strip_prefix("use crate::{") {
            for part in group.split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
    }
    found
}

/// A cycle through `start`, if there is one: the modules along it.
fn cycle_from(
    start: &str,
    edges: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    let here = path.last()?.clone();
    for next in edges.get(&here).into_iter().flatten() {
        if next == start {
            let mut cycle = path.clone();
            cycle.push(next.clone());
            return Some(cycle);
        }
        if !path.contains(next) {
            path.push(next.clone());
            if let Some(cycle) = cycle_from(start, edges, path) {
                return Some(cycle);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn no_top_level_module_depends_on_one_that_depends_on_it() -> TestResult {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files)?;
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(from) = top_module(&src, file) else {
            continue;
        };
        if from == "main" || from == "lib" {
            continue;
        }
        let targets = crate_paths(&fs::read_to_string(file)?);
        let entry = edges.entry(from.clone()).or_default();
        entry.extend(targets.into_iter().filter(|t| *t != from));
    }
    assert!(
        edges.get("hub").is_some_and(|e| e.contains("commands")),
        "the scan sees the hub's use of the commands: {edges:?}"
    );
    for start in edges.keys() {
        let mut path = vec![start.clone()];
        if let Some(cycle) = cycle_from(start, &edges, &mut path) {
            panic!("import cycle: {}\nedges: {edges:#?}", cycle.join(" -> "));
        }
    }
    Ok(())
}

/// Every module a file under `src/<folder>` names through `crate::` is one of `allowed`.
fn only_uses(folder: &str, allowed: &[&str]) -> TestResult {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join(folder), &mut files)?;
    for file in &files {
        let used = crate_paths(&fs::read_to_string(file)?);
        let stray: Vec<_> = used
            .iter()
            .filter(|m| *m != folder && !allowed.contains(&m.as_str()))
            .collect();
        assert!(stray.is_empty(), "{} uses {stray:?}", file.display());
    }
    Ok(())
}

#[test]
fn the_hub_knows_no_sockets_and_opens_no_connections() -> TestResult {
    // `metrics` is counters and their text format: no sockets, no connections.
    only_uses(
        "hub",
        &["commands", "store", "admission", "metrics", "util"],
    )
}

#[test]
fn the_network_knows_the_hub_only_through_its_messages_and_send_queue() -> TestResult {
    only_uses("net", &["hub", "admission", "metrics", "util"])
}

#[test]
fn the_metrics_are_a_leaf_everything_may_count_into() -> TestResult {
    only_uses("metrics", &[])
}
