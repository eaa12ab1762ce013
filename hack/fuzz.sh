#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 60s), one
# after another. `make fuzz` runs it; `make test` runs it with
# FUZZTIME=$(FUZZ_SMOKE_TIME) as a smoke. Targets are found by their
# declaration, so a new Fuzz function is picked up without a list to edit.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-60s}
found=0
while IFS=: read -r file _ decl; do
  name=${decl#func }
  name=${name%%(*}
  dir=$(dirname "$file")
  found=$((found + 1))
  start=$(date +%s)
  echo "fuzz: $dir $name for $fuzztime"
  # Minimizing a new corpus entry is capped: past -fuzztime the engine
  # cancels it and reports "context deadline exceeded" with no failing
  # input (go's fuzzing, not the target). That alone is retried once.
  run() { go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$dir" 2>&1; }
  rc=0; out=$(run) || rc=$?
  if [ "$rc" -ne 0 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
    echo "fuzz: $dir $name: the engine timed out while minimizing, with no failing input; once more"
    rc=0; out=$(run) || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    echo "$out"
    echo "fuzz: $dir $name FAILED (the failing input is under $dir/testdata/fuzz/$name)"
    exit 1
  fi
  echo "$out" | grep -E '^fuzz: elapsed' | tail -1 || true
  echo "fuzz: $dir $name ok in $(( $(date +%s) - start ))s"
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | grep -v '^./bin/' | sort)
if [ "$found" -eq 0 ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
echo "fuzz: $found targets passed"
