#!/bin/sh
# dracut cleanup hook (sourced before switch_root): stop the initramfs' tinyqga so that
# the real system's agent can open the port.
if [ -r /run/tinyqga.initramfs.pid ]; then
    read -r tinyqga_pid < /run/tinyqga.initramfs.pid
    [ -n "$tinyqga_pid" ] && kill -TERM "$tinyqga_pid" 2>/dev/null
    tinyqga_i=0
    while [ $tinyqga_i -lt 50 ] && kill -0 "$tinyqga_pid" 2>/dev/null; do
        sleep 0.1
        tinyqga_i=$((tinyqga_i + 1))
    done
    kill -KILL "$tinyqga_pid" 2>/dev/null
    rm -f /run/tinyqga.initramfs.pid
    unset tinyqga_pid tinyqga_i
fi
