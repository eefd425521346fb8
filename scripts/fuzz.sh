#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/, cargo-fuzz layout) with libFuzzer instrumentation on the
# stable toolchain — the same flags `cargo fuzz build -s none` passes — and runs each for the
# given number of seconds (default 60). New crashes land in fuzz/artifacts/<target>/; copy
# them into crates/core/tests/fuzz-regressions/ so `cargo test` replays them forever.
#   scripts/fuzz.sh [seconds] [target...]
# FUZZ_TIMEOUT (seconds, default 10) is how long one input may take before it counts as a
# hang; the final stats print the slowest input actually seen.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(analyze plan)
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# Debug assertions and overflow checks come from the fuzz profile, for this project only.
target_triple="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --target "$target_triple" --bins
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  # Seeds: the fixture inputs, so the fuzzer starts from real components.
  if [ "$t" = analyze ]; then cp -n ../crates/core/tests/fixtures/*/input.* "corpus/$t/" 2>/dev/null || true; fi
  echo "fuzz: $t for ${seconds}s"
  "target/$target_triple/release/$t" "corpus/$t" \
    -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=4096 -max_len=65536 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 2>&1 | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|stat::slowest_unit_time_sec|==[0-9]+== ERROR|SUMMARY|Done)" || true
  if ls "artifacts/$t"/* >/dev/null 2>&1; then
    echo "fuzz: $t found crashes:"; ls "artifacts/$t"; exit 1
  fi
done
