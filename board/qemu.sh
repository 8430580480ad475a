#!/bin/bash
# Boot a throwaway guest, daemonized.  The agent's virtio-serial port
# (org.qemu.guest_agent.0) is the host unix socket VMDIR/qga.sock.
#   board/qemu.sh ARCH VMDIR INITRAMFS [extra qemu args...]
# Leaves: VMDIR/qemu.pid, VMDIR/console.log, VMDIR/qmp.sock, VMDIR/qga.sock.
# Stop it with QMP quit or: kill "$(cat VMDIR/qemu.pid)".
# NO_REBOOT=0 leaves out -no-reboot (a guest reboot then restarts the guest instead of ending
# QEMU); KERNEL=FILE boots another kernel image than the board's.
set -euo pipefail
ARCH=${1:?usage: qemu.sh ARCH VMDIR INITRAMFS}
VMDIR=${2:?vmdir}
INITRD=${3:?initramfs}
shift 3
. "$(dirname "$0")/arch.sh"
mkdir -p "$VMDIR"
rm -f "$VMDIR"/qga.sock "$VMDIR"/qmp.sock "$VMDIR"/qemu.pid "$VMDIR"/console.log
# Fresh disks every boot (a few ms): scratch.img (64 MiB ext4, label qga-scratch, mounted on
# /mnt/scratch by /init), parted.img (32 MiB, MBR with one partition, not mounted), nvme.img (16 MiB).
rm -f "$VMDIR"/scratch.img "$VMDIR"/parted.img "$VMDIR"/nvme.img
truncate -s 64M "$VMDIR/scratch.img"
mkfs.ext4 -q -F -L qga-scratch "$VMDIR/scratch.img"
truncate -s 32M "$VMDIR/parted.img"
python3 - "$VMDIR/parted.img" <<'PY'
# MBR: one primary Linux (0x83) partition from sector 2048 to the end; no sfdisk needed.
import struct, sys, os
path = sys.argv[1]
sectors = os.path.getsize(path) // 512
start = 2048; count = sectors - start
entry = struct.pack("<B3sB3sII", 0x00, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff", start, count)
mbr = bytearray(512)
struct.pack_into("<I", mbr, 440, 0x51474121)          # disk signature
mbr[446:462] = entry
mbr[510:512] = b"\x55\xaa"
with open(path, "r+b") as f:
    f.write(mbr)
PY
# discard=unmap: the guest's discards (guest-fstrim) reach the image; virtio-blk offers
# VIRTIO_BLK_F_DISCARD (queue/discard_max_bytes > 0 in the guest) on all four machines.
# SCRATCH_DEV_OPTS/PARTED_DEV_OPTS (env.sh): fixed addresses where the bus has them (ccw devno).
scratch=(-drive "if=none,id=scratch,file=$VMDIR/scratch.img,format=raw,cache=unsafe,discard=unmap"
         -device "$VBLK_DEV,drive=scratch,serial=qga-scratch,discard=on${SCRATCH_DEV_OPTS:-}")
parted=(-drive "if=none,id=parted,file=$VMDIR/parted.img,format=raw,cache=unsafe"
        -device "$VBLK_DEV,drive=parted,serial=qga-parted${PARTED_DEV_OPTS:-}")
# scratch must become vda and parted vdb. On PCI and riscv virt the guest probes in command-line
# order; on arm virt the last -device gets the first probed transport, so it is reversed there.
# On s390x (ccw) the order is not fixed at all: the devnos are, and everyone goes by serial.
if [ "${VIRTIO_MMIO_REVERSED:-0}" = 1 ]; then disks=("${parted[@]}" "${scratch[@]}"); else disks=("${scratch[@]}" "${parted[@]}"); fi
if [ "${WITH_NVME:-0}" = 1 ]; then
    truncate -s 16M "$VMDIR/nvme.img"
    disks+=(-drive "if=none,id=nv,file=$VMDIR/nvme.img,format=raw,cache=unsafe"
            -device "nvme,drive=nv,serial=nvme-qga")
fi
# User networking with restrict=on: the guest can't reach anything; it only needs an eth0.
net=(-netdev user,id=net0,restrict=on -device "$VNET_DEV,netdev=net0,mac=52:54:00:12:34:56")
# The console: a serial port, or (s390x) a console device such as sclpconsole on a chardev.
if [ -n "${CONSOLE_DEV:-}" ]; then
    console=(-chardev "file,id=con0,path=$VMDIR/console.log" -device "$CONSOLE_DEV,chardev=con0")
else
    console=(-serial "file:$VMDIR/console.log")
fi
# Memory: qemu_memory_args (env.sh): 256M of boot memory with hotplug room and hotplugged
# memory where the machine has it (x86_64 pc-dimm, aarch64 virtio-mem); elsewhere more boot
# memory, part of it in ZONE_MOVABLE through MEMORY_APPEND (movablecore=).
# memhp_default_state=online_movable has the kernel online hot-added memory blocks itself (there
# is no udev rule to do it), in ZONE_MOVABLE so that guest-set-memory-blocks can take them
# offline again (in ZONE_NORMAL the kernel's own allocations pin them: EBUSY). Two vCPUs unless SMP says otherwise (vm-check.py reads SMP too).
no_reboot=(-no-reboot); [ "${NO_REBOOT:-1}" = 0 ] && no_reboot=()
# shellcheck disable=SC2046
exec "$QEMU_BIN" $(qemu_machine_args) $(qemu_memory_args) -smp "${SMP:-2}" \
    -nodefaults -display none -monitor none "${no_reboot[@]}" \
    "${console[@]}" \
    -kernel "${KERNEL:-$CACHE/kernel/vmlinuz}" -initrd "$INITRD" \
    -append "console=$CONSOLE panic=-1 memhp_default_state=online_movable ${MEMORY_APPEND:-} ${KERNEL_APPEND:-quiet}" \
    -qmp "unix:$VMDIR/qmp.sock,server=on,wait=off" \
    -device "$VSER_DEV,id=vser0" \
    -chardev "socket,id=qga0,path=$VMDIR/qga.sock,server=on,wait=off" \
    -device virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0 \
    "${disks[@]}" "${net[@]}" \
    -daemonize -pidfile "$VMDIR/qemu.pid" "$@"
