#!/usr/bin/env bash
# Tools/dist/test-container.sh TARBALL
#
# Proves the container image works as shipped: it imports Tools/dist/rootfs.sh's bookworm
# root as localhost/strata-base:bookworm, builds Tools/dist/Containerfile from the dist
# tarball alone, and runs it with a named volume on /data, the port published on
# 127.0.0.1 and STRATA_BUCKETS=dist-test,dist-second. Then: the image's HEALTHCHECK
# reports healthy, the server runs as the non-root user strata (uid 10001) owning /data,
# both buckets exist, a 5 MiB object goes up and comes back byte for byte with the AWS
# CLI v2, the container restarts (SIGTERM, clean stop, exit 0) and the object is still
# there, again in a new container on the same volume, and s3 rm removes it. Image, container and volume are removed at the end;
# the base image is kept (re-imported when the root changes).
#
# If podman cannot run a container on this machine it prints
#   SKIP: podman cannot run containers on this machine: <podman's error>
# and exits 0. It tries the defaults first, then what machines like CI VMs need: ulimits
# within this process's hard limits (no CAP_SYS_RESOURCE), runc instead of crun (crun
# refuses cgroup v1/v2 hybrid hierarchies), cgroups off and host networking, and vfs.
#
# TARBALL: dist/strata-VERSION-linux-x86_64.tar.gz; a bare binary is accepted too (it is
# packed into that layout first, with this repository's LICENSE and README.md). Needs root.
set -euo pipefail

die() { echo "FAIL test-container: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || { echo "usage: $0 TARBALL" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "needs root (podman, debootstrap)"
input=$1
[[ -f $input ]] || die "$input: no such file"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
root=${STRATA_ROOTFS:-$repo/.build-rootfs/bookworm}
base=localhost/strata-base:bookworm
start=$(date +%s)

tag=strata-test-$$
image=localhost/$tag:latest
container=$tag
volume=$tag-data
work=$(mktemp -d /tmp/strata-test-container.XXXXXX)
G=()        # podman global options that work here
R=()        # podman run/build options that work here
made_image="" made_container="" made_volume="" build_externals=""

pm() { timeout "${PM_TIMEOUT:-300}" podman "${G[@]}" "$@"; }

cleanup() {
    local rc=$?
    set +e
    [[ -z $made_container ]] || PM_TIMEOUT=60 pm rm -f -t 0 "$container" >/dev/null 2>&1
    [[ -z $made_volume ]] || PM_TIMEOUT=60 pm volume rm -f "$volume" >/dev/null 2>&1
    if [[ -n $build_externals ]]; then
        # A build cut short leaves buildah working containers: remove the ones it made.
        comm -13 <(echo "$build_externals" | sort) <(PM_TIMEOUT=60 pm ps -a --external -q --no-trunc | sort) |
            while read -r id; do PM_TIMEOUT=60 pm rm -f "$id" >/dev/null 2>&1; done
    fi
    [[ -z $made_image ]] || PM_TIMEOUT=60 pm rmi -f "$image" >/dev/null 2>&1
    if [[ -d $work/vfs ]]; then
        awk -v r="$work/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r |
            while read -r mp; do umount "$mp" 2>/dev/null || umount -l "$mp"; done
    fi
    rm -rf --one-file-system "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_install() {
    apt-get install -y -q "$@" >"$work/apt.log" 2>&1 ||
        { apt-get update -q >>"$work/apt.log" 2>&1 && apt-get install -y -q "$@" >>"$work/apt.log" 2>&1; } ||
        apt-get install -y -q "$@" >>"$work/apt.log" 2>&1 ||   # Debian's hook: "cannot access archive"
        { tail -n 20 "$work/apt.log" >&2; die "apt-get install $* failed"; }
}

# --- the tarball ------------------------------------------------------------------------
case $input in
    *.tar.gz | *.tgz)
        tarball=$input
        name=$(basename "$tarball")
        [[ $name =~ ^strata-(.+)-linux-x86_64\.tar\.gz$ ]] || die "$name is not strata-VERSION-linux-x86_64.tar.gz"
        version=${BASH_REMATCH[1]}
        ;;
    *)
        # A bare binary: pack it the way make dist does.
        version=$("$input" --version 2>/dev/null | tail -n 1 | awk '{ print $NF }') || die "$input --version failed"
        [[ $version =~ ^[0-9A-Za-z.+_-]+$ ]] || die "$input --version printed '$version'"
        d=$work/pack/strata-$version-linux-x86_64
        mkdir -p "$d/bin"
        install -m 0755 "$input" "$d/bin/strata"
        cp "$repo/LICENSE" "$repo/README.md" "$d/"
        tarball=$work/strata-$version-linux-x86_64.tar.gz
        tar -C "$work/pack" -czf "$tarball" "strata-$version-linux-x86_64"
        echo "packed $input as $(basename "$tarball")"
        ;;
