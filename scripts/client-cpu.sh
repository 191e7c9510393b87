#!/usr/bin/env bash
# What a busy room costs the natter client: one `natter --batch` reads the room while
# natter-load's CLIENTS clients send RATE messages a second each for SECONDS; prints
# natter's CPU seconds (utime + stime from /proc) and its wake-ups (context switches),
# with natterd's coalescing as it is and turned off (--coalesce-max 0).
#
#   scripts/client-cpu.sh [CLIENTS] [RATE] [SECONDS]     (defaults 499 5 10)
#
# Loopback only; everything stops by itself.
clients=${1:-499}
rate=${2:-5}
secs=${3:-10}
source "$(dirname "$0")/lib.sh"
ticks=$(getconf CLK_TCK)
for coalesce in default 0; do
  : >"$_out"
  if [ "$coalesce" = default ]; then start_natterd --max-rate 0; else start_natterd --max-rate 0 --coalesce-max 0; fi
  out=$(mktemp)
  "$NATTER" --batch --linger $((secs + 30)) watcher 127.0.0.1 "$PORT" </dev/null >"$out" 2>&1 &
  npid=$!
  EXTRA_PIDS+=("$npid")
  for _ in $(seq 200); do grep -q 'joined as' "$out" && break; sleep 0.05; done
  "$LOAD" --port "$PORT" --server-pid "$PID" --timeout 120 fanout --clients "$clients" --messages $((rate * secs)) --rate "$rate" >/dev/null
  read -r cpu < <(awk -v t="$ticks" '{print ($14 + $15) / t}' "/proc/$npid/stat")
  switches=$(awk '/ctxt_switches/ {s += $2} END {print s}' /proc/"$npid"/task/*/status)
  lines=$(grep -c '<' "$out" || true)
  echo "coalescing ${coalesce}: natter CPU ${cpu} s for ${lines} messages in ${secs} s, ${switches} context switches"
  kill "$npid" "$PID" 2>/dev/null || true
  wait "$npid" "$PID" 2>/dev/null || true
  rm -f "$out"
  PID=""
done
