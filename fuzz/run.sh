#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 20) on the stable toolchain:
#   bash fuzz/run.sh [SECONDS] [TARGET…]
# Installs cargo-fuzz from crates.io if missing. Sanitizers need nightly, so targets run with
# `--sanitizer none` (libFuzzer's coverage guidance still works). Each target's corpus grows in
# fuzz/corpus/TARGET (not committed) from the seeds in fuzz/seeds/TARGET (committed); a crash
# leaves its input in fuzz/artifacts/TARGET and fails the script.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
shift || true
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
mkdir -p logs
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "seeds/$target"
  echo "==> $target for ${seconds}s"
  status=0
  cargo fuzz run --sanitizer none "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"logs/$target.log" 2>&1 || status=$?
  grep -E "^(Done |stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY)" "logs/$target.log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "logs/$target.log" >&2
    echo "$target failed (exit $status); a crashing input is kept in fuzz/artifacts/$target" >&2
    exit "$status"
  fi
done
