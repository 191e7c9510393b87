#!/usr/bin/env bash
# A local natter cluster: a redis-server of its own on a free loopback port
# (persistence off), and N natterd nodes joined through it.
#
#   scripts/cluster.sh [N]                  N nodes (default 3) on N free ports; runs
#                                           until Ctrl-C, then stops them all
#   scripts/cluster.sh N --port P           N nodes sharing port P (--reuse-port): the
#                                           kernel spreads clients over them
#   scripts/cluster.sh N -- COMMAND ...     runs COMMAND with the cluster up, then stops
#                                           it; COMMAND sees PORTS (comma list), PIDS
#                                           (comma list), REDIS_URL and REDIS_PID
#
# Extra natterd flags: NATTERD_FLAGS="--max-rate 0 --log-level warn".
# Example, a load test over three nodes (flood control off, as for every load run):
#   NATTERD_FLAGS="--max-rate 0" scripts/cluster.sh 3 -- sh -c 'target/release/natter-load --port "$PORTS" \
#     --server-pid "$PIDS" fanout --clients 99 --messages 200 --rate 5'
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=${1:-3}
shift || true
shared_port=""
if [ "${1:-}" = "--port" ]; then shared_port=$2; shift 2; fi
if [ "${1:-}" = "--" ]; then shift; fi
command -v redis-server >/dev/null || {
  echo "cluster.sh: redis-server is not installed (Debian/Ubuntu: sudo apt-get install redis-server)" >&2
  exit 1
}
cargo build --release -q --bin natterd --bin natter-load --bin natter
ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$dir" --logfile "$dir/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
url="redis://127.0.0.1:$redis_port"

ports=()
node_pids=()
for k in $(seq 1 "$n"); do
  mkdir -p "$dir/node$k"
  port=${shared_port:-0}
  reuse=()
  if [ -n "$shared_port" ]; then reuse=(--reuse-port); fi
  # shellcheck disable=SC2086
  target/release/natterd "$port" --cluster "$url" --node-name "node$k" \
    --shared-dir "$dir/node$k" "${reuse[@]}" ${NATTERD_FLAGS:-} \
    >"$dir/node$k.out" 2>"$dir/node$k.log" &
  pid=$!
  pids+=("$pid")
  node_pids+=("$pid")
  for _ in $(seq 200); do
    grep -q "linked to" "$dir/node$k.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/node$k.log" >&2; exit 1; }
    sleep 0.05
  done
  ports+=("$(grep -oE '[0-9]+$' "$dir/node$k.out")")
done
PORTS=$(IFS=,; echo "${ports[*]}")
PIDS=$(IFS=,; echo "${node_pids[*]}")
export PORTS PIDS REDIS_URL=$url REDIS_PID=$redis_pid
echo "cluster: $n nodes on port(s) $PORTS (pids $PIDS), Redis $url (pid $redis_pid)"
if [ $# -gt 0 ]; then
  "$@"
  exit $?
fi
echo "logs in $dir; connect with: target/release/natter 127.0.0.1:${ports[0]}; Ctrl-C stops it all"
wait "$redis_pid"
