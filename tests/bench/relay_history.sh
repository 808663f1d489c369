#!/usr/bin/env bash
# relay_history.sh RELAY_BIN CHAIN_DIR WORK_DIR LABEL [SYNCS]
# Copies CHAIN_DIR, starts the relay twice (first start may upgrade the file), measures the
# second: time to /status and VmRSS; then SYNCS empty relays download the whole chain from it
# at once; the serving relay's VmRSS and VmHWM after.
set -euo pipefail
BIN=$1; SRC=$2; WORK=$3; LABEL=$4; SYNCS=${5:-1}
rm -rf "$WORK"; mkdir -p "$WORK"; cp -r "$SRC" "$WORK/a"
rss() { awk '/VmRSS/{r=$2}/VmHWM/{h=$2}END{printf "%.1f %.1f\n", r/1024, h/1024}' /proc/$1/status; }
start() { # dir id extra...
  local dir=$1 id=$2; shift 2
  rm -f "$dir/node_$id.addr"
  RUST_LOG=warn "$BIN" --node-id "$id" --data-dir "$dir" startnode --listen 127.0.0.1:0 "$@" >"$WORK/relay-$id.log" 2>&1 &
  PID=$!
  T0=$(date +%s.%N)
  for _ in $(seq 3000); do
    if [ -s "$dir/node_$id.addr" ]; then
      ADDR=$(tr -d '[:space:]' <"$dir/node_$id.addr")
      if STATUS=$(curl -sf "http://$ADDR/status"); then T1=$(date +%s.%N); return 0; fi
    fi
    sleep 0.01
  done
  return 1
}
start "$WORK/a" 3000; kill -TERM $PID; wait $PID || true
first=$(echo "$T1 - $T0" | bc)
start "$WORK/a" 3000; A=$PID; AADDR=$ADDR
t=$(echo "$T1 - $T0" | bc)
H=$(echo "$STATUS" | sed 's/.*"height":\([0-9]*\).*/\1/')
sleep 1
read r0 h0 < <(rss $A)
PIDS=()
for i in $(seq $SYNCS); do
  mkdir -p "$WORK/b$i"
  start "$WORK/b$i" $((3000+i)) --peer "ws://$AADDR/ws"; PIDS+=($PID)
done
S0=$(date +%s.%N)
if [ -n "${SYNC_FOR:-}" ]; then sleep "$SYNC_FOR"; fi
for i in $(seq $SYNCS); do
  [ -n "${SYNC_FOR:-}" ] && break
  d="$WORK/b$i"; id=$((3000+i))
  until [ "$(curl -sf "http://$(tr -d '[:space:]' <"$d/node_$id.addr")/status" | sed 's/.*"height":\([0-9]*\).*/\1/')" = "$H" ]; do sleep 0.5; done
done
S1=$(date +%s.%N)
read r1 h1 < <(rss $A)
SYNCED=""
for i in $(seq $SYNCS); do SYNCED="$SYNCED$(curl -sf "http://$(tr -d '[:space:]' <"$WORK/b$i/node_$((3000+i)).addr")/status" | sed 's/.*"height":\([0-9]*\).*/\1/'),"; done
echo "{\"label\":\"$LABEL\",\"height\":$H,\"first_start_s\":$first,\"start_s\":$t,\"rss_start_mb\":$r0,\"syncs\":$SYNCS,\"sync_s\":$(echo "$S1 - $S0" | bc),\"rss_after_sync_mb\":$r1,\"hwm_mb\":$h1,\"synced\":\"$SYNCED\"}"
for p in "${PIDS[@]}"; do kill -TERM $p; done
kill -TERM $A; wait || true
rm -rf "$WORK"
