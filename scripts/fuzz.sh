#!/usr/bin/env bash
# Runs each fuzz target of node-core for a bounded time (default 60 s each) and fails on any
# crash. Seeds come from node-core/fuzz/corpus (committed); new inputs go to a temporary copy.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT/node-core"

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(frame_decode block_tx_decode node_frames)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    cp fuzz/corpus/"$t"/* "$work/$t"/
    echo "fuzzing $t for ${seconds}s"
    # -rss_limit_mb bounds memory; a crash makes cargo fuzz exit non-zero with the input saved
    # under node-core/fuzz/artifacts/.
    if ! cargo +nightly fuzz run "$t" "$work/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$work/$t.log" 2>&1; then
        tail -n 60 "$work/$t.log"
        echo "fuzz: $t crashed" >&2
        exit 1
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$work/$t.log" || true
done
echo "fuzz: ${#targets[@]} targets, 0 crashes"
