#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a while each, one after the other
# on one core, and prints how many inputs each one executed.
#
#   scripts/fuzz.sh                 a long campaign: 600 s per target
#   scripts/fuzz.sh --brief         20 s per target (CI)
#   scripts/fuzz.sh --seconds N [TARGET...]
#
# The committed corpus (fuzz/corpus/<target>/, minimized) and the
# hand-written seeds (fuzz/seeds/<target>/) start each run and are only read: new inputs go to a scratch folder, so a run never changes the
# checkout. To grow the committed corpus, run `cargo +nightly fuzz run` and
# `cargo +nightly fuzz cmin` by hand (docs/security.md). A crash's input is
# kept in fuzz/artifacts/<target>/ and the script fails at the end.
# Needs a nightly toolchain and cargo-fuzz (scripts/test-deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

toolchain=${FUZZ_TOOLCHAIN:-nightly}
seconds=600
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --brief) seconds=20 ;;
    --seconds) seconds=$2; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo "+$toolchain" fuzz list)
fi

# Built once, up front, so each target's time is spent fuzzing.
cargo "+$toolchain" fuzz build

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
total=0
failed=()
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target"
  seeds=()
  for dir in "corpus/$target" "seeds/$target"; do
    [ -d "$dir" ] && seeds+=("$dir")
  done
  log="$scratch/$target.log"
  status=0
  cargo "+$toolchain" fuzz run "$target" "$scratch/$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  runs=${runs:-0}
  total=$((total + runs))
  if [ "$status" -eq 0 ]; then
    printf '%-18s %12d executions in %ss, no crash\n' "$target" "$runs" "$seconds"
  else
    printf '%-18s FAILED (exit %d) after %d executions:\n' "$target" "$status" "$runs"
    tail -n 40 "$log"
    failed+=("$target")
  fi
done
printf '%-18s %12d executions\n' "all" "$total"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
