#!/usr/bin/env bash
# File-transfer benchmark: natterd against socat on the same machine, in one run.
#
#   scripts/bench-files.sh [BIG_MIB] [SHARED_MIB] [CLIENTS]     (defaults 1024 200 16)
#
# 1. One BIG_MIB file downloaded once from natterd, and once through socat over
#    loopback (the "cat file | nc" baseline); prints both rates and their ratio.
# 2. CLIENTS clients download one SHARED_MIB file at once; prints the wall time and
#    natterd's peak RSS growth over its idle RSS.
# Installs socat if missing (Debian). Loopback only; everything stops by itself.
big=${1:-1024}
shared=${2:-200}
clients=${3:-16}
source "$(dirname "$0")/lib.sh"
command -v socat >/dev/null || { apt-get update -qq && apt-get install -y -qq socat >/dev/null; }
dir=$SHARED
echo "making test files in $dir ..."
head -c "$((big << 20))" /dev/urandom >"$dir/big.bin"
head -c "$((shared << 20))" /dev/urandom >"$dir/shared.bin"
cat "$dir/big.bin" "$dir/shared.bin" >/dev/null # warm the page cache for both contenders

start_natterd
pid=$PID
port=$PORT
rss() { awk "/$1/ {print \$2}" "/proc/$pid/status"; }

read -r bytes secs < <(python3 scripts/fetch.py "$port" big.bin 1)
natter_rate=$(python3 -c "print(f'{$bytes / $secs / 1e9:.3f}')")

sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
socat -u "FILE:$dir/big.bin" "TCP-LISTEN:$sport,bind=127.0.0.1,reuseaddr" &
spid=$!
EXTRA_PIDS+=("$spid")
# retry= waits for the listener to be up; the timing starts after a first try.
socat -u "TCP:127.0.0.1:$sport,retry=100,interval=0.05" - </dev/null >/dev/null 2>&1 &
wait $! || true
wait "$spid" 2>/dev/null || true
socat -u "FILE:$dir/big.bin" "TCP-LISTEN:$sport,bind=127.0.0.1,reuseaddr" &
spid=$!
EXTRA_PIDS+=("$spid")
t0=$(date +%s.%N)
socat -u "TCP:127.0.0.1:$sport,retry=100,interval=0.01" - >/dev/null
t1=$(date +%s.%N)
socat_rate=$(python3 -c "print(f'{($big << 20) / ($t1 - $t0) / 1e9:.3f}')")
echo "one ${big} MiB download: natterd ${natter_rate} GB/s, socat ${socat_rate} GB/s, ratio $(python3 -c "print(f'{$natter_rate / $socat_rate:.2f}')")"

idle=$(rss VmRSS)
read -r bytes secs < <(python3 scripts/fetch.py "$port" shared.bin "$clients")
peak=$(rss VmHWM)
echo "${clients} clients x ${shared} MiB: ${secs} s, $(python3 -c "print(f'{$bytes / $secs / 1e9:.3f}')") GB/s total"
echo "natterd RSS idle ${idle} KiB, peak ${peak} KiB, growth $((peak - idle)) KiB"
