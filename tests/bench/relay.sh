#!/usr/bin/env bash
# Load benchmark of the relay (relay-server startnode) on loopback, driven by the native load
# generator relay-server/examples/loadgen.rs. Three measurements, each on a freshly started
# relay process over the same data directory:
#   1. fan-out: PEERS_FANOUT handshaken peers; a miner peer announces a block (inv, the
#      relay's getdata, block); per peer, the time until the relay's inv for it arrives.
#   2. idle memory: up to PEERS_IDLE idle handshaken peers; the relay's VmRSS before and after.
#   3. transaction ingest: TXS signed one-input transactions pushed by PUSHERS peers; accepted
#      tx/s against the machine's bare signature verification rate, in the same run.
# One JSON line per measurement on stdout (also in WORK_DIR/results.jsonl); relay logs in
# WORK_DIR/relay-*.log.
#
#   tests/bench/relay.sh [WORK_DIR]
#   env: PEERS_FANOUT=1000 ROUNDS=5 PEERS_IDLE=10000 TXS=20000 PUSHERS=4 RELAY_LOG=info
#        SKIP_BUILD=1 (use the existing release build) ONLY="fanout idle ingest"
set -euo pipefail
cd "$(dirname "$0")/../.."

PEERS_FANOUT=${PEERS_FANOUT:-1000}
ROUNDS=${ROUNDS:-5}
PEERS_IDLE=${PEERS_IDLE:-10000}
TXS=${TXS:-20000}
PUSHERS=${PUSHERS:-4}
RELAY_LOG=${RELAY_LOG:-info}   # the relay's own default
ONLY=${ONLY:-"fanout idle ingest"}
RELAY=target/release/relay-server
LOADGEN=target/release/examples/loadgen
NODE_ID=3000

# Each peer is a socket in the load generator and one in the relay (separate processes).
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ]; then hard=1048576; fi
ulimit -n "$hard"
need=$((PEERS_IDLE + 200))
if [ "$(ulimit -n)" -lt "$need" ]; then
  echo "note: open-file limit $(ulimit -n) < $need; idle peers capped at $(( $(ulimit -n) - 200 ))" >&2
  PEERS_IDLE=$(( $(ulimit -n) - 200 ))
fi

if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -p relay-server --bin relay-server --example loadgen
fi

WORK=${1:-$(mktemp -d /tmp/relaybench.XXXXXX)}
DATA=$WORK/data
RESULTS=$WORK/results.jsonl
mkdir -p "$WORK"
: >"$RESULTS"
RELAY_PID=
ADDR=

cleanup() {
  if [ -n "$RELAY_PID" ] && kill -0 "$RELAY_PID" 2>/dev/null; then
    kill -TERM "$RELAY_PID" 2>/dev/null || true
    wait "$RELAY_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

start_relay() { # name, extra startnode flags...
  local name=$1
  shift
  rm -f "$DATA/node_$NODE_ID.addr"
  RUST_LOG=$RELAY_LOG "$RELAY" --node-id "$NODE_ID" --data-dir "$DATA" startnode \
    --listen 127.0.0.1:0 "$@" >"$WORK/relay-$name.log" 2>&1 &
  RELAY_PID=$!
  for _ in $(seq 600); do
    if [ -s "$DATA/node_$NODE_ID.addr" ]; then
      ADDR=$(tr -d '[:space:]' <"$DATA/node_$NODE_ID.addr")
      if curl -sf "http://$ADDR/status" >/dev/null; then
        echo "relay ($name) pid $RELAY_PID on $ADDR: $*" >&2
        return 0
      fi
    fi
    kill -0 "$RELAY_PID" 2>/dev/null || { tail "$WORK/relay-$name.log" >&2; return 1; }
    sleep 0.1
  done
  echo "relay did not start" >&2
  return 1
}

stop_relay() {
  kill -TERM "$RELAY_PID"
  wait "$RELAY_PID" || true
  RELAY_PID=
}

run() { # loadgen arguments...
  "$LOADGEN" "$@" | tee -a "$RESULTS"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(free -m | awk '/Mem:/ {print $2}') MB; open files $(ulimit -n); work dir $WORK" >&2

# A chain whose TXS outputs of value 1 pay one key, written as the relay's wallet.
run prepare --data-dir "$DATA" --node-id "$NODE_ID" --coins "$TXS"

if [[ " $ONLY " == *" fanout "* ]]; then
  # The peers plus the miner peer must fit under --max-peers.
  start_relay fanout --max-peers $((PEERS_FANOUT + 100))
  run fanout --relay "$ADDR" --pid "$RELAY_PID" --relay-log "$WORK/relay-fanout.log" \
    --peers "$PEERS_FANOUT" --rounds "$ROUNDS"
  stop_relay
fi

if [[ " $ONLY " == *" idle "* ]]; then
  start_relay idle --max-peers $((PEERS_IDLE + 100))
  run idle --relay "$ADDR" --pid "$RELAY_PID" --peers "$PEERS_IDLE"
  stop_relay
fi

if [[ " $ONLY " == *" ingest "* ]]; then
  start_relay ingest --max-mempool-txs $((TXS + 1000))
  run ingest --relay "$ADDR" --pid "$RELAY_PID" --data-dir "$DATA" --node-id "$NODE_ID" \
    --txs "$TXS" --pushers "$PUSHERS"
  stop_relay
fi

echo "results: $RESULTS" >&2
