#!/usr/bin/env bash
# natterd side by side with ngircd, InspIRCd and Redis (pub/sub), on this machine, in
# one run, driven by the same load tool (natter-load). Loopback only; bounded.
#
#   scripts/compare.sh [CLIENTS] [MESSAGES] [IDLE]     (defaults 100 1000 10000)
#
# SERVERS="natterd redis" runs only those; NATTERD=path runs another natterd binary (an
# earlier build, say, for a before-and-after in one run).
#
# Installs the Debian packages ngircd, inspircd and redis-server if missing. Each peer
# runs on a free port with its throttling off, so the comparison measures the server,
# not its flood protection:
#   natterd   --max-rate 0 (flood control off), --max-clients IDLE+1000, --max-queue 64M
#             (the peers' output limits are raised or off too: a back-to-back flood
#             outruns natter-load's readers, and natterd would drop them as too slow)
#   ngircd    MaxPenaltyTime = 0 (no command penalties), no connection limits,
#             DNS/ident lookups off
#   InspIRCd  <connect> with fakelag="off", threshold and commandrate 100000000 (off in
#             effect; 0 does not turn them off), large sendq and recvq; --runasroot
#   redis     client-output-buffer-limit for pubsub off, maxclients IDLE+1000, no
#             persistence; each client uses two connections (publish and subscribe)
# Scenarios: fan-out flat out (CLIENTS x MESSAGES), with natter-load's windowed
# senders and with every message written back to back; paced chat at 10 x 1, 100 x 20
# and 500 x 5 msg/s (server CPU % at equal load, latency, lost); IDLE idle registered
# connections; startup RSS.
set -euo pipefail
clients=${1:-100}
messages=${2:-1000}
idle=${3:-10000}
cd "$(dirname "$0")/.."
need=()
command -v ngircd >/dev/null || need+=(ngircd)
command -v inspircd >/dev/null || need+=(inspircd)
command -v redis-server >/dev/null || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release -q --bin natterd --bin natter-load
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
load=target/release/natter-load
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "server on $1 did not start" >&2; return 1; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

start_natterd() {
  port=$(free_port)
  mkdir -p "$work/shared"
  "${NATTERD:-target/release/natterd}" "$port" --max-rate 0 --max-clients $((idle + 1000)) --max-queue 64M --shared-dir "$work/shared" --log-level warn >/dev/null 2>&1 &
  pid=$!; pids+=("$pid"); proto=natter; wait_port "$port"
}
start_ngircd() {
  port=$(free_port)
  cat >"$work/ngircd.conf" <<CONF
[Global]
Name = irc.load.test
Info = natter comparison
Listen = 127.0.0.1
Ports = $port
PidFile = $work/ngircd.pid
MotdPhrase = load test
ServerUID = $(id -u)
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 32
PingTimeout = 600
PongTimeout = 600
MaxPenaltyTime = 0
[Options]
PAM = no
DNS = no
Ident = no
CONF
  ngircd -n -f "$work/ngircd.conf" >/dev/null 2>&1 &
  pid=$!; pids+=("$pid"); proto=irc; wait_port "$port"
}
start_inspircd() {
  port=$(free_port)
  cat >"$work/inspircd.conf" <<CONF
<server name="irc.load.test" description="natter comparison" network="Load">
<admin name="load" nick="load" email="load@load.test">
<bind address="127.0.0.1" port="$port" type="clients">
<connect name="main" allow="*" timeout="60" pingfreq="600" sendq="268435456" recvq="1048576" threshold="100000000" commandrate="100000000" fakelag="off" localmax="1000000" globalmax="1000000" limit="1000000" maxconnwarn="off" resolvehostnames="no" useident="no">
<pid file="$work/inspircd.pid">
<performance softlimit="$((idle + 1000))" somaxconn="4096" quietbursts="yes" clonesonconnect="no">
<security hidesplits="no" allowcoreunload="no">
<options defaultmodes="nt">
<limits maxnick="32" maxchan="64">
<dns timeout="1">
<log method="file" type="*" level="none" target="$work/inspircd.log">
CONF
  inspircd --nofork --runasroot --config "$work/inspircd.conf" >"$work/inspircd.out" 2>&1 &
  pid=$!; pids+=("$pid"); proto=irc
  wait_port "$port" || { echo "inspircd did not start:" >&2; tail -5 "$work/inspircd.out" >&2; return 1; }
}
start_redis() {
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --protected-mode no \
    --maxclients $((2 * idle + 1000)) --client-output-buffer-limit "pubsub 0 0 0" --daemonize no >/dev/null 2>&1 &
  pid=$!; pids+=("$pid"); proto=redis; wait_port "$port"
}

