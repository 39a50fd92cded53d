#!/usr/bin/env bash
# Crash-recovery torture test (issue 5): builds `strata` (debug, like `make build`) when
# needed, then runs crashtest.py with the arguments given, e.g.
#
#   Tools/crashtest/run.sh --cycles 3 --duration-per-cycle 4 --seed 1    # short (make test)
#   Tools/crashtest/run.sh --cycles 20 --compact                         # long
#   Tools/crashtest/run.sh --help
#
# Set STRATA_BIN to use an existing binary instead (no build), SWIFT_BUILD_FLAGS to pass
# flags to `swift build` (e.g. "-c release"), PYTHON for another interpreter.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"

if ! "$PYTHON" -c 'import boto3' 2>/dev/null; then
    echo "crashtest: boto3 is missing: $PYTHON -m pip install -r Tests/compat/requirements.txt" >&2
    exit 2
fi

if [[ -n "${STRATA_BIN:-}" ]]; then
    BIN="$STRATA_BIN"
else
    cd "$ROOT"
    # Incremental: a no-op (a second or two) when the binary is up to date.
    # shellcheck disable=SC2086
    swift build --product strata ${SWIFT_BUILD_FLAGS:-} >&2
    # shellcheck disable=SC2086
    BIN="$(swift build --show-bin-path ${SWIFT_BUILD_FLAGS:-})/strata"
fi
[[ -x "$BIN" ]] || { echo "crashtest: no strata binary at $BIN" >&2; exit 2; }

# exec: Ctrl-C and SIGTERM reach crashtest.py directly, which always kills its server.
exec "$PYTHON" "$HERE/crashtest.py" --strata "$BIN" "$@"
