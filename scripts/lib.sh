# Shared by the load scripts: build, start a natterd on a free loopback port, clean up.
# Sets PORT, PID and SHARED; stops natterd and removes its folder on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -q --bin natterd --bin natter-load --bin natter
ulimit -n "$(ulimit -Hn)"
LOAD=target/release/natter-load
NATTER=target/release/natter
SHARED=$(mktemp -d)
_out=$(mktemp)
PID=""
_cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$SHARED" "$_out"; }
trap _cleanup EXIT
# start_natterd [natterd options...]: flood control is off unless the options say otherwise.
start_natterd() {
  target/release/natterd 0 --max-rate 0 --shared-dir "$SHARED" --log-level warn "$@" >"$_out" &
  PID=$!
  for _ in $(seq 200); do grep -q listening "$_out" && break; sleep 0.05; done
  PORT=$(grep -oE '[0-9]+$' "$_out")
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
