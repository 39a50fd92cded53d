#!/usr/bin/env bash
# Big-object benchmark (issue 4): a 5 GiB object through the HTTP front, single PUT/GET
# and multipart upload + GET, with throughput and the server's RSS growth per phase.
#
#   Tools/bigobject-bench/run.sh [--size 5G] [--phases single,multipart] [--keep]
#                                [--json] [--port N] [--workdir DIR] [--no-build]
#
# Builds `strata` in release, starts `strata serve` on a fresh data directory in a temp
# work directory, generates a pseudo-random test file (AES-CTR keystream; not zeros),
# measures `dd ... conv=fdatasync` on the same disk as a reference, then runs bench.py.
# The server is always stopped at exit; the work directory (test file, data, downloads)
# is deleted at exit unless --keep (then the test file and server log stay, and a later
# run with --workdir DIR reuses the test file).
set -euo pipefail

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'

Options:
  --size SIZE      object size: bytes or with K/M/G suffix (powers of 1024); default 5G
                   (5368709120, the largest single PUT S3 allows)
  --phases LIST    single, multipart or both (default single,multipart)
  --keep           keep the work directory's test file and server log
  --json           print the report as JSON instead of a table
  --port N         port for the server (default: a free one)
  --workdir DIR    work directory (default: a new one under ${TMPDIR:-/tmp})
  --no-build       use the existing release build
EOF
}

SIZE_ARG=5G
PHASES=single,multipart
KEEP=0
JSON=0
PORT=0
WORKDIR=""
BUILD=1
ORIG_ARGS="$*"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --size) SIZE_ARG="$2"; shift 2 ;;
        --size=*) SIZE_ARG="${1#*=}"; shift ;;
        --phases) PHASES="$2"; shift 2 ;;
        --phases=*) PHASES="${1#*=}"; shift ;;
        --keep) KEEP=1; shift ;;
        --json) JSON=1; shift ;;
        --port) PORT="$2"; shift 2 ;;
        --port=*) PORT="${1#*=}"; shift ;;
        --workdir) WORKDIR="$2"; shift 2 ;;
        --workdir=*) WORKDIR="${1#*=}"; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

log() { echo "[run] $*" >&2; }

parse_size() {
    local s="${1^^}" n unit
    s="${s%IB}"; s="${s%B}"
    if [[ ! "$s" =~ ^([0-9]+)([KMGT]?)$ ]]; then
        echo "bad size: $1" >&2; exit 2
    fi
    n="${BASH_REMATCH[1]}"; unit="${BASH_REMATCH[2]}"
    case "$unit" in
        K) n=$((n * 1024)) ;;
        M) n=$((n * 1024 * 1024)) ;;
        G) n=$((n * 1024 * 1024 * 1024)) ;;
        T) n=$((n * 1024 * 1024 * 1024 * 1024)) ;;
    esac
    echo "$n"
}
SIZE=$(parse_size "$SIZE_ARG")
if (( SIZE <= 0 )); then echo "size must be positive" >&2; exit 2; fi
if (( SIZE > 5368709120 )) && [[ ",$PHASES," == *",single,"* ]]; then
    echo "a single PUT is at most 5 GiB (5368709120 bytes); use --phases multipart" >&2; exit 2
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"

# --- build ------------------------------------------------------------------------------
cd "$ROOT"
if (( BUILD )); then
    log "building strata (release)"
    swift build -c release --product strata >&2
fi
BIN="$(swift build -c release --show-bin-path)/strata"
[[ -x "$BIN" ]] || { echo "no release build at $BIN (run without --no-build)" >&2; exit 1; }

# --- work directory and cleanup ---------------------------------------------------------
OWN_WORK=0
if [[ -n "$WORKDIR" ]]; then
    mkdir -p "$WORKDIR"
    WORK="$(cd "$WORKDIR" && pwd)"
else
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/strata-bigobject.XXXXXX")"
    OWN_WORK=1
