#!/usr/bin/env bash
# Tools/dist/rootfs.sh DIR
#
# Makes DIR a minimal Debian bookworm root (debootstrap --variant=minbase): glibc,
# libstdc++, bash, coreutils, dpkg/apt and nothing else - no Swift, no -dev packages,
# no curl. test-chroot.sh runs the dist binary in it to prove the binary needs nothing
# a bare Debian system lacks; test-container.sh imports it as the container base
# (localhost/strata-base:bookworm), so what is tested is what ships.
#
# Idempotent: a complete root carries the stamp file DIR/.strata-rootfs-complete
# (mirror, suite, variant); if it is there and matches, DIR is reused as it is.
# Otherwise the root is built in DIR.partial and renamed to DIR only when finished,
# so an interrupted run never leaves a DIR that looks complete.
#
# Mirror: the URI of this machine's apt source for bookworm (/etc/apt/sources.list,
# /etc/apt/sources.list.d/*.list and *.sources), so CI uses the mirror its machine
# uses; STRATA_DEBIAN_MIRROR overrides it. Needs root. Prints how long it took.
set -euo pipefail

SUITE=bookworm
VARIANT=minbase
STAMP_NAME=.strata-rootfs-complete

die() { echo "rootfs.sh: $*" >&2; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || die "usage: $0 DIR"
[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, chroot)"

dir=$1
mkdir -p "$(dirname "$dir")"
dir=$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")
[[ $dir != / ]] || die "refusing DIR /"
partial=$dir.partial
stamp=$dir/$STAMP_NAME

# Unmounts everything mounted at or under $1 (deepest first), e.g. the /proc and /sys
# debootstrap mounts inside the target, left behind if it is interrupted.
umount_under() {
    local root=$1 mp
    awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts |
        sort -r | while read -r mp; do
            umount "$mp" 2>/dev/null || umount -l "$mp" || true
        done
}

# Removes a root directory safely: unmount first, never cross into another file system.
remove_root() {
    local root=$1
    [[ -e $root ]] || return 0
    umount_under "$root"
    if awk -v r="$root" '$2 == r || index($2, r "/") == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
        die "$root still has mounts under it; not removing it"
    fi
    rm -rf --one-file-system "$root"
}

# The mirror URI and its Signed-By keyring (if any) of the apt source serving $SUITE.
find_mirror() {
    local f
    {
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [[ -f $f ]] || continue
            # deb [signed-by=K other=opts] URI SUITE COMPONENTS...
            awk -v suite="$SUITE" '
                $1 != "deb" { next }
                {
                    i = 2; keyring = ""
                    if ($2 ~ /^\[/) {
                        while (i <= NF) {
                            opt = $i; gsub(/[\[\]]/, "", opt)
                            if (opt ~ /^signed-by=/) { sub(/^signed-by=/, "", opt); keyring = opt }
                            if ($i ~ /\]$/) { i++; break }
                            i++
                        }
                    }
                    if ($(i + 1) == suite) print $i, keyring
                }' "$f"
        done
        for f in /etc/apt/sources.list.d/*.sources; do
            [[ -f $f ]] || continue
            # deb822 stanzas, separated by blank lines.
            awk -v suite="$SUITE" '
                function flush() {
                    if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " suite " ") && uris != "") {
                        split(uris, u, " "); print u[1], signed
                    }
                    types = ""; suites = ""; uris = ""; signed = ""; enabled = ""
                }
                /^[ \t]*#/ { next }
                /^[ \t]*$/ { flush(); next }
                {
                    key = $1; sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
                    if (key == "Types") types = $0
                    else if (key == "URIs") uris = $0
                    else if (key == "Suites") suites = $0
                    else if (key == "Signed-By") signed = $0
                    else if (key == "Enabled") enabled = tolower($0)
                }
                END { flush() }' "$f"
        done
    } | head -n 1
}

start=$(date +%s)

if [[ -n ${STRATA_DEBIAN_MIRROR:-} ]]; then
    mirror=$STRATA_DEBIAN_MIRROR keyring=""
else
    read -r mirror keyring < <(find_mirror || true) || true
    mirror=${mirror:-http://deb.debian.org/debian}
fi
mirror=${mirror%/}
keyring=${keyring:-}
# A keyring given inline (Signed-By with a key block) is not a file; use debootstrap's default.
[[ -n $keyring && -f $keyring ]] || keyring=""

want="suite=$SUITE variant=$VARIANT mirror=$mirror"

exec 9>"$dir.lock"
flock -w 1800 9 || die "timed out waiting for another rootfs.sh on $dir"

if [[ -f $stamp ]] && grep -qxF "$want" "$stamp"; then
    echo "rootfs: reusing $dir ($want; $(du -sh --one-file-system "$dir" | cut -f1))"
    exit 0
fi

if ! command -v debootstrap >/dev/null; then
    echo "rootfs: installing debootstrap"
    apt-get update -q >/dev/null
    apt-get install -y -q debootstrap >/dev/null
fi

cleanup() { remove_root "$partial" || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

remove_root "$partial"
echo "rootfs: debootstrap --variant=$VARIANT $SUITE from $mirror${keyring:+ (keyring $keyring)} into $dir"
log=$(mktemp /tmp/strata-rootfs-debootstrap.XXXXXX.log)
if ! debootstrap --variant="$VARIANT" --components=main ${keyring:+--keyring="$keyring"} \
        "$SUITE" "$partial" "$mirror" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    [[ ! -f $partial/debootstrap/debootstrap.log ]] || tail -n 30 "$partial/debootstrap/debootstrap.log" >&2
    die "debootstrap failed (log $log)"
fi
rm -f "$log"
umount_under "$partial"

# Slim it: package lists and caches are fetched again by anyone who runs apt-get update.
rm -rf "${partial:?}"/var/lib/apt/lists/* "${partial:?}"/var/cache/apt/* "${partial:?}"/var/cache/debconf/*-old \
    "${partial:?}"/var/log/*.log "${partial:?}"/var/log/apt/*

# No Swift and no -dev packages may be in the root: they would hide a missing library.
if leaked=$(chroot "$partial" dpkg-query -W -f '${Package}\n' | grep -E -- '-dev$|swift' ); then
    die "unexpected packages in the root: $leaked"
fi

{
    echo "$want"
    echo "# made $(date -u +%Y-%m-%dT%H:%M:%SZ) by Tools/dist/rootfs.sh with $(debootstrap --version 2>/dev/null | head -n 1)"
} >"$partial/$STAMP_NAME"

remove_root "$dir"
mv "$partial" "$dir"
trap - EXIT

echo "rootfs: made $dir in $(( $(date +%s) - start )) s ($(chroot "$dir" dpkg-query -W | wc -l) packages, $(du -sh --one-file-system "$dir" | cut -f1))"
