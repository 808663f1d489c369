#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (as root) and in CI. Idempotent: each
# step checks first and is skipped when already done, so a second run takes a second or two.
#   scripts/setup.sh         everything, for building AND testing (scripts/test.sh)
#   scripts/setup.sh --run   only what running needs (scripts/run.sh): build prerequisites,
#                            Rust with the wasm target, wasm-pack, wasm-bindgen-cli, npm's wasm-opt.
#                            Not Chromium, nightly, cargo-fuzz, rustfmt/clippy nor the no_std target.
# Every step that is not yet done says what it installs and about how long it takes (2-core VM).
#
# Pinned versions (keep in step with Cargo.toml's `wasm-bindgen = "=..."` and package.json):
set -euo pipefail

MODE=full
case "${1:-}" in
    "") ;;
    --run) MODE=run ;;
    *) echo "usage: scripts/setup.sh [--run]" >&2; exit 2 ;;
esac

WASM_PACK_VERSION=0.15.1
WASM_BINDGEN_VERSION=0.2.130
# Running builds the browser node (wasm32); testing also checks node-core without std
# (thumbv7em) and runs rustfmt and clippy.
RUST_TARGETS=(wasm32-unknown-unknown)
RUST_COMPONENTS=()
if [ "$MODE" = full ]; then
    RUST_TARGETS+=(thumbv7em-none-eabihf)
    RUST_COMPONENTS+=(rustfmt clippy)
fi

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

ok()   { echo "ok: $*"; }
# step WHAT HOW_LONG: announces an install that is about to start.
step() { echo "installing $1 (about $2, once)..."; }
die()  { echo "error: $*" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "not root and no sudo: cannot apt-get install"
    SUDO=(sudo)
fi

APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        "${SUDO[@]}" apt-get update -qq
        APT_UPDATED=1
    fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- Debian packages: build prerequisites if missing, and (tests only) chromium + driver ---------
apt_pkgs=()
if [ "$MODE" = run ]; then
    :
elif [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    ok "chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}') and chromedriver already installed"
else
    apt_pkgs+=(chromium chromium-driver)
fi
# The reverse-proxy test (tests/browser/proxy_tls.test.mjs) terminates TLS with nginx.
if [ "$MODE" = full ]; then
    if [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null; then
        ok "nginx already installed (for the reverse-proxy test)"
    else
        apt_pkgs+=(nginx-light)
    fi
    command -v openssl >/dev/null || apt_pkgs+=(openssl)
fi
command -v cc >/dev/null         || apt_pkgs+=(build-essential)
command -v pkg-config >/dev/null || apt_pkgs+=(pkg-config)
command -v curl >/dev/null       || apt_pkgs+=(curl ca-certificates)
command -v npm >/dev/null        || apt_pkgs+=(nodejs npm)
if [ "${#apt_pkgs[@]}" -gt 0 ]; then
    step "Debian packages ${apt_pkgs[*]}" "half a minute to 2 minutes"
    apt_install "${apt_pkgs[@]}"
    if [ "$MODE" = full ] && { ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; }; then
        die "chromium/chromedriver still missing after apt-get install"
    fi
fi

# --- Rust toolchain, targets, components ------------------------------------------------------
if ! command -v rustup >/dev/null; then
    step "Rust through rustup (stable, minimal profile)" "1 minute"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
        | sh -s -- -y --profile minimal --default-toolchain stable >/dev/null
    hash -r
fi
installed_targets="$(rustup target list --installed)"
for t in "${RUST_TARGETS[@]}"; do
    if grep -qx "$t" <<<"$installed_targets"; then
        ok "rust target $t already installed"
    else
        step "rust target $t" "20 seconds"
        rustup target add "$t"
    fi
done
installed_components="$(rustup component list --installed)"
for c in "${RUST_COMPONENTS[@]+"${RUST_COMPONENTS[@]}"}"; do
    if grep -q "^${c}-" <<<"$installed_components"; then
        ok "rust component $c already installed"
    else
        step "rust component $c" "20 seconds"
        rustup component add "$c"
    fi
done

# Nightly only for libFuzzer (scripts/fuzz.sh, tests only); everything else builds on stable.
if [ "$MODE" = full ]; then
    if rustup toolchain list | grep -q '^nightly'; then
        ok "rust nightly toolchain already installed (for fuzzing)"
    else
        step "rust nightly toolchain (minimal, for fuzzing)" "1 minute"
        rustup toolchain install nightly --profile minimal
    fi
fi

# --- cargo-installed tools ----------------------------------------------------------------------
# Print the version of a tool ("tool 1.2.3 ..." -> "1.2.3"), or nothing if it is missing.
tool_version() {
    if command -v "$1" >/dev/null; then
        "$1" --version 2>/dev/null | awk '{print $2; exit}' || true
    fi
}

if [ "$(tool_version wasm-pack)" = "$WASM_PACK_VERSION" ]; then
    ok "wasm-pack $WASM_PACK_VERSION already installed"
else
    step "wasm-pack $WASM_PACK_VERSION, built from source with cargo install" "2 minutes"
    cargo install wasm-pack --locked --version "$WASM_PACK_VERSION" --force
fi

# No --locked: wasm-bindgen-cli's own lockfile pins a crate version the registry lacks.
if [ "$(tool_version wasm-bindgen)" = "$WASM_BINDGEN_VERSION" ] \
    && [ "$(tool_version wasm-bindgen-test-runner)" = "$WASM_BINDGEN_VERSION" ]; then
    ok "wasm-bindgen-cli $WASM_BINDGEN_VERSION already installed"
else
    step "wasm-bindgen-cli $WASM_BINDGEN_VERSION, built from source with cargo install" "2.5 minutes"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# Tests only (scripts/fuzz.sh).
CARGO_FUZZ_VERSION=0.13.2
if [ "$MODE" = run ]; then
    :
elif [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" = "$CARGO_FUZZ_VERSION" ]; then
    ok "cargo-fuzz $CARGO_FUZZ_VERSION already installed"
else
    step "cargo-fuzz $CARGO_FUZZ_VERSION, built from source with cargo install" "1.5 minutes"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --force
fi

# --- npm packages (binaryen's wasm-opt for building; playwright-core for the browser tests) -----
# Both come from one `npm ci` of a few seconds (playwright-core is JavaScript only: it downloads
# no browser), so running installs both rather than keep a second lockfile.
# npm writes node_modules/.package-lock.json on every install; if it is older than the committed
# lockfile (or missing), node_modules is stale.
if [ -f node_modules/.package-lock.json ] && [ -x node_modules/.bin/wasm-opt ] \
    && [ -d node_modules/playwright-core ] \
    && ! [ package-lock.json -nt node_modules/.package-lock.json ] \
    && ! [ package.json -nt node_modules/.package-lock.json ]; then
    ok "npm packages already installed (node_modules up to date with package-lock.json)"
else
    step "npm packages binaryen (wasm-opt) and playwright-core with npm ci" "10 seconds"
    npm ci --no-audit --no-fund --loglevel=error
    touch node_modules/.package-lock.json
fi

# --- sanity: the tools the other scripts rely on resolve to the right binaries -------------------
wasm_opt="$(command -v wasm-opt || true)"
[ "$wasm_opt" = "$REPO_ROOT/node_modules/.bin/wasm-opt" ] \
    || die "wasm-opt on PATH is '$wasm_opt', expected npm binaryen in node_modules/.bin"
ok "wasm-opt: $("$wasm_opt" --version 2>/dev/null | head -n1) ($wasm_opt)"
echo "setup complete ($MODE)"
