#!/usr/bin/env bash
# Fuzzes the frame decoder, the file-name rules and the calculator with libFuzzer.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default 60 s each; targets decode file_name calc)
#
# Needs the nightly toolchain and cargo-fuzz (installed here if missing). Each target
# runs for SECONDS on one core, starting from the seed corpus in server/fuzz/corpus/;
# what it finds lands in server/fuzz/artifacts/. The suite's short form of this is
# server/tests/fuzz_corpus.rs, which replays the committed corpus on stable Rust.
set -euo pipefail
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode file_name calc)
cd "$(dirname "$0")/../server"
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${secs}s"
  # A scratch copy of the corpus, so a run does not flood the committed seeds.
  work=$(mktemp -d)
  cp -r "fuzz/corpus/$t/." "$work/"
  cargo +nightly fuzz run "$t" "$work" -- -max_total_time="$secs" -max_len=9000 2>&1 \
    | grep -E '^#[0-9]+ *(DONE|pulse)|^Done|ERROR|panicked|SUMMARY|stat::' || true
  rm -rf "$work"
done
