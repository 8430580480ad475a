#!/bin/bash
# End-to-end: build the agent, boot it in a throwaway TCG guest, and run board/vm-check.py
# against its virtio-serial port.   board/vm-test.sh [ARCH]   (x86_64 default; aarch64, s390x, riscv64)
# Last line: `vm-ARCH: N passed, M failed`; exit status non-zero if any check failed.
set -euo pipefail
ARCH=${1:-x86_64}
. "$(dirname "$0")/arch.sh"
VMDIR=$CACHE/vm
T0=$(date +%s.%N)
say() { printf '[vm-test %s %5.1fs] %s\n' "$ARCH" "$(echo "$(date +%s.%N) - $T0" | bc 2>/dev/null || echo 0)" "$*" >&2; }

# ---- host packages, only if missing ----
need=()
command -v "$QEMU_BIN" >/dev/null || need+=("$QEMU_PKG")
command -v cpio >/dev/null || need+=(cpio)
command -v python3 >/dev/null || need+=(python3)
command -v gzip >/dev/null || need+=(gzip)
command -v mkfs.ext4 >/dev/null || [ -x /sbin/mkfs.ext4 ] || need+=(e2fsprogs)   # the scratch disk (qemu.sh)
[ "$DEB_ARCH" != "$(dpkg --print-architecture)" ] || dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get -q update >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi

# ---- agent, kernel, initramfs ----
say "building agent ($RUST_TARGET)"
(cd "$ROOT" && cargo build -q --release --target "$RUST_TARGET" --bin tinyqga)
AGENT=$ROOT/target/$RUST_TARGET/release/tinyqga
say "fetching kernel"
"$ROOT/board/fetch-kernel.sh" "$ARCH"
say "building initramfs"
"$ROOT/board/initramfs.sh" "$ARCH" "$AGENT" "$CACHE/initramfs.cpio.gz"

# ---- boot; always kill our own QEMU (by its pidfile) on the way out ----
. "$ROOT/board/vm-lib.sh"   # stop_vm, boot
stop_vm   # a leftover from an interrupted run
trap stop_vm EXIT
trap 'exit 130' INT TERM
boot
rc=0
python3 "$ROOT/board/vm-check.py" "$ARCH" "$VMDIR" || rc=$?
# The other shutdown modes, each in a guest of its own (the main run ended with powerdown).
# x86_64 only by default, to keep `make test` short: POWER_MODES="halt reboot" elsewhere too.
default_modes=; [ "$ARCH" = x86_64 ] && default_modes="halt reboot"
for mode in ${POWER_MODES-$default_modes}; do
    stop_vm
    boot
    python3 "$ROOT/board/vm-check.py" "$ARCH" "$VMDIR" --power "$mode" || rc=$?
done
say "done (console: $VMDIR/console.log)"
exit $rc