esac
mkdir "$work/ctx"
cp "$tarball" "$work/ctx/strata-$version-linux-x86_64.tar.gz"   # the build context: the tarball only

# --- podman, the base, and whether containers run here ----------------------------------
if ! command -v podman >/dev/null; then
    echo "installing podman"
    apt_install podman
fi

if [[ ! -x /usr/bin/aws ]]; then echo "installing awscli (AWS CLI v2, Debian package)"; apt_install awscli; fi
if ! command -v curl >/dev/null; then echo "installing curl"; apt_install curl; fi
aws_version=$(/usr/bin/aws --version 2>&1)
[[ $aws_version == aws-cli/2.* ]] || die "/usr/bin/aws is not AWS CLI v2: $aws_version"

"$here/rootfs.sh" "$root"
rootfs_id=$(sha256sum "$root/.strata-rootfs-complete" | cut -c1-16)

# Imports the root as $base unless the same root is already imported (label).
import_base() {
    local have
    have=$(pm image inspect --format '{{index .Labels "org.strata.rootfs"}}' "$base" 2>/dev/null || true)
    [[ $have == "$rootfs_id" ]] && return 0
    local old_id
    old_id=$(pm image inspect --format '{{.Id}}' "$base" 2>/dev/null || true)
    echo "importing $root as $base"
    # Under test-chroot.sh's lock: while it runs, the root holds its binary and a /proc.
    (
        flock -w 600 9 || { echo "timed out waiting for $root.lock" >&2; exit 1; }
        tar -C "$root" --one-file-system --exclude=./.strata-rootfs-complete -c . |
            pm import --change "LABEL org.strata.rootfs=$rootfs_id" - "$base" >/dev/null
    ) 9>"$root.lock"
    [[ -z $old_id ]] || pm rmi "$old_id" >/dev/null 2>&1 || true   # the previous import, now untagged
}

hard_nofile=$(ulimit -Hn)
hard_nproc=$(ulimit -Hu)
[[ $hard_nofile == unlimited ]] && hard_nofile=1048576
[[ $hard_nproc == unlimited || $hard_nproc -gt 32768 ]] && hard_nproc=32768   # conmon's own limit
ulimits=(--ulimit "nofile=$hard_nofile:$hard_nofile" --ulimit "nproc=$hard_nproc:$hard_nproc")

first_error="" last_error="" how=""
try_podman() {   # try_podman DESCRIPTION: with G and R set; records the error
    local out
    if out=$(PM_TIMEOUT=120 pm run --rm "${R[@]}" "$base" /bin/true 2>&1); then
        how=$1; return 0
    fi
    out=$(tr '\n' ' ' <<<"$out" | sed 's/ *$//')
    [[ -n $first_error ]] || first_error=$out
    last_error=$out
    echo "podman with $1: $out"
    return 1
}

# Attempts, in order; the first that runs /bin/true in the base wins. Each is
# "DESCRIPTION|GLOBAL OPTIONS|RUN OPTIONS" ($U: the ulimits; "vfs" as global options:
# a private vfs store, imported anew). runc: crun refuses hybrid cgroup hierarchies;
# runc refuses --cgroups=disabled, crun does not.
attempts=(
    "defaults||"
    "ulimits||\$U"
    "runc, ulimits|--runtime runc|\$U"
    "runc, cgroupfs, ulimits, host network|--runtime runc --cgroup-manager cgroupfs|\$U --network host"
    "crun, cgroups disabled, ulimits, host network|--runtime crun --cgroup-manager cgroupfs|\$U --cgroups=disabled --network host"
    "vfs, runc, cgroupfs, ulimits, host network|vfs --runtime runc --cgroup-manager cgroupfs|\$U --network host"
)
runs=""
imported=""
for attempt in "${attempts[@]}"; do
    IFS='|' read -r desc gopts ropts <<<"$attempt"
    read -r -a G <<<"$gopts"
    read -r -a R <<<"$ropts"
    if [[ ${G[0]:-} == vfs ]]; then
        mkdir -p "$work/vfs/root" "$work/vfs/run"
        G=(--storage-driver vfs --root "$work/vfs/root" --runroot "$work/vfs/run" "${G[@]:1}")
        imported=""
    fi
    if [[ ${R[0]:-} == '$U' ]]; then R=("${ulimits[@]}" "${R[@]:1}"); fi
    if [[ " ${G[*]} " == *" --runtime runc "* ]] && ! command -v runc >/dev/null; then
        echo "installing runc"; apt_install runc
    fi
    if [[ -z $imported ]]; then
        if ! import_base 2>"$work/import.err"; then
            last_error="podman import: $(tr '\n' ' ' <"$work/import.err")"
            [[ -n $first_error ]] || first_error=$last_error
            echo "podman with $desc: $last_error"
            continue
        fi
        imported=1
    fi
    if try_podman "$desc"; then runs=1; break; fi
