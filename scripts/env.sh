# shellcheck shell=bash
# Environment shared by the project's scripts. Source it, don't run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# It changes no shell options of the caller and is safe to source more than once.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

# Prepend a directory to PATH, moving it to the front if it is already there.
__p2p_path_prepend() {
    local dir="$1" rest=":${PATH}:"
    while [[ "$rest" == *":${dir}:"* ]]; do rest="${rest//:${dir}:/:}"; done
    rest="${rest#:}"
    rest="${rest%:}"
    PATH="${dir}${rest:+:${rest}}"
}
# Order matters: npm's binaryen (wasm-opt 132) must come before anything else, in particular
# before Debian's binaryen (wasm-opt 108, /usr/bin), whose output crashes on load.
__p2p_path_prepend "${CARGO_HOME:-$HOME/.cargo}/bin"
__p2p_path_prepend "${REPO_ROOT}/node_modules/.bin"
unset -f __p2p_path_prepend
export PATH

# wasm-bindgen-test-runner / wasm-pack test: use Debian's chromedriver, never download one.
export CHROMEDRIVER=/usr/bin/chromedriver
# Default is 20 s; browser tests that mine or verify in debug builds need longer.
export WASM_BINDGEN_TEST_TIMEOUT=120
# Chromium for Playwright (launch with executablePath: process.env.CHROMIUM).
export CHROMIUM=/usr/bin/chromium
