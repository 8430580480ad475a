#!/bin/bash
# dracut module: tinyqga in the initramfs, started early and stopped before the switch
# to the real root (whose own service then takes the port over). Installed as
# /usr/lib/dracut/modules.d/99tinyqga/; @SBINDIR@ is filled in by `make install`.
# The kernel command line option tinyqga=off skips it at boot.

# Included whenever the agent is installed (0); dracut -o tinyqga leaves it out.
check() {
    require_binaries @SBINDIR@/tinyqga || return 1
    return 0
}

depends() {
    return 0
}

installkernel() {
    # The port's driver (nothing to add where it is built in).
    hostonly='' instmods virtio_console
}

install() {
    inst_simple @SBINDIR@/tinyqga /usr/sbin/tinyqga
    # The same config as the real system, so that its block-rpcs/allow-rpcs hold here too.
    [ -r /etc/qemu/qemu-ga.conf ] && inst_simple /etc/qemu/qemu-ga.conf
    if dracut_module_included systemd; then
        # systemd in the initramfs: a unit of its own, which systemd stops before
        # switching root (hook scripts run inside oneshot services).
        inst_simple "$moddir/tinyqga-initrd.service" \
            "$systemdsystemunitdir/tinyqga-initrd.service"
        $SYSTEMCTL -q --root "$initdir" add-wants sysinit.target tinyqga-initrd.service
    else
        # dracut's shell init: a hook before udev starts it, cleanup stops it.
        inst_hook pre-udev 90 "$moddir/tinyqga-start.sh"
        inst_hook cleanup 90 "$moddir/tinyqga-stop.sh"
    fi
}
