#!/usr/bin/env bash
# What the cluster costs and gives, in one run on this machine: the same paced chat
# load (natter-load, its clients round robin over the nodes) against
#   lone    one natterd without --cluster
#   1 node  one natterd with --cluster (the bus with nobody else on it)
#   2 nodes two natterds with --cluster, half the clients on each
#   3 nodes (with NODES="1 2 3")
# and for each: deliveries/s, the nodes' CPU (sum, % of one core), Redis's CPU,
# latency within a node and across nodes (p50/p99), lost, and bus bytes per message
# (Redis's network counters: in = what nodes publish, out = what it fans out).
#
#   scripts/bench-cluster.sh [SECONDS]      (default 10 s per run)
#
# LOADS="100x20 500x5" picks the paced loads (CLIENTSxRATE). Needs redis-server.
set -euo pipefail
seconds=${1:-10}
cd "$(dirname "$0")/.."
command -v redis-server >/dev/null || {
  echo "bench-cluster.sh: needs redis-server (Debian: sudo apt-get install redis-server)" >&2
  exit 1
}
cargo build --release -q --bin natterd --bin natter-load
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }
info() { redis-cli -p "$rport" info stats | awk -F: -v k="$1" '$1==k {gsub("\r","",$2); print $2}'; }

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --client-output-buffer-limit "pubsub 0 0 0" >/dev/null 2>&1 &
rpid=$!
pids+=("$rpid")
for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done

# start_nodes MODE N: N natterds (MODE lone: no cluster); sets ports, npids.
start_nodes() {
  local mode=$1 n=$2 k port
  ports=()
  npids=()
  for k in $(seq 1 "$n"); do
    port=$(free_port)
    mkdir -p "$work/f$k"
    local cl=()
    [ "$mode" = cluster ] && cl=(--cluster "redis://127.0.0.1:$rport" --node-name "node$k")
    target/release/natterd "$port" --max-rate 0 --max-clients 2000 --shared-dir "$work/f$k" \
      --log-level warn "${cl[@]}" >/dev/null 2>"$work/node$k.log" &
    npids+=("$!")
    pids+=("$!")
    ports+=("$port")
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  done
  # Linked and meshed: every node has heard every other.
  if [ "$mode" = cluster ]; then
    for k in $(seq 1 "$n"); do
      for _ in $(seq 200); do grep -q "linked to" "$work/node$k.log" && break; sleep 0.05; done
    done
    sleep 1
  fi
}
stop_nodes() { for p in "${npids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }

printf '%-8s %-7s %10s %8s %8s %10s %10s %10s %10s %6s %8s %8s\n' load setup deliv/s nodes% redis% same_p50 same_p99 cross_p50 cross_p99 lost in_B/msg out_B/msg
for load in ${LOADS:-100x20 500x5}; do
  clients=${load%x*}
  rate=${load#*x}
  messages=$((rate * seconds))
  for setup in ${NODES:-lone 1 2}; do
    if [ "$setup" = lone ]; then start_nodes lone 1; else start_nodes cluster "$setup"; fi
    portlist=$(IFS=,; echo "${ports[*]}")
    pidlist=$(IFS=,; echo "${npids[*]}")
    r0=$(cpu_s "$rpid"); in0=$(info total_net_input_bytes); out0=$(info total_net_output_bytes)
    out=$(target/release/natter-load --port "$portlist" --server-pid "$pidlist" --timeout 300 \
      fanout --clients "$clients" --messages "$messages" --rate "$rate" 2>/dev/null || true)
    r1=$(cpu_s "$rpid"); in1=$(info total_net_input_bytes); out1=$(info total_net_output_bytes)
    stop_nodes
    sent=$(awk '$1=="sent" {print $2}' <<<"$out")
    awk -v load="$load" -v setup="$setup" -v r0="$r0" -v r1="$r1" -v in0="$in0" -v in1="$in1" \
      -v out0="$out0" -v out1="$out1" -v sent="$sent" -v secs="$seconds" '
      $1=="deliveries_per_s" {dps=$2}
      $1=="server_cpu_s" {cpu=$2}
      $1=="lost" {lost=$2}
      $1=="latency_us" && !same {same50=$3; same99=$5}
      $1=="latency_same_port_us" {same=1; same50=$5; same99=$7}
      $1=="latency_cross_port_us" && $3 > 0 {cross50=$5; cross99=$7}
      END {
        bus = (setup != "lone" && sent > 0)
        printf "%-8s %-7s %10s %8.0f %8.0f %10s %10s %10s %10s %6s %8s %8s\n", load, setup, dps,
          100 * cpu / secs, 100 * (r1 - r0) / secs, same50, same99,
          cross50 ? cross50 : "-", cross99 ? cross99 : "-", lost,
          bus ? sprintf("%.0f", (in1 - in0) / sent) : "-", bus ? sprintf("%.0f", (out1 - out0) / sent) : "-"
      }' <<<"$out"
  done
done
echo "(paced runs of $seconds s; latency in us; nodes% and redis% of one core over the run; $(nproc) cores, $(date -u +%Y-%m-%d))"
