#!/bin/bash
# The agent as the guest's init: an initramfs holding only tinyqga as /init, its config
# (/etc/qemu/qemu-ga.conf naming the modules to load), the board kernel's virtio modules
# (uncompressed, with a modules.dep for just those) and any extra static programs.
#   board/pid1-image.sh ARCH AGENT OUTDIR [EXTRA_PROGRAM...]
# Leaves OUTDIR/vmlinuz (the board kernel) and OUTDIR/initramfs.cpio.gz. Each extra program
# goes to /bin/ under its own name (e.g. a static busybox, for tests: /bin/busybox).
# Expects board/fetch-kernel.sh ARCH to have run (`make pid1-image` does it).
# NO_MODULES=1 leaves the modules out (and the config's modules= empty), to measure them.
set -euo pipefail
ARCH=${1:?usage: pid1-image.sh ARCH AGENT OUTDIR [EXTRA...]}
AGENT=${2:?agent binary}
OUTDIR=${3:?output directory}
shift 3
. "$(dirname "$0")/arch.sh"
MODDIR=$CACHE/kernel/modules-dir
[ -d "$MODDIR" ] || { echo "no kernel in $CACHE; run board/fetch-kernel.sh $ARCH" >&2; exit 1; }
KVER=$(basename "$(readlink -f "$MODDIR")")

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/pid1-image.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
# Mount points the agent uses (it creates missing ones itself, but a read-only root could not).
mkdir -p "$STAGE"/{dev,proc,sys,run,tmp,etc/qemu,lib/modules}
cp "$AGENT" "$STAGE/init"
chmod 755 "$STAGE/init"
# With /dev/console in the image the kernel opens it as init's stdin/out/err (needs root).
mknod -m 600 "$STAGE/dev/console" c 5 1 2>/dev/null || true

# The virtio modules of $MODULES (board/ARCH/env.sh) and their closure, depmod-style.
virtio=()
for m in $MODULES; do case $m in virtio*) virtio+=("$m") ;; esac; done
roots=
if [ "${NO_MODULES:-0}" != 1 ]; then
    roots=$(python3 "$ROOT/board/modules.py" "$MODDIR" "$STAGE/lib/modules/$KVER" depmod "${virtio[@]}")
fi
cat > "$STAGE/etc/qemu/qemu-ga.conf" <<CONF
[general]
# Loaded by the agent as init, dependencies first (lib/modules/$KVER/modules.dep).
modules=${roots// /;}
# /var/run does not exist in this image.
statedir=/run
CONF

for program in "$@"; do
    [ -n "$program" ] || continue
    mkdir -p "$STAGE/bin"
    cp "$program" "$STAGE/bin/$(basename "$program")"
    chmod 755 "$STAGE/bin/$(basename "$program")"
done

mkdir -p "$OUTDIR"
cp -L "$CACHE/kernel/vmlinuz" "$OUTDIR/vmlinuz"
OUT=$OUTDIR/initramfs.cpio.gz
(cd "$STAGE" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9 > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "pid1 image: $OUT ($(stat -c %s "$OUT") bytes; modules: $roots; extra: ${*:-none})" >&2
