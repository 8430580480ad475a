# Per-arch facts for board/*.sh (sourced).
DEB_ARCH=amd64
RUST_TARGET=x86_64-unknown-linux-musl
KERNEL_META=linux-image-cloud-amd64
QEMU_PKG=qemu-system-x86
QEMU_BIN=qemu-system-x86_64
CONSOLE=ttyS0
# Transport module order is resolved from depends=; these are the roots.
MODULES="virtio_pci virtio_console virtio_blk ext4 crc32c_generic virtio_net nvme"
qemu_machine_args() {
    echo "-M q35 -accel tcg -cpu max"
}
VSER_DEV=virtio-serial-pci
VBLK_DEV=virtio-blk-pci
VNET_DEV=virtio-net-pci
# nvme + nvme_core are built in (modules.builtin of 6.1.0-56-cloud-amd64); the closure skips them.
WITH_NVME=1
