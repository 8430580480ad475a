#!/bin/bash
# Download and unpack (never install) a Debian guest kernel, plus busybox-static for
# foreign architectures, into the git-ignored cache target/board/ARCH/.  Idempotent.
#   board/fetch-kernel.sh ARCH        (x86_64 | aarch64 | s390x | riscv64)
# Result: target/board/ARCH/kernel/{vmlinuz,modules-dir} (symlinks into the unpacked .deb),
#         target/board/ARCH/busybox (static busybox for the guest).
set -euo pipefail
ARCH=${1:?usage: fetch-kernel.sh ARCH}
. "$(dirname "$0")/arch.sh"
mkdir -p "$CACHE"
cd "$CACHE"

if [ -e kernel/vmlinuz ] && [ -d kernel/modules-dir ] && [ -x busybox ]; then
    exit 0
fi

APT=(apt-get -q)
if [ "$DEB_ARCH" != "$(dpkg --print-architecture)" ]; then
    # Private apt state: the host's dpkg/apt state is untouched (no --add-architecture).
    S=$CACHE/apt-state
    mkdir -p "$S/lists/partial" "$S/cache/archives/partial"
    : > "$S/status"
    [ -s "$S/sources.list" ] || echo "deb http://deb.debian.org/debian ${DEB_SUITE:-bookworm} main" > "$S/sources.list"
    APT+=(-o APT::Architecture="$DEB_ARCH" -o APT::Architectures="$DEB_ARCH"
          -o Dir::State="$S" -o Dir::State::Lists="$S/lists" -o Dir::State::status="$S/status"
          -o Dir::Etc::SourceList="$S/sources.list" -o Dir::Etc::SourceParts=/nonexistent
          -o Dir::Cache="$S/cache")
    [ -n "$(ls "$S/lists" | grep -v partial)" ] || "${APT[@]}" update >&2
else
    # Make sure the host's lists exist (fresh CI).
    ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || apt-get -q update >&2
fi

# Resolve the metapackage to the concrete image package (ABI drifts over time).
IMG=$("${APT[@]/apt-get/apt-cache}" depends "$KERNEL_META" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$IMG" ] || { echo "cannot resolve $KERNEL_META" >&2; exit 1; }

mkdir -p debs
if ! ls debs/"${IMG}"_*.deb >/dev/null 2>&1; then
    (cd debs && "${APT[@]}" download "$IMG" >&2)
fi
rm -rf kernel.tmp && mkdir kernel.tmp
dpkg-deb -x debs/"${IMG}"_*.deb kernel.tmp
KVER=${IMG#linux-image-}
# riscv64 ships the uncompressed Image as boot/vmlinux-KVER; the others boot/vmlinuz-KVER.
KIMG=
for k in "boot/vmlinuz-$KVER" "boot/vmlinux-$KVER"; do [ -e "kernel.tmp/$k" ] && { KIMG=$k; break; }; done
[ -n "$KIMG" ] || { echo "no boot/vmlinu[zx]-$KVER in $IMG" >&2; exit 1; }
ln -sfn "$KIMG" kernel.tmp/vmlinuz
MD=$(ls -d kernel.tmp/lib/modules/* kernel.tmp/usr/lib/modules/* 2>/dev/null | head -1 || true)
ln -sfn "${MD#kernel.tmp/}" kernel.tmp/modules-dir
rm -rf kernel && mv kernel.tmp kernel

if [ ! -x busybox ]; then
    if [ "$DEB_ARCH" = "$(dpkg --print-architecture)" ] && dpkg -s busybox-static >/dev/null 2>&1; then
        cp /bin/busybox busybox
    else
        (cd debs && ls busybox-static_*.deb >/dev/null 2>&1 || "${APT[@]}" download busybox-static >&2)
        rm -rf bb.tmp && dpkg-deb -x debs/busybox-static_*.deb bb.tmp
        # bookworm ships /bin/busybox, trixie (merged /usr) /usr/bin/busybox
        for b in bb.tmp/bin/busybox bb.tmp/usr/bin/busybox; do [ -e "$b" ] && cp "$b" busybox; done
        rm -rf bb.tmp
    fi
    chmod +x busybox
fi
echo "kernel: $IMG" >&2
