# Per-arch facts for board/*.sh (sourced).
DEB_ARCH=arm64
RUST_TARGET=aarch64-unknown-linux-musl
KERNEL_META=linux-image-cloud-arm64
QEMU_PKG=qemu-system-arm
QEMU_BIN=qemu-system-aarch64
CONSOLE=ttyAMA0
MODULES="virtio_mmio virtio_console virtio_blk ext4 crc32c_generic virtio_net"
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
