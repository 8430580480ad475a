# Per-arch facts for board/*.sh (sourced).
DEB_ARCH=amd64
RUST_TARGET=x86_64-unknown-linux-musl
KERNEL_META=linux-image-cloud-amd64
QEMU_PKG=qemu-system-x86
QEMU_BIN=qemu-system-x86_64
CONSOLE=ttyS0
# Transport module order is resolved from depends=; these are the roots.
# rtc_cmos (the q35 MC146818 RTC, /dev/rtc0) is built in, like ext4 and nvme; listed because
# it is needed (the closure skips modules.builtin and fails on a name it cannot find).
MODULES="virtio_pci virtio_console virtio_blk ext4 crc32c_generic virtio_net nvme rtc_cmos"
qemu_machine_args() {
    echo "-M q35 -accel tcg -cpu max"
}
VSER_DEV=virtio-serial-pci
VBLK_DEV=virtio-blk-pci
VNET_DEV=virtio-net-pci
# nvme + nvme_core are built in (modules.builtin of 6.1.0-56-cloud-amd64); the closure skips them.
WITH_NVME=1
# 256M of boot memory, 2 hotplug slots up to 1G, and one 128M DIMM cold-plugged in slot 0
# (the guest sees it through ACPI, CONFIG_ACPI_HOTPLUG_MEMORY=y, and onlines it).
qemu_memory_args() {
    echo "-m 256M,slots=2,maxmem=1G -object memory-backend-ram,id=dimm0mem,size=128M -device pc-dimm,id=dimm0,memdev=dimm0mem"
}
