#!/usr/bin/env bash
# Run every benchmark in benchmarks/ (each prints ratios against a baseline measured in the same
# run and writes JSON under runs/bench/). Not part of the test suite: no timed assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/bench
status=0
for b in benchmarks/bench_*.py; do
  [ -e "$b" ] || continue
  echo "== $b"
  .venv/bin/python "$b" || { echo "bench: $b failed"; status=1; }
done
exit $status
