#!/usr/bin/env bash
# Tools/dist/build.sh [--config release|debug] [--out DIR]
#
# Builds the self-contained `strata` binary and packs it as
# DIR/strata-VERSION-linux-x86_64.tar.gz (default DIR: dist), holding
# strata-VERSION-linux-x86_64/{bin/strata, LICENSE, README.md, CHANGELOG.md}, with a
# .sha256 beside it.
#
# Self-contained means: the Swift runtime and Foundation linked in (--static-swift-stdlib)
# and so are the C libraries from Debian's -dev packages (LMDB, libdeflate, zlib), so the
# binary runs on a Debian machine with no Swift and no -dev packages. Only glibc,
# libstdc++ and libgcc_s stay shared: every Debian has them. SwiftPM asks pkg-config how to
# link those libraries; a pkg-config directory of our own points at a folder holding only
# their static archives, so `-llmdb` can only find liblmdb.a. The script checks the
# result (readelf -d) and fails if any other shared library is needed.
#
# The static build has its own build folder (.build-dist-CONFIG): objects compiled for a
# static standard library differ from the default build's.
set -euo pipefail

config=release
out=dist
while [[ $# -gt 0 ]]; do
    case $1 in
        --config) config=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: $0 [--config release|debug] [--out DIR]" >&2; exit 2 ;;
    esac
done
case $config in release|debug) ;; *) echo "--config is release or debug" >&2; exit 2 ;; esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
build=$repo/.build-dist-$config
static=$build/static-libs
mkdir -p "$static/pkgconfig"
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
for pc in lmdb libdeflate zlib; do
    pcfile=$(pkg-config --variable=pcfiledir "$pc")/$pc.pc
    lib=$(sed -n 's/^Libs:.*-l\([A-Za-z0-9_]*\).*/\1/p' "$pcfile" | tail -1)
    archive=/usr/lib/$multiarch/lib$lib.a
    [[ -f $archive ]] || { echo "dist: $archive missing (Debian's -dev package of $pc ships it)" >&2; exit 1; }
    ln -sf "$archive" "$static/lib$lib.a"
    # The same .pc with libdir moved to the folder of archives and nothing shared in Libs.
    sed -e "s|^libdir=.*|libdir=$static|" -e "s|^sharedlibdir=.*|sharedlibdir=$static|" "$pcfile" > "$static/pkgconfig/$pc.pc"
done

# A debug build is what `make test` checks the packaging with: no debug info there, which
# shortens its compile and link by minutes; a release build keeps DWARF for the strip below.
flags=()
[[ $config == debug ]] && flags+=(-debug-info-format none)
echo "dist: building strata ($config, static Swift runtime and C libraries) in $build"
PKG_CONFIG_PATH=$static/pkgconfig swift build -c "$config" --product strata --static-swift-stdlib --build-path "$build" "${flags[@]}"
binary=$build/$config/strata

# Shared libraries the binary still needs: only the C runtime's.
needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for library in $needed; do
    case $library in
        libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libutil.so.*|ld-linux*|libstdc++.so.*|libgcc_s.so.*) ;;
        *) echo "dist: $binary needs $library, which a machine without Swift and -dev packages lacks" >&2; exit 1 ;;
    esac
done

version=$("$binary" --version | awk '{print $NF}')
name=strata-$version-linux-$(uname -m)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/bin" "$out"
cp "$binary" "$stage/$name/bin/strata"
# Debug sections are most of a release binary's size; symbols stay for backtraces.
strip --strip-debug "$stage/$name/bin/strata"
cp LICENSE README.md CHANGELOG.md "$stage/$name/"
tarball=$out/$name.tar.gz
tar -C "$stage" -czf "$tarball" --owner=0 --group=0 "$name"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
size() { du -m "$1" | cut -f1; }
echo "dist: $tarball ($(size "$tarball") MiB; bin/strata $(size "$stage/$name/bin/strata") MiB, needs only: $(echo $needed))"
