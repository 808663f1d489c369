#!/usr/bin/env bash
# Sets up what running needs from a clean checkout (scripts/setup.sh --run: no test tools),
# builds the relay and the browser node, creates a demo chain if there is none, and starts the
# central node (the relay), which serves the page. Each step says what it does; on a fresh
# 2-core machine the whole first run takes about 10 minutes, later runs a few seconds.
#   PORT=3000 DATA_DIR=./data BITS=16 ./scripts/run.sh
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

PORT="${PORT:-3000}"
DATA_DIR="${DATA_DIR:-$REPO_ROOT/data}"
BITS="${BITS:-16}"
NODE_ID="${NODE_ID:-3000}"
export NODE_ID

say() { printf '\n== %s\n' "$*"; }

say "checking the tools running needs (installs only what is missing)"
bash scripts/setup.sh --run
say "building the browser node, wasm (about 2 minutes the first time, seconds later)"
bash scripts/build-wasm.sh
say "building the relay (about 2 minutes the first time, seconds later)"
cargo build --release -p relay-server
relay="$REPO_ROOT/target/release/relay-server"
mkdir -p "$DATA_DIR"

if [ ! -f "$DATA_DIR/blockchain_${NODE_ID}.db" ]; then
    central="$("$relay" --data-dir "$DATA_DIR" createwallet | awk '{print $NF}')"
    "$relay" --data-dir "$DATA_DIR" createblockchain --address "$central" --bits "$BITS"
    echo "created a chain whose genesis pays CENTRAL = $central"
fi

cat <<MSG

The central node (relay) is starting on http://127.0.0.1:${PORT}/ (Ctrl-C stops it).
New here? Open the network lab, press "The seed's scenario" and watch it play out:
  lab          http://127.0.0.1:${PORT}/lab/
Or open a tab per node:
  wallet node  http://127.0.0.1:${PORT}/?node=3001
  miner node   http://127.0.0.1:${PORT}/?node=3002
The central node's own commands, in another terminal while it runs:
  $relay --data-dir $DATA_DIR listaddresses
  $relay --data-dir $DATA_DIR send --from CENTRAL --to ADDRESS --amount 10 --mine
  $relay --data-dir $DATA_DIR getbalance --address ADDRESS
MSG
exec "$relay" --data-dir "$DATA_DIR" startnode --listen "127.0.0.1:${PORT}"
