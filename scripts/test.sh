#!/usr/bin/env bash
# Runs every test of the project, from a fresh clone: installs what is missing (scripts/setup.sh),
# then formatting and lints, the no_std build of node-core, the native tests (unit, property,
# simulated networks, real relay processes), the wasm tests in headless Chromium, and the
# browser end-to-end scenario. Stops at the first failure.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

stage() { printf '\n=== %s ===\n' "$*"; }

stage "setup"
bash scripts/setup.sh

# The relay embeds the page, wasm included (relay-server/build.rs): build the wasm before
# anything builds relay-server, so every relay binary below carries a whole page, once.
stage "page (wasm)"
bash scripts/build-wasm.sh
# The page module's budget (a tab on a phone downloads it before anything works).
page_bytes=$(gzip -9 -c www/pkg/node_wasm_bg.wasm | wc -c)
if [ "$page_bytes" -gt 200000 ]; then
    echo "the page module is $page_bytes bytes gzipped, over its 200,000-byte budget" >&2
    exit 1
fi

stage "format"
cargo fmt --all -- --check

stage "lint"
node scripts/module-shape.mjs
RUSTDOCFLAGS="-D warnings" cargo doc -p node-core --no-deps --quiet
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p node-wasm --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p node-wasm --target wasm32-unknown-unknown --no-default-features -- -D warnings

stage "node-core without std"
cargo build -p node-core --no-default-features --target thumbv7em-none-eabihf

stage "native tests"
cargo test --workspace --exclude node-wasm

stage "fuzzing (bounded)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"

if [ -d node-wasm/tests ]; then
    stage "wasm tests in headless Chromium"
    wasm-pack test --headless --chrome node-wasm
fi

if [ -d tests/browser ]; then
    stage "browser scenario"
    cargo build -p relay-server
    # tests/browser/deploy.test.mjs copies this one alone into an empty directory, as an
    # operator copies the release binary to a server.
    cargo build --release -p relay-server
    export DEPLOY_BIN="$REPO_ROOT/target/release/relay-server"
    for t in tests/browser/*.test.mjs; do
        node --test "$t"
    done
fi
