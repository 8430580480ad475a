# Per-arch facts for board/*.sh (sourced).
DEB_ARCH=riscv64
# bookworm has no riscv64 port: kernel and busybox come from trixie (see vm-rig.md); the
# trixie kernel boots under bookworm's QEMU 7.2 with its bundled OpenSBI 1.1.
DEB_SUITE=trixie
RUST_TARGET=riscv64gc-unknown-linux-gnu
KERNEL_META=linux-image-riscv64
QEMU_PKG=qemu-system-misc
QEMU_BIN=qemu-system-riscv64
CONSOLE=ttyS0
# virtio_pci, virtio_console and rtc_goldfish (virt's Goldfish RTC, /dev/rtc0) are built
# in; virtio_mmio and ext4 are modules (.ko.xz, decompressed by initramfs.sh).
MODULES="virtio_mmio virtio_console virtio_blk ext4 crc32c_generic virtio_net rtc_goldfish"
qemu_machine_args() {
    # -bios default: OpenSBI (fw_dynamic) from qemu-system-data, a Depends of qemu-system-misc
    echo "-M virt -accel tcg -cpu rv64 -bios default"
}
# No memory hotplug: QEMU 7.2's riscv virt has no pc-dimm or virtio-mem device. Instead the
# upper 256M of the 512M of boot memory (two of its four 128M memory blocks) is put in
# ZONE_MOVABLE (movablecore=), where no kernel allocation pins a block, so that
# guest-set-memory-blocks can take one offline. The topmost block holds the device tree
# (QEMU puts it at the end of RAM) and stays busy; the one below goes. (With less memory
# the initrd, which QEMU loads at 128M, would be in the movable part.)
qemu_memory_args() {
    echo "-m 512M"
}
MEMORY_APPEND="movablecore=256M"
VSER_DEV=virtio-serial-device
VBLK_DEV=virtio-blk-device
VNET_DEV=virtio-net-device
WITH_NVME=0
# riscv virt probes virtio-mmio transports in -device order (unlike arm virt): no reversal.
VIRTIO_MMIO_REVERSED=0
