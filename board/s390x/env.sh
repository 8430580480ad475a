# Per-arch facts for board/*.sh (sourced).
DEB_ARCH=s390x
RUST_TARGET=s390x-unknown-linux-gnu
KERNEL_META=linux-image-s390x
QEMU_PKG=qemu-system-misc
QEMU_BIN=qemu-system-s390x
# The console is the SCLP VT220 console (ttysclp0) on a file chardev, not a serial port.
CONSOLE=ttysclp0
CONSOLE_DEV=sclpconsole
# virtio, virtio_ring, virtio_ccw and the SCLP console are built in; ext4 is a module. No
# RTC: the machine has none (the TOD clock is the time source) and the kernel has no RTC
# class (CONFIG_RTC_CLASS is not set), so there is no /dev/rtc0 on s390x.
MODULES="virtio_console virtio_blk ext4 crc32c_generic virtio_net"
qemu_machine_args() {
    # -cpu qemu was not measurably faster than max under TCG (see board/README.md)
    echo "-M s390-ccw-virtio -accel tcg -cpu max"
}
# No memory hotplug: QEMU 7.2's s390-ccw-virtio has neither pc-dimm nor virtio-mem, and
# gives no standby memory for maxmem (the guest still says "maximum memory size is 256MB").
# Instead the upper 512M of 1G of boot memory (two of its four 256M memory blocks) is put in
# ZONE_MOVABLE (movablecore=), where no later kernel allocation pins a block, so that
# guest-set-memory-blocks can take one offline. The topmost block holds what the kernel
# allocated before the zones existed (memblock allocates from the top) and stays busy; the
# one below goes. (With 512M, movablecore=256M left no block free of those.)
qemu_memory_args() {
    echo "-m 1G"
}
MEMORY_APPEND="movablecore=512M"
# Channel I/O: virtio-*-ccw; no PCI, so no NVMe.
VSER_DEV=virtio-serial-ccw
VBLK_DEV=virtio-blk-ccw
VNET_DEV=virtio-net-ccw
WITH_NVME=0
# Fixed device numbers (the guest sees 0.0.0010 and 0.0.0011) for the fsinfo/disks checks.
# The vd letters are NOT fixed: virtio_ccw brings the devices online asynchronously, so
# the scratch disk is occasionally vdb; /init and vm-check.py go by the serial instead.
SCRATCH_DEV_OPTS=,devno=fe.0.0010
PARTED_DEV_OPTS=,devno=fe.0.0011
