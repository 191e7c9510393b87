#!/usr/bin/env bash
# natterd's memory at startup, built two ways: the default build (dynamically linked
# against glibc) and a static build against musl, the one to run on small hosts.
#
#   scripts/startup-rss.sh
#
# Installs what the static build needs if missing: the Rust target for musl (rustup)
# and Debian's musl-tools (a C compiler for ring). Prints each build's resident set
# just after startup, and where it lies (natterd's own pages, shared libraries, heap).
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$(uname -m)
musl="$arch-unknown-linux-musl"
rustup target list --installed | grep -qx "$musl" || rustup target add "$musl"
command -v musl-gcc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null; }
cargo build --release -q --bin natterd
cargo build --release -q --bin natterd --target "$musl"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for bin in target/release/natterd "target/$musl/release/natterd"; do
  "$bin" 0 --shared-dir "$dir" --log-level warn >"$dir/out" &
  pid=$!
  for _ in $(seq 200); do grep -q listening "$dir/out" && break; sleep 0.05; done
  echo "$bin: $(awk '/VmRSS/ {print $2, $3}' "/proc/$pid/status") at startup"
  awk '/^[0-9a-f]+-/ {name = ($6 == "" ? "[anonymous]" : $6)} /^Rss:/ {rss[name] += $2}
       END {for (n in rss) if (rss[n] > 0) printf "  %6d kB  %s\n", rss[n], n}' "/proc/$pid/smaps" | sort -rn
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
