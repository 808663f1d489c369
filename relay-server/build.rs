//! Embeds the page (`www/`: the HTML, scripts, styles and both wasm modules) in the binary,
//! so `relay-server startnode` serves it from any directory, and a binary copied alone to a
//! server is the whole relay. Writes `$OUT_DIR/page_files.rs`: a table of every file under
//! `www/` (dot files left out) as `include_bytes!`, and the files the page cannot work without
//! that were missing when this binary was built (the wasm, before `scripts/build-wasm.sh`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

/// Files without which the page is broken: the scripts that start it and both wasm modules
/// (git-ignored, built by `scripts/build-wasm.sh`).
const REQUIRED: &[&str] = &[
    "index.html",
    "app.js",
    "worker.js",
    "pkg/node_wasm.js",
    "pkg/node_wasm_bg.wasm",
    "pkg-miner/miner.js",
    "pkg-miner/miner_bg.wasm",
];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let www = manifest.join("..").join("www");
    // A directory is scanned whole: a rebuilt wasm module rebuilds the relay.
    println!("cargo:rerun-if-changed={}", www.display());
    println!("cargo:rerun-if-changed=build.rs");

    let mut files = Vec::new();
    collect(&www, &www, &mut files);
    files.sort();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|r| !files.iter().any(|(name, _)| name == r))
        .collect();
    if !missing.is_empty() {
        println!(
            "cargo:warning=the page is incomplete ({} missing): run `bash scripts/build-wasm.sh`, \
             then build relay-server again",
            missing.join(", ")
        );
    }

    let mut out = String::from("/// Every file of the page, by its path under `www/`, sorted.\n");
    out += "pub static PAGE_FILES: &[(&str, &[u8])] = &[\n";
    for (name, path) in &files {
        let _ = writeln!(
            out,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    out += "];\n/// Files the page needs that were missing at build time.\n";
    let _ = writeln!(out, "pub static PAGE_MISSING: &[&str] = &{missing:?};");
    let dest = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it")).join("page_files.rs");
    fs::write(&dest, out).expect("writing page_files.rs");
}

/// Every regular file under `dir`, as (path relative to `root` with `/`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let abs = fs::canonicalize(&path).unwrap_or(path);
            files.push((rel.join("/"), abs));
        }
    }
}
