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

# --out-dir is relative to the crate folder.
wasm-pack build node-wasm "$profile" --target web --out-dir ../www/pkg
ls -l www/pkg/*.wasm