fi
SRC="$WORK/source-$SIZE.bin"
DATA="$WORK/data"
SERVER_LOG="$WORK/server.log"
SERVER_PID=""
BENCH_PID=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$BENCH_PID" ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
        pkill -TERM -P "$BENCH_PID" 2>/dev/null || true   # its curl, if any
        kill -TERM "$BENCH_PID" 2>/dev/null || true
        wait "$BENCH_PID" 2>/dev/null || true
    fi
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    # Only what this script creates: a --workdir may hold other things.
    rm -rf "$DATA" "$WORK/download.bin" "$WORK/dd.bin"
    if (( KEEP )); then
        log "kept $WORK (test file, server log)"
    else
        rm -f "$SRC" "$SRC.sha256" "$SERVER_LOG"
        if (( OWN_WORK )); then rmdir "$WORK" 2>/dev/null || true; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

AVAIL=$(df --output=avail -B1 "$WORK" | tail -1)
NEED=$((SIZE * 4 + 2 * 1024 * 1024 * 1024))
if (( AVAIL < NEED )); then
    echo "not enough space in $WORK: $AVAIL bytes free, about $NEED needed" >&2; exit 1
fi

# --- disk reference ---------------------------------------------------------------------
log "disk reference: dd 2 GiB with fdatasync in $WORK"
DD_START=$(date +%s.%N)
DD_LINE=$(dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=2048 conv=fdatasync 2>&1 | tail -1)
DD_END=$(date +%s.%N)
rm -f "$WORK/dd.bin"
DD_MIBS=$(awk -v a="$DD_START" -v b="$DD_END" 'BEGIN { printf "%.1f", 2048 / (b - a) }')
log "dd: $DD_MIBS MiB/s ($DD_LINE)"

# --- test file --------------------------------------------------------------------------
if [[ -f "$SRC" && -f "$SRC.sha256" ]] && (( $(stat -c %s "$SRC") == SIZE )); then
    log "reusing $SRC"
else
    log "generating $SIZE bytes of pseudo-random data in $SRC"
    # AES-128-CTR keystream of a fixed key: deterministic, incompressible, ~1 GB/s.
    ( openssl enc -aes-128-ctr -nosalt -K 5374726174614269674f626a65637431 \
          -iv 00000000000000000000000000000000 < /dev/zero 2>/dev/null || true ) \
        | head -c "$SIZE" > "$SRC"
    (( $(stat -c %s "$SRC") == SIZE )) || { echo "test file generation failed" >&2; exit 1; }
    log "sha256 of the test file"
    sha256sum "$SRC" | cut -d' ' -f1 > "$SRC.sha256"
fi
SHA=$(cat "$SRC.sha256")

# --- server -----------------------------------------------------------------------------
if [[ "$PORT" == 0 ]]; then
    PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
ACCESS_KEY=AKIASTRATABENCH00001
SECRET_KEY=strataBenchSecretKey/0123456789abcdefXYZ
mkdir -p "$DATA"
log "starting $BIN serve on 127.0.0.1:$PORT (data $DATA)"
"$BIN" serve --data "$DATA" --host 127.0.0.1 --port "$PORT" \
    --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" > "$SERVER_LOG" 2>&1 &
SERVER_PID=$!
for i in $(seq 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "strata serve exited at startup:" >&2; cat "$SERVER_LOG" >&2; exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    if (( i == 300 )); then echo "strata serve did not listen on $PORT within 30 s" >&2; exit 1; fi
    sleep 0.1
done
log "server pid $SERVER_PID is listening"

# --- phases -----------------------------------------------------------------------------
BENCH_ARGS=(--endpoint "http://127.0.0.1:$PORT" --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY"
    --pid "$SERVER_PID" --file "$SRC" --sha256 "$SHA" --workdir "$WORK" --phases "$PHASES"
    --dd-mib-per-s "$DD_MIBS" --dd-line "$DD_LINE"
    --command "Tools/bigobject-bench/run.sh${ORIG_ARGS:+ $ORIG_ARGS}")
(( JSON )) && BENCH_ARGS+=(--json)
# In the background and waited for, so that INT/TERM reach the trap at once.
"$PYTHON" "$HERE/bench.py" "${BENCH_ARGS[@]}" &
BENCH_PID=$!
wait "$BENCH_PID"
