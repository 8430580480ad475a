#!/bin/bash
# Boot a throwaway guest, daemonized.  The agent's virtio-serial port
# (org.qemu.guest_agent.0) is the host unix socket VMDIR/qga.sock.
#   board/qemu.sh ARCH VMDIR INITRAMFS [extra qemu args...]
# Leaves: VMDIR/qemu.pid, VMDIR/console.log, VMDIR/qmp.sock, VMDIR/qga.sock.
# Stop it with QMP quit or: kill "$(cat VMDIR/qemu.pid)".
set -euo pipefail
ARCH=${1:?usage: qemu.sh ARCH VMDIR INITRAMFS}
VMDIR=${2:?vmdir}
INITRD=${3:?initramfs}
shift 3
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/board/$ARCH/env.sh"
CACHE=${BOARD_CACHE:-$ROOT/target/board}/$ARCH
mkdir -p "$VMDIR"
rm -f "$VMDIR"/qga.sock "$VMDIR"/qmp.sock "$VMDIR"/qemu.pid "$VMDIR"/console.log
# shellcheck disable=SC2046
exec "$QEMU_BIN" $(qemu_machine_args) -m 256M -smp 1 \
    -nodefaults -display none -monitor none -no-reboot \
    -serial "file:$VMDIR/console.log" \
    -kernel "$CACHE/kernel/vmlinuz" -initrd "$INITRD" \
    -append "console=$CONSOLE panic=-1 ${KERNEL_APPEND:-quiet}" \
    -qmp "unix:$VMDIR/qmp.sock,server=on,wait=off" \
    -device "$VSER_DEV,id=vser0" \
    -chardev "socket,id=qga0,path=$VMDIR/qga.sock,server=on,wait=off" \
    -device virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0 \
    -daemonize -pidfile "$VMDIR/qemu.pid" "$@"
