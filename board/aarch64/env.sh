# Per-arch facts for board/*.sh (sourced).
DEB_ARCH=arm64
RUST_TARGET=aarch64-unknown-linux-musl
KERNEL_META=linux-image-cloud-arm64
QEMU_PKG=qemu-system-arm
QEMU_BIN=qemu-system-aarch64
CONSOLE=ttyAMA0
# virtio_pci + virtio_mem: the virtio-mem-pci device (memory hotplug, see qemu_memory_args).
# rtc_pl031 (virt's PL031, /dev/rtc0) is built in.
MODULES="virtio_mmio virtio_pci virtio_mem virtio_console virtio_blk ext4 crc32c_generic virtio_net rtc_pl031"
qemu_machine_args() {
    # plain -cpu max is ~3x slower under TCG (pointer auth); see vm-rig.md
    echo "-M virt,gic-version=max -accel tcg -cpu max,pauth-impdef=on"
}
VSER_DEV=virtio-serial-device
VBLK_DEV=virtio-blk-device
VNET_DEV=virtio-net-device
WITH_NVME=0
# virt probes virtio-mmio transports in reverse -device order: qemu.sh lists the disks reversed
# so that the scratch disk is still vda.
VIRTIO_MMIO_REVERSED=1
# Memory hotplug: pc-dimm on virt needs the ACPI GED device, which QEMU creates only when
# it boots UEFI firmware (direct -kernel boot uses a device tree: "memory hotplug is not
# enabled: missing acpi-ged device"). virtio-mem-pci works without ACPI: a 512M region at
# 0x80000000 of which 128M are plugged at boot (memory block 16, online), resizable with
# QMP qom-set vmem0 requested-size.
qemu_memory_args() {
    echo "-m 256M,maxmem=1G -object memory-backend-ram,id=vmem0mem,size=512M -device virtio-mem-pci,id=vmem0,memdev=vmem0mem,requested-size=128M"
}
