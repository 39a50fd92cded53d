#!/usr/bin/env bash
# Tools/dist/test-chroot.sh TARBALL_OR_BINARY
#
# Proves the dist binary is self-contained: in a bare Debian bookworm minbase root
# (Tools/dist/rootfs.sh; no Swift, no -dev packages) holding nothing of ours but the one
# file /usr/local/bin/strata, it
#   - needs no shared library but glibc's, libstdc++ and libgcc_s (readelf -d from
#     outside; in particular no libswift*, libFoundation*, libdispatch, liblmdb,
#     libdeflate, libz), and ldd inside the root finds every one of them;
#   - answers `strata --version` (and, given a tarball, the version in its name);
#   - serves S3 (`strata serve --ephemeral --port 0 --bucket dist-test`, run as nobody:
#     unprivileged, as the container image runs it)
#     well enough for the AWS CLI v2 outside the root: s3 ls, a 5 MiB PUT and a 9 MiB
#     multipart upload, both read back byte for byte, s3 rm, and a clean stop that
#     removes the ephemeral data directory.
# Prints PASS and the binary's size; exits non-zero on any failure.
#
# TARBALL_OR_BINARY: dist/strata-VERSION-linux-x86_64.tar.gz (its layout is checked:
# strata-VERSION-linux-x86_64/{bin/strata,LICENSE,README.md}) or a bare binary.
# Root: STRATA_ROOTFS, default .build-rootfs/bookworm in the repository. Needs root.
set -euo pipefail

