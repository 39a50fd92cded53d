#!/usr/bin/env bash
# Snapshot save/restore benchmark (Tools/bench/snapshot_bench.py): builds strata in
# release (.build-release, as run.sh does) and loadgen, then runs the benchmark with the
# arguments given (default: 100,000 objects of 1 KiB and of 64 KiB, 5 runs each).
# Needs about objects × (largest size + 1 KiB) free under BENCH_HOME (default /tmp/strata-bench).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BENCH_HOME=${BENCH_HOME:-${TMPDIR:-/tmp}/strata-bench}
mkdir -p "$BENCH_HOME"
swift build -c release --product strata --build-path "$ROOT/.build-release" --package-path "$ROOT" >&2
"${CC:-cc}" -O2 -Wall -o "$BENCH_HOME/loadgen" "$HERE/loadgen.c" -lpthread
WORK=$(mktemp -d "$BENCH_HOME/snapshots.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
"${PYTHON:-python3}" "$HERE/snapshot_bench.py" --strata "$ROOT/.build-release/release/strata" \
    --loadgen "$BENCH_HOME/loadgen" --work "$WORK" "$@"
