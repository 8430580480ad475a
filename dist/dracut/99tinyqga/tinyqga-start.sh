#!/bin/sh
# dracut pre-udev hook (sourced by dracut's init): start tinyqga in the background.
# -r: the port may appear only after the driver binds; the agent retries every 5 s.
if ! getargbool 1 tinyqga; then
    return 0 2>/dev/null || exit 0
fi
modprobe -q virtio_console 2>/dev/null
/usr/sbin/tinyqga -d -r -t /run -f /run/tinyqga.initramfs.pid ||
    warn "tinyqga: could not start the guest agent in the initramfs"
