#!/usr/bin/env bash
# Fault-and-abuse run against a fresh natterd (release build) on loopback.
#
#   scripts/abuse.sh [SECONDS] [CHURN]     (defaults: 60 s, 1000 connections per churn round)
#
# See scripts/abuse.py for what it does and checks. Runs natterd with its default
# hardening (flood control, timeouts, queue caps) except the per-address limit, which
# loopback is exempt from anyway. Needs python3. Ends by itself; exit 0 when every
# check passed. The suite's short form is server/tests/abuse.rs.
set -euo pipefail
secs=${1:-60}
churn=${2:-1000}
cd "$(dirname "$0")/.."
cargo build --release -q --bin natterd
dir=$(mktemp -d)
out=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir" "$out"' EXIT
ulimit -n "$(ulimit -Hn)"
target/release/natterd 0 --shared-dir "$dir" --max-clients 5000 --log-level warn >"$out" &
pid=$!
for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
port=$(grep -oE '[0-9]+$' "$out")
python3 scripts/abuse.py "$port" "$dir" "$pid" "$secs" "$churn"
