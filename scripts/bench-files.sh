#!/usr/bin/env bash
# File-transfer benchmark: natterd against socat and nginx on the same machine, in one
# run.
#
#   scripts/bench-files.sh [BIG_MIB] [SHARED_MIB] [CLIENTS]     (defaults 1024 200 16)
#
# 1. One BIG_MIB file downloaded once from natterd, and once through socat over
#    loopback (the "cat file | nc" baseline); prints both rates and their ratio. Then
#    the same file from natterd (1 MiB and 64 KiB frames) and from nginx, REPS times
#    in turn (default 5), all fetched by natter-load, with each server's median CPU
#    seconds per GiB served (utime + stime from /proc, nginx's workers included).
# 2. CLIENTS clients download one SHARED_MIB file at once, from natterd (natter) and
#    from nginx (HTTP/1.1), both driven by natter-load, REPS times in turn; prints
#    both median wall times, their ratio, and natterd's peak RSS growth over its idle
#    RSS.
# nginx runs as Debian ships it (sendfile on, one worker per core) from a config
# written to a temporary folder, logging off. Installs socat and nginx if missing
# (Debian). Loopback only; everything stops by itself.
big=${1:-1024}
shared=${2:-200}
clients=${3:-16}
source "$(dirname "$0")/lib.sh"
need=()
command -v socat >/dev/null || need+=(socat)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
dir=$SHARED
echo "making test files in $dir ..."
head -c "$((big << 20))" /dev/urandom >"$dir/big.bin"
head -c "$((shared << 20))" /dev/urandom >"$dir/shared.bin"
cat "$dir/big.bin" "$dir/shared.bin" >/dev/null # warm the page cache for both contenders

start_natterd
pid=$PID
port=$PORT
# natterd hashes files put in by hand on turns with nothing else to do; measure once
# both are hashed (their FILE lines carry a SHA-256), so no download shares the loop
# with that.
python3 - "$port" <<'PY'
import socket, sys, time
end = time.time() + 120
while time.time() < end:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"HELLO hashwait\nFILES\nQUIT\n")
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    items = [l.split() for l in data.decode().splitlines() if l.startswith("FILE ")]
    if len(items) == 2 and all(len(i) == 5 for i in items):
        break
    time.sleep(0.2)
PY
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

ticks=$(getconf CLK_TCK)
# cpu_s PID...: user + system seconds those processes have used so far.
cpu_s() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  python3 -c "print($t / $ticks)"
}
nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ngx=$(mktemp -d)
cat >"$ngx/nginx.conf" <<CONF
user $(id -un);
worker_processes auto;
daemon off;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path $ngx/body;
  proxy_temp_path $ngx/proxy;
  fastcgi_temp_path $ngx/fastcgi;
  uwsgi_temp_path $ngx/uwsgi;
  scgi_temp_path $ngx/scgi;
  server { listen 127.0.0.1:$nport; root $dir; }
}
CONF
chmod 755 "$dir"
"$NGINX" -p "$ngx" -e "$ngx/error.log" -c "$ngx/nginx.conf" &
ngpid=$!
EXTRA_PIDS+=("$ngpid")
for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$nport") 2>/dev/null && break; sleep 0.05; done
workers=""
for _ in $(seq 200); do workers=$(pgrep -P "$ngpid" | tr '\n' ' ' || true); [ -n "$workers" ] && break; sleep 0.05; done
# The big file from each, by the same client, with the server's CPU: REPS rounds
# (default 5) taking turns, each figure the median. natterd twice: frames of 1 MiB
# (what natter asks for) and of 64 KiB (the protocol's default: nc, older clients).
reps=${REPS:-5}
per_gib() { python3 -c "print(f'{($2 - $1) * 1024 / $big:.3f}')"; }
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
big_runs=() small_runs=() nginx_runs=()
for _ in $(seq "$reps"); do
  c0=$(cpu_s "$pid")
  "$LOAD" --port "$port" --server-pid "$pid" --timeout 300 download --clients 1 --file big.bin >/dev/null
  c1=$(cpu_s "$pid")
  "$LOAD" --port "$port" --server-pid "$pid" --timeout 300 download --clients 1 --file big.bin --frame 65536 >/dev/null
  c2=$(cpu_s "$pid")
  # shellcheck disable=SC2086
  g0=$(cpu_s "$ngpid" $workers)
  "$LOAD" --port "$nport" --timeout 300 download --http --clients 1 --file big.bin >/dev/null
  # shellcheck disable=SC2086
  g1=$(cpu_s "$ngpid" $workers)
  big_runs+=("$(per_gib "$c0" "$c1")")
  small_runs+=("$(per_gib "$c1" "$c2")")
  nginx_runs+=("$(per_gib "$g0" "$g1")")
done
nb=$(echo "${big_runs[*]}" | median)
ns=$(echo "${small_runs[*]}" | median)
ng=$(echo "${nginx_runs[*]}" | median)
echo "one ${big} MiB download, server CPU per GiB (median of $reps): natterd ${nb} s (1 MiB frames; ${ns} s with 64 KiB), nginx ${ng} s, ratio $(python3 -c "print(f'{$nb / $ng:.2f}')")"
echo "  each run: natterd ${big_runs[*]}; 64 KiB frames ${small_runs[*]}; nginx ${nginx_runs[*]}"

# Peak RSS counts from here: clear the high-water mark the big download left.
echo 5 >"/proc/$pid/clear_refs"
idle=$(rss VmRSS)
natter_runs=() nginx_shared=()
for _ in $(seq "$reps"); do
  out=$("$LOAD" --port "$port" --server-pid "$pid" --timeout 300 download --clients "$clients" --file shared.bin)
  [ "$(awk '$1=="completed" {print $2}' <<<"$out")" = "$clients" ] || { echo "natterd downloads failed: $out" >&2; exit 1; }
  natter_runs+=("$(awk '$1=="elapsed_s" {print $2}' <<<"$out")")
  out=$("$LOAD" --port "$nport" --timeout 300 download --http --clients "$clients" --file shared.bin)
  [ "$(awk '$1=="completed" {print $2}' <<<"$out")" = "$clients" ] || { echo "nginx downloads failed: $out" >&2; exit 1; }
  nginx_shared+=("$(awk '$1=="elapsed_s" {print $2}' <<<"$out")")
done
peak=$(rss VmHWM)
natter_s=$(echo "${natter_runs[*]}" | median)
nginx_s=$(echo "${nginx_shared[*]}" | median)
kill "$ngpid"
wait "$ngpid" 2>/dev/null || true
rm -rf "$ngx"

echo "${clients} clients x ${shared} MiB (median of $reps): natterd ${natter_s} s, nginx ${nginx_s} s, ratio $(python3 -c "print(f'{$natter_s / $nginx_s:.2f}')") (natterd's time over nginx's)"
echo "  each run: natterd ${natter_runs[*]}; nginx ${nginx_shared[*]}"
echo "natterd RSS idle ${idle} KiB, peak ${peak} KiB, growth $((peak - idle)) KiB"
