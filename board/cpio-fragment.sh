#!/bin/bash
# A cpio fragment to append to ANY existing initramfs (the kernel unpacks concatenated
# archives in turn, each compressed or not). newc format, gzip'd, owner root:
#   usr/sbin/tinyqga          the agent for ARCH (0755)
#   usr/sbin/tinyqga-rdinit   boot with rdinit=/usr/sbin/tinyqga-rdinit to start the agent
#                             and then run the image's own /init (needs its /bin/sh)
#   etc/init.d/tinyqga        the sysvinit/busybox script (start|stop|restart|status), for
#                             an inittab line or an /init that runs it
#   etc/qemu/                 empty: put qemu-ga.conf there
# Only usr, usr/sbin, etc, etc/init.d and etc/qemu get directory entries: never sbin or
# bin, which are symlinks in merged-/usr images and which a directory entry would replace.
#   board/cpio-fragment.sh ARCH OUT.cpio.gz       (AGENT=path: use that binary, no build)
set -euo pipefail
ARCH=${1:?usage: cpio-fragment.sh ARCH OUT.cpio.gz}
OUT=${2:?usage: cpio-fragment.sh ARCH OUT.cpio.gz}
. "$(dirname "$0")/arch.sh"
command -v cpio >/dev/null || { echo "cpio-fragment: needs cpio (scripts/setup.sh installs it)" >&2; exit 1; }
if [ -z "${AGENT:-}" ]; then
    (cd "$ROOT" && cargo build -q --release --target "$RUST_TARGET" --bin tinyqga)
    AGENT=$ROOT/target/$RUST_TARGET/release/tinyqga
fi

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/tinyqga-fragment.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/usr/sbin" "$STAGE/etc/init.d" "$STAGE/etc/qemu"
install -m 755 "$AGENT" "$STAGE/usr/sbin/tinyqga"
sed 's|@SBINDIR@|/usr/sbin|g' "$ROOT/dist/sysvinit/tinyqga" > "$STAGE/etc/init.d/tinyqga"
cat > "$STAGE/usr/sbin/tinyqga-rdinit" <<'RDINIT'
#!/bin/sh
# rdinit=/usr/sbin/tinyqga-rdinit: start tinyqga, then hand over to the image's /init.
# It mounts what the agent needs and is not there yet, starts the agent in the
# background, unmounts what it mounted (the image's /init mounts its own), and execs
# /init. -r: the agent waits for the port (its driver may only be loaded by /init). State and pidfile in /etc/qemu, which no init mounts over.
# (An image whose busybox installs its applets only in /init has no mount or modprobe yet:
# the agent then waits for the port on the kernel's device events, which need nothing
# mounted, until /init loads the driver.)
mounted=
if command -v mount >/dev/null 2>&1; then
    [ -e /proc/self ] || { mount -t proc proc /proc && mounted="/proc $mounted"; }
    [ -d /sys/class ] || { mount -t sysfs sysfs /sys && mounted="/sys $mounted"; }
    [ -e /dev/null ] || { mount -t devtmpfs devtmpfs /dev && mounted="/dev $mounted"; }
fi
modprobe -q virtio_console 2>/dev/null
/usr/sbin/tinyqga -d -r -t /etc/qemu -f /etc/qemu/tinyqga.pid
for m in $mounted; do umount -l "$m"; done
exec /init "$@"
RDINIT
chmod 755 "$STAGE/etc/init.d/tinyqga" "$STAGE/usr/sbin/tinyqga-rdinit"
chmod 755 "$STAGE/usr" "$STAGE/usr/sbin" "$STAGE/etc" "$STAGE/etc/init.d" "$STAGE/etc/qemu"

mkdir -p "$(dirname "$OUT")"
(cd "$STAGE" && printf '%s\n' usr usr/sbin usr/sbin/tinyqga usr/sbin/tinyqga-rdinit \
    etc etc/init.d etc/init.d/tinyqga etc/qemu |
    cpio -o -H newc --quiet -R 0:0) | gzip -9n > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "cpio fragment: $OUT ($(stat -c %s "$OUT") bytes, newc, gzip; append with: cat $OUT >> your-initrd)" >&2
