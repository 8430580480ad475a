#!/bin/bash
# The agent as the guest's init, end to end: builds the PID-1 image (board/pid1-image.sh, with
# the arch's static busybox as the extra program guest-exec runs), boots it and runs
# `board/vm-check.py ARCH VMDIR --pid1` (what the init did, the read-only checks that apply,
# exec, a file in /tmp, orphans, guest-shutdown ending QEMU), then boots it again without
# -no-reboot for `--pid1-reboot` (guest-shutdown reboot restarts the guest and the agent
# answers again; SIGUSR2 to PID 1 powers off).
#   board/pid1-test.sh [ARCH]      (x86_64 default)
# The kernel command line carries tinyqga.statedir=/tmp, over the image config's /run.
set -euo pipefail
ARCH=${1:-x86_64}
. "$(dirname "$0")/arch.sh"
OUT=$CACHE/pid1
VMDIR=$OUT/vm
T0=$(date +%s.%N)
say() { printf '[pid1-test %s %5.1fs] %s\n' "$ARCH" "$(echo "$(date +%s.%N) - $T0" | bc 2>/dev/null || echo 0)" "$*" >&2; }

say "building agent ($RUST_TARGET) and the PID-1 image"
(cd "$ROOT" && cargo build -q --release --target "$RUST_TARGET" --bin tinyqga)
"$ROOT/board/fetch-kernel.sh" "$ARCH"
"$ROOT/board/pid1-image.sh" "$ARCH" "$ROOT/target/$RUST_TARGET/release/tinyqga" "$OUT" "$CACHE/busybox"
export EXPECT_KERNEL
EXPECT_KERNEL=$(basename "$(readlink -f "$CACHE/kernel/modules-dir")")

# shellcheck source=board/vm-lib.sh
. "$ROOT/board/vm-lib.sh"
stop_vm
trap stop_vm EXIT
trap 'exit 130' INT TERM
# The PID-1 image prints no ready mark: vm-check.py waits for the agent's first answer.
boot_pid1() {
    say "NO_REBOOT=${NO_REBOOT:-1}"
    export T_START
    T_START=$(date +%s.%N)
    KERNEL=$OUT/vmlinuz KERNEL_APPEND="quiet tinyqga.statedir=/tmp" READY_MARK= boot "$OUT/initramfs.cpio.gz"
}
rc=0
boot_pid1
python3 "$ROOT/board/vm-check.py" "$ARCH" "$VMDIR" --pid1 || rc=$?
stop_vm
# PID1_REBOOT=0 skips the reboot boot (on s390x it is 90-110 s: QEMU 7.2 TCG brings a
# rebooted s390x guest back that slowly, the busybox image too).
if [ "${PID1_REBOOT:-1}" = 1 ]; then
    NO_REBOOT=0 boot_pid1
    python3 "$ROOT/board/vm-check.py" "$ARCH" "$VMDIR" --pid1-reboot || rc=$?
fi
say "done (console: $VMDIR/console.log)"
exit $rc
