#!/usr/bin/env bash
# Two builds of the page side by side: the same relay serves a 10,000-block chain to a fresh
# tab of page A, then of page B, alternating, each on a fresh copy of the chain.
#   tests/bench/ab-page.sh CHAIN_DIR RELAY_BIN WWW_A WWW_B [ROUNDS] [MODE] [SYNC_ARGS...]
# CHAIN_DIR from `make_chain --blocks 10000`; WWW_* are page folders (www/ of two checkouts,
# or one www/ with another build's pkg/ swapped in to compare the wasm alone); MODE is a
# sync.mjs mode (default full); SYNC_ARGS go to sync.mjs as they are (e.g. --view explorer).
# One JSON line per round and build, as sync.mjs prints them.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 CHAIN_DIR RELAY_BIN WWW_A WWW_B [ROUNDS] [MODE] [SYNC_ARGS...]" >&2
    exit 2
fi
chain=$1 relay=$2 www_a=$3 www_b=$4 rounds=${5:-3} mode=${6:-full}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
for round in $(seq 1 "$rounds"); do
    for which in A B; do
        if [ $which = A ]; then www=$www_a; else www=$www_b; fi
        rm -rf "$copy/chain"
        cp -a "$chain" "$copy/chain"
        printf 'round %s %s ' "$round" "$which"
        RELAY_BIN=$relay node "$here/sync.mjs" "$copy/chain" --www "$www" --only "$mode" "${@:7}" | grep '^{"mode'
    done
done
