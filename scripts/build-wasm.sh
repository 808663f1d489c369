#!/usr/bin/env bash
# Builds node-wasm for the browser into www/pkg (git-ignored).
# Usage: scripts/build-wasm.sh [--dev]   (default: --release, wasm-opt -Oz)
# Needs the tools from scripts/setup.sh.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

profile=--release
if [ "${1:-}" = "--dev" ]; then profile=--dev; fi

# Size and speed, for the browser build only (the native relay keeps the plain release
# profile): everything at opt-level z with LTO, except the code that runs hot in a tab —
# node-core (validation during sync, the SIMD miner) and sha2 — at opt-level 3. The P-256
# arithmetic is at z: signatures are checked by WebCrypto in verify workers, wasm only
# checks what they did not vouch for. Measured: 279 KB gzipped, 16 MH/s a worker and a
# 10,000-block sync in 2.6 s; everything at z: 222 KB and a 3.4 s sync; node-core at "s":
# 233 KB and 13.3 MH/s (BENCHMARKS.md).
size_flags=()
if [ "$profile" = --release ]; then
    size_flags=(--config 'profile.release.opt-level="z"'
        --config 'profile.release.lto=true'
        --config 'profile.release.codegen-units=1')
    for hot in node-core sha2; do
        size_flags+=(--config "profile.release.package.${hot}.opt-level=3")
    done
fi

# --out-dir is relative to the crate folder.
wasm-pack build node-wasm "$profile" --target web --out-dir ../www/pkg -- "${size_flags[@]}"
wasm="www/pkg/node_wasm_bg.wasm"
echo "built $wasm: $(wc -c <"$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped"
