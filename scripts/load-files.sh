#!/usr/bin/env bash
# CLIENTS clients download one MIB file at once, from natter-load; natterd's memory.
#
#   scripts/load-files.sh [MIB] [CLIENTS]     (defaults 200 16)
source "$(dirname "$0")/lib.sh"
mib=${1:-200}
clients=${2:-16}
head -c "$((mib << 20))" /dev/urandom >"$SHARED/load.bin"
cat "$SHARED/load.bin" >/dev/null
start_natterd --max-rate 0
"$LOAD" --port "$PORT" --server-pid "$PID" --timeout 600 download --clients "$clients" --file load.bin
