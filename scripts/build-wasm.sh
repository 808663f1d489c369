#!/usr/bin/env bash
# Builds node-wasm for the browser, twice (both git-ignored):
#   www/pkg        the page's node (BrowserNode), optimised for size
#   www/pkg-miner  the mining workers' module (mineChunk only), optimised for speed
# Usage: scripts/build-wasm.sh [--dev]   (default: --release, wasm-opt -Oz)
# Needs the tools from scripts/setup.sh.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

profile=--release
if [ "${1:-}" = "--dev" ]; then profile=--dev; fi

# Release profiles for the browser builds only (the native relay keeps the plain release
# profile). Both: opt-level z with LTO, sha2 at opt-level 3 (hashing txids, blocks and the
# Merkle tree is most of a sync's wasm time besides signatures, which WebCrypto checks in
# verify workers). The page keeps node-core at z; the workers' module is node-core's SIMD
# miner and little else, so it keeps node-core at 3 and stays small anyway. Measured
# (BENCHMARKS.md): page 224 KB gzipped and a 10,000-block sync in 2.5-2.6 s, as fast as with
# node-core at 3 (279 KB); with sha2 at z as well the sync took 3.3-3.4 s.
page_flags=()
miner_flags=()
if [ "$profile" = --release ]; then
    common=(--config 'profile.release.opt-level="z"'
        --config 'profile.release.lto=true'
        --config 'profile.release.codegen-units=1'
        --config 'profile.release.package.sha2.opt-level=3')
    # Panic messages name their source file; a dependency's would carry this machine's cargo
    # registry path (~60 bytes each, 39 of them in the page module): strip it.
    remap=""
    for dir in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
        remap+="\"--remap-path-prefix=$dir=\","
    done
    common+=(--config "target.wasm32-unknown-unknown.rustflags=[${remap%,}]")
    page_flags=("${common[@]}")
    miner_flags=("${common[@]}" --config 'profile.release.package.node-core.opt-level=3')
fi

# --out-dir is relative to the crate folder.
wasm-pack build node-wasm "$profile" --target web --out-dir ../www/pkg -- "${page_flags[@]}"
wasm-pack build node-wasm "$profile" --target web --out-dir ../www/pkg-miner --out-name miner \
    -- --no-default-features "${miner_flags[@]}"
for wasm in www/pkg/node_wasm_bg.wasm www/pkg-miner/miner_bg.wasm; do
    echo "built $wasm: $(wc -c <"$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped"
done