done
if [[ -z $runs ]]; then
    echo "SKIP: podman cannot run containers on this machine: $first_error"
    [[ $last_error == "$first_error" ]] || echo "      (last attempt, $(podman --version) with ${attempts[-1]%%|*}: $last_error)"
    exit 0
fi
echo "podman runs containers here with: ${how}${G:+ (podman ${G[*]})}${R:+ (run ${R[*]})}"
host_net=""
[[ " ${R[*]} " == *" --network host "* ]] && host_net=1

# --- build ------------------------------------------------------------------------------
build_start=$(date +%s)
build_externals=$(pm ps -a --external -q --no-trunc; echo none)
made_image=1
if ! pm build --format docker --layers=false "${R[@]}" -f "$here/Containerfile" --build-arg "VERSION=$version" \
        -t "$image" "$work/ctx" >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    die "podman build failed"
fi
build_s=$(( $(date +%s) - build_start ))
build_externals=""
pm image inspect "$image" | grep -q '_strata/health/ready' || die "image has no HEALTHCHECK on /_strata/health/ready (built without --format docker?)"
echo "built $image (VERSION=$version) in $build_s s, $(pm image inspect --format '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }')"

# --- run --------------------------------------------------------------------------------
pm volume create "$volume" >/dev/null; made_volume=1
publish=(-p 127.0.0.1::9000)
env_port=()
if [[ -n $host_net ]]; then
    # No port publishing with the host's network: pick a free loopback port instead.
    free_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    publish=(); env_port=(-e STRATA_HOST=127.0.0.1 -e "STRATA_PORT=$free_port")
fi
# (Without systemd, podman logs that it cannot add healthcheck timers; the test runs the
# HEALTHCHECK itself with podman healthcheck run.)
run_container() {
    made_container=1
    pm run -d --name "$container" "${R[@]}" -v "$volume:/data" "${publish[@]}" "${env_port[@]}" \
        -e STRATA_BUCKETS=dist-test,dist-second -e STRATA_LOG_LEVEL=debug "$image" >/dev/null 2>"$work/run.err" ||
        { cat "$work/run.err" >&2; die "podman run failed"; }
}
run_container

logs() { pm logs "$container" 2>&1 | tail -n 40 >&2; }

# Waits for the image's own HEALTHCHECK to pass and for the port to answer from outside.
endpoint=""
wait_ready() {
    local i hp deadline=$((SECONDS + 60))
    while (( SECONDS < deadline )); do
        [[ $(pm inspect --format '{{.State.Running}}' "$container") == true ]] ||
            { logs; die "container stopped: $(pm inspect --format '{{.State.Status}} exit {{.State.ExitCode}}' "$container")"; }
        if pm healthcheck run "$container" >/dev/null 2>&1; then break; fi
        sleep 0.5
    done
    pm healthcheck run "$container" >/dev/null 2>&1 || { logs; die "HEALTHCHECK not healthy in 60 s"; }
    if [[ -n $host_net ]]; then
        endpoint=http://127.0.0.1:$free_port
    else
        hp=$(pm port "$container" 9000/tcp | head -n 1)
        [[ $hp == 127.0.0.1:* ]] || die "port 9000 published as '$hp', want 127.0.0.1:PORT"
        endpoint=http://$hp
    fi
    for i in $(seq 1 60); do
        curl -fsS --max-time 2 -o /dev/null "$endpoint/_strata/health/ready" 2>/dev/null && return 0
        sleep 0.5
    done
    logs; die "$endpoint/_strata/health/ready does not answer 200 from outside"
}
wait_ready
echo "healthy; serving on $endpoint"