die() { echo "FAIL test-chroot: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || { echo "usage: $0 TARBALL_OR_BINARY" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "needs root (chroot, mount)"
input=$1
[[ -f $input ]] || die "$input: no such file"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
root=${STRATA_ROOTFS:-$repo/.build-rootfs/bookworm}
start=$(date +%s)

work=$(mktemp -d /tmp/strata-test-chroot.XXXXXX)
server_pid=""
mounted=()
installed=""

cleanup() {
    local rc=$? i
    set +e
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        for i in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    for (( i = ${#mounted[@]} - 1; i >= 0; i-- )); do
        umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}"
    done
    [[ -z $installed ]] || rm -f "$installed"
    rm -rf --one-file-system "$root"/tmp/strata-ephemeral-* 2>/dev/null
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the binary -------------------------------------------------------------------------
tar_version=""
case $input in
    *.tar.gz | *.tgz)
        mkdir "$work/x"
        tar -xzf "$input" -C "$work/x" || die "$input: cannot extract"
        tops=("$work"/x/*)
        [[ ${#tops[@]} -eq 1 && -d ${tops[0]} ]] || die "$input: want one top-level directory, found: $(ls "$work/x" | tr '\n' ' ')"
        top=$(basename "${tops[0]}")
        [[ $top =~ ^strata-(.+)-linux-x86_64$ ]] || die "$input: top-level directory $top is not strata-VERSION-linux-x86_64"
        tar_version=${BASH_REMATCH[1]}
        for f in bin/strata LICENSE README.md; do
            [[ -f ${tops[0]}/$f ]] || die "$input: $top/$f missing"
        done
        binary=${tops[0]}/bin/strata
        [[ -x $binary ]] || die "$input: $top/bin/strata is not executable"
        ;;
    *)
        binary=$input
        ;;
esac
command -v readelf >/dev/null || die "readelf missing (Debian package binutils)"
readelf -h "$binary" 2>/dev/null | grep -q 'Machine:.*X86-64' || die "$binary is not an x86-64 ELF file"
size_bytes=$(stat -L -c %s "$binary")
size_mib=$(awk -v b="$size_bytes" 'BEGIN { printf "%.1f", b / 1048576 }')

# --- what it links against (from outside) ----------------------------------------------
interp=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[[ $interp == /lib64/ld-linux-x86-64.so.2 ]] || die "program interpreter is '$interp', want /lib64/ld-linux-x86-64.so.2"
mapfile -t needed < <(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
bad=()
for lib in "${needed[@]}"; do
    case $lib in
        libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | libutil.so.1 | \
            ld-linux-x86-64.so.2 | libstdc++.so.6 | libgcc_s.so.1) ;;
        *) bad+=("$lib") ;;
    esac
done
if (( ${#bad[@]} )); then
    die "$binary needs shared libraries beyond glibc/libstdc++/libgcc_s: ${bad[*]} (all NEEDED: ${needed[*]})"
fi
runpath=$(readelf -d "$binary" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
if [[ $runpath == */* && $runpath != '$ORIGIN' ]]; then
    echo "note: $binary has RPATH/RUNPATH $runpath (points at the build machine; harmless once nothing is NEEDED from there)"
fi

# --- the root ---------------------------------------------------------------------------
"$here/rootfs.sh" "$root"
exec 9>"$root.lock"
flock -w 600 9 || die "timed out waiting for another user of $root"
[[ ! -e $root/usr/local/bin/strata ]] || rm -f "$root/usr/local/bin/strata"   # left by a killed run
installed=$root/usr/local/bin/strata
install -m 0755 "$binary" "$installed"

mount -t proc proc "$root/proc"; mounted+=("$root/proc")
# debootstrap made the device nodes; make them on a tmpfs if this root lacks them.
if [[ ! -c $root/dev/null || ! -c $root/dev/urandom ]]; then
    mount -t tmpfs -o mode=0755,nosuid devtmp "$root/dev"; mounted+=("$root/dev")
    mknod -m 666 "$root/dev/null" c 1 3; mknod -m 666 "$root/dev/zero" c 1 5
    mknod -m 666 "$root/dev/random" c 1 8; mknod -m 666 "$root/dev/urandom" c 1 9
    mkdir -m 1777 "$root/dev/shm"
fi

# A clean environment: nothing from this machine (TMPDIR, STRATA_*) leaks in.
clean_env=(/usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp)

ldd_out=$(chroot "$root" "${clean_env[@]}" ldd /usr/local/bin/strata 2>&1) || die "ldd in the root failed: $ldd_out"
! grep -q 'not found' <<<"$ldd_out" || die "libraries missing in a bare bookworm root:"$'\n'"$ldd_out"

version=$(chroot "$root" "${clean_env[@]}" strata --version 2>&1) || die "strata --version failed in the root: $version"
version=$(tr -d '\r' <<<"$version" | tail -n 1 | awk '{ print $NF }')   # as Tools/dist/build.sh names the tarball
[[ -n $version ]] || die "strata --version printed nothing"
if [[ -n $tar_version && $tar_version != "$version" ]]; then
    die "tarball says version $tar_version, strata --version says $version"
fi
echo "strata --version in the root: $version"

# --- serve inside, drive from outside ---------------------------------------------------
missing=()
[[ -x /usr/bin/aws ]] || missing+=(awscli)   # AWS CLI v2, Debian's package
command -v curl >/dev/null || missing+=(curl)
if (( ${#missing[@]} )); then
    echo "installing ${missing[*]}"
    apt-get install -y -q "${missing[@]}" >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; } ||
        apt-get install -y -q "${missing[@]}" >/dev/null   # Debian's hook: "cannot access archive"
fi
aws_version=$(/usr/bin/aws --version 2>&1)
[[ $aws_version == aws-cli/2.* ]] || die "/usr/bin/aws is not AWS CLI v2: $aws_version"

log=$work/serve.log
chroot --userspec=65534:65534 "$root" "${clean_env[@]}" \
    strata serve --ephemeral --port 0 --bucket dist-test --log-level debug >"$log" 2>&1 &
server_pid=$!

port=""
for _ in $(seq 1 300); do   # 60 s: a debug build can be slow to start
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -n 1)
    [[ -z $port ]] || break
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; die "strata serve exited before listening"; }
    sleep 0.2
done
[[ -n $port ]] || { cat "$log" >&2; die "strata serve printed no 'listening on http://127.0.0.1:PORT' in 60 s"; }
endpoint=http://127.0.0.1:$port

ready=""
for _ in $(seq 1 300); do
    if curl -fsS --max-time 2 -o /dev/null "$endpoint/_strata/health/ready" 2>/dev/null; then ready=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; die "strata serve exited before it was ready"; }
    sleep 0.2
done
[[ -n $ready ]] || { cat "$log" >&2; die "$endpoint/_strata/health/ready did not answer 200 in 60 s"; }
echo "serving on $endpoint (pid $server_pid, user nobody, in $root)"

cred_file=$(sed -n 's/.*defaultAccessKey = "\(.*\)".*/\1/p' "$repo/Sources/S3Server/HTTP/S3ServerConfiguration.swift" 2>/dev/null || true)
export AWS_ACCESS_KEY_ID=${cred_file:-strata-access-key}
cred_file=$(sed -n 's/.*defaultSecretKey = "\(.*\)".*/\1/p' "$repo/Sources/S3Server/HTTP/S3ServerConfiguration.swift" 2>/dev/null || true)
export AWS_SECRET_ACCESS_KEY=${cred_file:-strata-secret-key}
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=$work/aws-config AWS_SHARED_CREDENTIALS_FILE=$work/aws-credentials
unset AWS_CA_BUNDLE AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_DEFAULT_PROFILE
s3() { timeout 120 /usr/bin/aws --endpoint-url "$endpoint" s3 "$@"; }

listing=$(s3 ls) || die "aws s3 ls failed"
grep -qw dist-test <<<"$listing" || die "aws s3 ls does not show bucket dist-test (made by --bucket): $listing"

head -c $((5 * 1024 * 1024)) /dev/urandom >"$work/up5"
head -c $((9 * 1024 * 1024)) /dev/urandom >"$work/up9"   # above the CLI's 8 MiB threshold: multipart
s3 cp --only-show-errors "$work/up5" s3://dist-test/dist/five.bin || die "aws s3 cp (5 MiB PUT) failed"
s3 cp --only-show-errors "$work/up9" s3://dist-test/dist/nine.bin || die "aws s3 cp (9 MiB multipart) failed"
s3 cp --only-show-errors s3://dist-test/dist/five.bin "$work/down5" || die "aws s3 cp (5 MiB GET) failed"
s3 cp --only-show-errors s3://dist-test/dist/nine.bin "$work/down9" || die "aws s3 cp (9 MiB GET) failed"
cmp "$work/up5" "$work/down5" || die "5 MiB object came back different"
cmp "$work/up9" "$work/down9" || die "9 MiB object came back different"
listing=$(s3 ls s3://dist-test/dist/) || die "aws s3 ls s3://dist-test/dist/ failed"
[[ $(grep -c '\.bin$' <<<"$listing") -eq 2 ]] || die "want 2 objects listed, got: $listing"
s3 rm --only-show-errors s3://dist-test/dist/five.bin || die "aws s3 rm failed"
s3 rm --only-show-errors --recursive s3://dist-test/dist/ || die "aws s3 rm --recursive failed"
listing=$(s3 ls s3://dist-test/dist/ || true)
[[ -z $listing ]] || die "objects left after s3 rm: $listing"

# A clean stop: SIGTERM ends it promptly and it removes its ephemeral directory.
kill -TERM "$server_pid"
stopped=""
for _ in $(seq 1 150); do kill -0 "$server_pid" 2>/dev/null || { stopped=1; break; }; sleep 0.2; done
[[ -n $stopped ]] || { cat "$log" >&2; die "strata serve still running 30 s after SIGTERM"; }
status=0; wait "$server_pid" || status=$?
server_pid=""
[[ $status -eq 0 ]] || { cat "$log" >&2; die "strata serve exited $status after SIGTERM"; }
leftover=$(compgen -G "$root/tmp/strata-ephemeral-*" || true)
[[ -z $leftover ]] || die "ephemeral data directory left behind: $leftover"

echo "PASS test-chroot: strata $version, ${size_mib} MiB ($size_bytes bytes), needs only ${needed[*]}; S3 round trip with $(cut -d' ' -f1 <<<"$aws_version") in a bookworm minbase chroot in $(( $(date +%s) - start )) s"
