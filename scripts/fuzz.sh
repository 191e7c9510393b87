#!/usr/bin/env bash
# Fuzzes the frame decoder, the file-name rules and the calculator with libFuzzer.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default 60 s each; targets decode file_name calc)
#
# Needs the nightly toolchain and cargo-fuzz (installed here if missing). Each target
# runs for SECONDS on one core from its own fuzz package: decode and file_name from
# protocol/fuzz/ (they test only natter-protocol), calc from server/fuzz/. It starts
# from the seed corpus in that package's corpus/<target>/, and what it finds lands in
# its artifacts/<target>/. The suite's short form of this is protocol/tests/fuzz_corpus.rs
# and server/tests/fuzz_corpus.rs, which replay the committed corpora through the same
# checks (each package's checks.rs) on stable Rust.
set -euo pipefail
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode file_name calc)
root="$(cd "$(dirname "$0")/.." && pwd)"
for t in "${targets[@]}"; do
  case "$t" in
    decode | file_name | calc) ;;
    *) echo "unknown target $t (targets: decode file_name calc)" >&2; exit 2 ;;
  esac
done
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for t in "${targets[@]}"; do
  case "$t" in
    calc) cd "$root/server" ;;
    *) cd "$root/protocol" ;;
  esac
  echo "== fuzzing $t for ${secs}s"
  # A scratch copy of the corpus, so a run does not flood the committed seeds.
  work=$(mktemp -d)
  cp -r "fuzz/corpus/$t/." "$work/"
  cargo +nightly fuzz run "$t" "$work" -- -max_total_time="$secs" -max_len=9000 2>&1 \
    | grep -E '^#[0-9]+ *(DONE|pulse)|^Done|ERROR|panicked|SUMMARY|stat::' || true
  rm -rf "$work"
done