# The server (PID 1 in the container) runs as strata, uid 10001.
uid=$(pm exec "$container" awk '/^Uid:/ { print $3 }' /proc/1/status) || die "podman exec failed"
[[ $uid == 10001 ]] || die "the server runs as uid '$uid', want 10001 (strata)"
owner=$(pm exec "$container" stat -c %U /data) || die "stat /data failed"
[[ $owner == strata ]] || die "/data is owned by '$owner', want strata"

creds=$repo/Sources/S3Server/HTTP/S3ServerConfiguration.swift
ak=$(sed -n 's/.*defaultAccessKey = "\(.*\)".*/\1/p' "$creds" 2>/dev/null || true)
sk=$(sed -n 's/.*defaultSecretKey = "\(.*\)".*/\1/p' "$creds" 2>/dev/null || true)
export AWS_ACCESS_KEY_ID=${ak:-strata-access-key} AWS_SECRET_ACCESS_KEY=${sk:-strata-secret-key}
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=$work/aws-config AWS_SHARED_CREDENTIALS_FILE=$work/aws-credentials
unset AWS_CA_BUNDLE AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_DEFAULT_PROFILE
s3() { timeout 120 /usr/bin/aws --endpoint-url "$endpoint" s3 "$@"; }

listing=$(s3 ls) || die "aws s3 ls failed"
for b in dist-test dist-second; do
    grep -qw "$b" <<<"$listing" || die "bucket $b (STRATA_BUCKETS) missing from s3 ls: $listing"
done
head -c $((5 * 1024 * 1024)) /dev/urandom >"$work/up"
s3 cp --only-show-errors "$work/up" s3://dist-test/keep/five.bin || die "aws s3 cp (PUT) failed"
s3 cp --only-show-errors s3://dist-test/keep/five.bin "$work/down1" || die "aws s3 cp (GET) failed"
cmp "$work/up" "$work/down1" || die "object came back different"

# Restart: a clean stop within the stop timeout, then the object from the volume - in
# the same container, then in a new container on the volume (STRATA_BUCKETS again: the
# buckets exist, which must not stop it).
check_object() {   # check_object WHEN
    local listing
    listing=$(s3 ls) || die "aws s3 ls $1 failed"
    grep -qw dist-test <<<"$listing" || die "bucket dist-test gone $1: $listing"
    rm -f "$work/down2"
    s3 cp --only-show-errors s3://dist-test/keep/five.bin "$work/down2" || die "object gone $1"
    cmp "$work/up" "$work/down2" || die "object differs $1"
}
stop_container() {
    pm stop -t 20 "$container" >/dev/null 2>"$work/run.err" || { cat "$work/run.err" >&2; die "podman stop failed"; }
    local code
    code=$(pm inspect --format '{{.State.ExitCode}}' "$container")
    [[ $code == 0 ]] || { logs; die "strata exited $code on podman stop (SIGTERM), want 0"; }
}
restart_start=$(date +%s)
stop_container
pm start "$container" >/dev/null 2>"$work/run.err" || { cat "$work/run.err" >&2; die "podman start failed"; }
wait_ready
check_object "after podman stop/start"
echo "restarted in $(( $(date +%s) - restart_start )) s; object intact; serving on $endpoint"
stop_container
pm rm "$container" >/dev/null 2>"$work/run.err" || { cat "$work/run.err" >&2; die "podman rm failed"; }
made_container=""
run_container
wait_ready
check_object "in a new container on the same volume"
echo "new container on volume $volume: object intact; serving on $endpoint"
s3 rm --only-show-errors s3://dist-test/keep/five.bin || die "aws s3 rm failed"
listing=$(s3 ls s3://dist-test/keep/ || true)
[[ -z $listing ]] || die "object left after s3 rm: $listing"

echo "PASS test-container: strata $version image (podman $(podman --version | awk '{ print $3 }'), ${how}), server as uid 10001 (strata), object survives restart and a new container on the volume, STRATA_BUCKETS made 2 buckets, $(cut -d' ' -f1 <<<"$aws_version") round trip; build ${build_s} s, total $(( $(date +%s) - start )) s"
