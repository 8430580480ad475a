# Per-arch facts for board/*.sh (sourced).
DEB_ARCH=amd64
RUST_TARGET=x86_64-unknown-linux-musl
KERNEL_META=linux-image-cloud-amd64
QEMU_PKG=qemu-system-x86
QEMU_BIN=qemu-system-x86_64
CONSOLE=ttyS0
# Transport module order is resolved from depends=; these are the roots.
MODULES="virtio_pci virtio_console"
qemu_machine_args() {
    echo "-M q35 -accel tcg -cpu max"
}
VSER_DEV=virtio-serial-pci
