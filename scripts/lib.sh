# Shared by the scripts: build, start a natterd on a free loopback port, clean up.
# Sets PORT, PID and SHARED; on exit stops natterd and any pid in EXTRA_PIDS (a
# script's own helpers, like socat) and removes the folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -q --bin natterd --bin natter-load --bin natter
ulimit -n "$(ulimit -Hn)"
LOAD=target/release/natter-load
NATTER=target/release/natter
SHARED=$(mktemp -d)
_out=$(mktemp)
PID=""
EXTRA_PIDS=()
_cleanup() {
  for p in "$PID" "${EXTRA_PIDS[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  rm -rf "$SHARED" "$_out"
  return 0
}
trap _cleanup EXIT
# start_natterd [natterd options...]: natterd's own defaults otherwise; load runs pass
# --max-rate 0 to turn flood control off.
start_natterd() {
  target/release/natterd 0 --shared-dir "$SHARED" --log-level warn "$@" >"$_out" &
  PID=$!
  for _ in $(seq 200); do grep -q listening "$_out" && break; sleep 0.05; done
  PORT=$(grep -oE '[0-9]+$' "$_out")
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