declare -A R
# Idle runs on one fresh instance of each server and the fan-out and latency runs on
# another, so that neither colours the other: ngircd, for one, delivers at half speed
# after it has held 10,000 connections.
measure_idle() { # name
  local name=$1 out
  R[$name,startup]=$(rss "$pid")
  out=$($load --proto "$proto" --port "$port" --connect-batch "$batch" --server-pid "$pid" --timeout 300 idle --connections "$idle" --seconds 5 2>/dev/null || true)
  R[$name,idle]=$(awk '$1=="server_rss_per_connection_kib" {print $2}' <<<"$out")
}
# fanout KEY NAME ARGS...: one natter-load fanout run; keeps its figures under KEY.
fanout() {
  local key=$1 name=$2 out
  shift 2
  out=$($load --proto "$proto" --port "$port" --connect-batch "$batch" --server-pid "$pid" --timeout 120 fanout "$@" 2>/dev/null || true)
  R[$name,$key.dps]=$(awk '$1=="deliveries_per_s" {print $2}' <<<"$out")
  R[$name,$key.dpcpu]=$(awk '$1=="deliveries_per_cpu_s" {print $2}' <<<"$out")
  R[$name,$key.lost]=$(awk '$1=="lost" {print $2}' <<<"$out")
  R[$name,$key.p50]=$(awk '$1=="latency_us" {print $3}' <<<"$out")
  R[$name,$key.p99]=$(awk '$1=="latency_us" {print $5}' <<<"$out")
  R[$name,$key.max]=$(awk '$1=="latency_us" {print $9}' <<<"$out")
  R[$name,$key.cpu]=$(awk '$1=="server_cpu_s" {c=$2} $1=="elapsed_s" {e=$2} END {if (e > 0) printf "%.0f", 100 * c / e}' <<<"$out")
}
measure_traffic() { # name
  local name=$1
  # Flat out, two sending patterns: windowed (at most 32 unacknowledged) and back
  # to back (no window at all).
  fanout flat "$name" --clients "$clients" --messages "$messages"
  fanout burst "$name" --clients "$clients" --messages "$messages" --window 0
  # Paced, as real chat is: each about 10 s.
  fanout light "$name" --clients 10 --messages 10 --rate 1
  fanout p100 "$name" --clients 100 --messages 200 --rate 20
  fanout p500 "$name" --clients 500 --messages 50 --rate 5
}

read -r -a servers <<<"${SERVERS:-natterd ngircd inspircd redis}"
for s in "${servers[@]}"; do
  # ngircd listens with a backlog of about 10: connect a few at a time there.
  batch=128
  [ "$s" = ngircd ] && batch=8
  for part in idle traffic; do
    if "start_$s"; then
      "measure_$part" "$s"
    else
      echo "skipping $s ($part)" >&2
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "measured $s" >&2
done

ratio() { python3 -c "import sys; a,b=sys.argv[1],sys.argv[2]; print('-' if not a or not b or float(b)==0 else f'{float(a)/float(b):.2f}')" "${1:-}" "${2:-}"; }
printf '\n%-34s %12s %12s %12s %12s   %s\n' "metric" natterd ngircd inspircd redis "natterd / ngircd, inspircd, redis"
row() { # label key
  printf '%-34s %12s %12s %12s %12s   %s %s %s\n' "$1" "${R[natterd,$2]:-}" "${R[ngircd,$2]:-}" "${R[inspircd,$2]:-}" "${R[redis,$2]:-}" \
    "$(ratio "${R[natterd,$2]:-}" "${R[ngircd,$2]:-}")" "$(ratio "${R[natterd,$2]:-}" "${R[inspircd,$2]:-}")" "$(ratio "${R[natterd,$2]:-}" "${R[redis,$2]:-}")"
}
row "flat out, windowed: deliveries/s" flat.dps
row "  deliveries per server CPU-s" flat.dpcpu
row "  lost" flat.lost
row "flat out, back to back: deliveries/s" burst.dps
row "  deliveries per server CPU-s" burst.dpcpu
row "  lost" burst.lost
for k in light p100 p500; do
  case $k in
    light) label="10 clients x 1 msg/s" ;;
    p100) label="100 clients x 20 msg/s" ;;
    p500) label="500 clients x 5 msg/s" ;;
  esac
  row "$label: server CPU %" "$k.cpu"
  row "  latency p50 (us)" "$k.p50"
  row "  latency p99 (us)" "$k.p99"
  row "  latency max (us)" "$k.max"
  row "  lost" "$k.lost"
done
row "idle RSS per connection (KiB)" idle
row "startup RSS (KiB)" startup
echo
echo "($clients clients x $messages messages flat out, windowed and back to back; paced runs of about 10 s; $idle idle connections; $(nproc) cores, $(date -u +%Y-%m-%d))"
