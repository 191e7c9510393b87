#!/usr/bin/env bash
# Soak: CLIENTS clients at RATE messages/s each for SECONDS; natterd's RSS sampled
# every 10 s must stay flat after warm-up, and no message may be lost.
#
#   scripts/soak.sh [CLIENTS] [RATE] [SECONDS]     (defaults 1000 5 300)
source "$(dirname "$0")/lib.sh"
clients=${1:-1000}
rate=${2:-5}
secs=${3:-300}
start_natterd --max-rate 0 --max-clients $((clients + 100))
(
  while kill -0 "$PID" 2>/dev/null; do
    sleep 10
    echo "t+$((SECONDS))s natterd RSS $(rss_kib) KiB" >&2
  done
) &
sampler=$!
SECONDS=0
"$LOAD" --port "$PORT" --server-pid "$PID" --timeout $((secs + 120)) \
  fanout --clients "$clients" --messages $((rate * secs)) --rate "$rate"
status=$?
kill "$sampler" 2>/dev/null || true
exit $status
