#!/usr/bin/env bash
# Memory with many idle named connections, from natter-load.
#
#   scripts/load-idle.sh [CONNECTIONS] [SECONDS]     (defaults 10000 10)
source "$(dirname "$0")/lib.sh"
n=${1:-10000}
secs=${2:-10}
start_natterd --max-rate 0 --max-clients $((n + 100))
echo "natterd startup RSS: $(rss_kib) KiB"
"$LOAD" --port "$PORT" --server-pid "$PID" --timeout 600 idle --connections "$n" --seconds "$secs"
