#!/usr/bin/env bash
# Chat load spread over several natterd nodes: NODES natterds on free ports, and
# natter-load's fanout with its clients round robin over them (--port A,B,...),
# reporting every node's CPU and memory (--server-pid A,B,...) and their sums, and the
# latency of messages within one node and across nodes apart.
#
#   scripts/load-nodes.sh [NODES] [CLIENTS] [MESSAGES]     (defaults 3 99 200)
#
# CLUSTER=redis://HOST:PORT joins the nodes into one chat through that Redis
# (natterd --cluster URL --node-name nodeK). Without it the nodes are separate
# servers, each delivering only among its own clients: the cross-node messages are
# all lost, by design, and only the same-port latency means anything.
source "$(dirname "$0")/lib.sh"
nodes=${1:-3}
clients=${2:-99}
messages=${3:-200}
ports=()
pids=()
for k in $(seq 1 "$nodes"); do
  mkdir "$SHARED/node$k"
  cluster=()
  if [ -n "${CLUSTER:-}" ]; then cluster=(--cluster "$CLUSTER" --node-name "node$k"); fi
  out="$SHARED/node$k.out"
  target/release/natterd 0 --shared-dir "$SHARED/node$k" --log-level warn --max-rate 0 \
    --max-clients $((clients + 100)) "${cluster[@]}" >"$out" &
  pid=$!
  EXTRA_PIDS+=("$pid")
  pids+=("$pid")
  for _ in $(seq 200); do
    grep -q listening "$out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  port=$(grep -oE '[0-9]+$' "$out" || true)
  if [ -z "$port" ]; then echo "node$k did not start" >&2; exit 1; fi
  ports+=("$port")
done
portlist=$(IFS=,; echo "${ports[*]}")
pidlist=$(IFS=,; echo "${pids[*]}")
echo "== $clients clients x $messages messages over $nodes nodes (${CLUSTER:-separate, not a cluster}), ports $portlist"
status=0
result=$("$LOAD" --port "$portlist" --server-pid "$pidlist" --timeout 300 \
  fanout --clients "$clients" --messages "$messages") || status=$?
echo "$result"
if [ -z "${CLUSTER:-}" ] && [ "$status" = 1 ] && grep -qx 'errors 0' <<<"$result"; then
  echo "(separate nodes: the messages lost are the ones between nodes)"
  status=0
fi
exit "$status"
