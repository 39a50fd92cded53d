#!/usr/bin/env bash
# Where the time of a 4 KiB GET goes: nginx, SwiftNIO with no S3 work (sync handler and
# NIOAsyncChannel, see Sources/nio-ceiling/main.swift) and Strata, loaded in turn by the
# benchmark's loadgen (16 connections, 2 threads), ROUNDS rounds so that the machine's
# drift hits all of them alike. Per server: ops/s of each round, and the server's CPU
# per request in microseconds (from /proc, both cores counted).
#
#   Tools/bench/nio-ceiling/run.sh [--rounds N] [--seconds S] [--no-strata]
#
# Needs nginx, cc and a release build of strata (.build-release) unless --no-strata;
# Strata's phase is Tools/bench/profile.py --method GET with the access log on, as in
# Tools/bench/run.sh.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
# write_nginx_conf
source "$HERE/../servers.sh"
ROUNDS=3 SECONDS_PER=8 STRATA=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS="$2"; shift 2 ;;
        --seconds) SECONDS_PER="$2"; shift 2 ;;
        --no-strata) STRATA=0; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
WORK=$(mktemp -d /tmp/nio-ceiling.XXXXXX)
chmod 755 "$WORK"  # nginx's workers run as another user
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    [[ -f "$WORK/nginx.pid" ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$HERE" && swift build -c release 2>&1 | tail -1)
PROBE="$HERE/.build/release/nio-ceiling"
"${CC:-cc}" -O2 -o "$WORK/loadgen" "$REPO/Tools/bench/loadgen.c" -lpthread

mkdir -p "$WORK/www"
head -c 4096 /dev/urandom >"$WORK/www/4k.bin"
for _ in $(seq 1000); do echo /4k.bin; done >"$WORK/targets"
write_nginx_conf "$WORK" 19180
nginx -c "$WORK/nginx.conf"
"$PROBE" sync 19181 & PIDS+=($!)
"$PROBE" async 19182 & PIDS+=($!)
sleep 1

# cpu_ticks PID...: user+system clock ticks of the processes, summed.
cpu_ticks() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s}'; }
nginx_pids() { pgrep -f "nginx: worker process" | tr '\n' ' '; }
HZ=$(getconf CLK_TCK)

declare -A RUNS US
run_loadgen() {  # name port pids...
    local name=$1 port=$2; shift 2
    local before after out ops
    before=$(cpu_ticks "$@")
    out=$("$WORK/loadgen" -p "$port" -m GET -f "$WORK/targets" -c 16 -t 2 -d "$SECONDS_PER" -e 4096)
    after=$(cpu_ticks "$@")
    ops=$(awk '$1 == "ops_s" {print $2}' <<<"$out")
    RUNS[$name]="${RUNS[$name]:-} $ops"
    US[$name]="${US[$name]:-} $(awk -v t=$((after - before)) -v hz="$HZ" -v o="$ops" -v d="$SECONDS_PER" 'BEGIN {printf "%.1f", 1e6 * t / hz / (o * d)}')"
}
run_strata() {
    local out ops cpu
    out=$(cd "$REPO" && python3 Tools/bench/profile.py --method GET --seconds "$SECONDS_PER" --extra "" --loadgen "$WORK/loadgen" | tail -1)
    ops=$(awk '{print $3}' <<<"$out")
    cpu=$(awk '{for (i = 1; i <= NF; i++) if ($i == "server_cpu%") print $(i + 1)}' <<<"$out")
    RUNS[strata]="${RUNS[strata]:-} $ops"
    US[strata]="${US[strata]:-} $(awk -v c="$cpu" -v o="$ops" 'BEGIN {printf "%.1f", 1e4 * c / o}')"
}
for round in $(seq "$ROUNDS"); do
    # shellcheck disable=SC2046
    run_loadgen nginx 19180 $(nginx_pids)
    run_loadgen nio-sync 19181 "${PIDS[0]}"
    run_loadgen nio-async 19182 "${PIDS[1]}"
    [[ $STRATA == 1 ]] && run_strata
    echo "round $round done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
NGINX_MEDIAN=$(median <<<"${RUNS[nginx]}")
printf "| server | 4 KiB GET ops/s (rounds) | median | of nginx | server CPU us/request |\n|---|---|---|---|---|\n"
for name in nginx nio-sync nio-async strata; do
    [[ -n "${RUNS[$name]:-}" ]] || continue
    m=$(median <<<"${RUNS[$name]}")
    printf "| %s | %s | %s | %s | %s |\n" "$name" "$(echo ${RUNS[$name]} | tr ' ' ',')" "$m" \
        "$(awk -v a="$m" -v b="$NGINX_MEDIAN" 'BEGIN {printf "%.0f%%", 100 * a / b}')" "$(echo ${US[$name]} | tr ' ' ',')"
done
