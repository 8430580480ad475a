#!/bin/bash
# aarch64 guest: board/aarch64/qemu.sh VMDIR INITRAMFS  (see board/qemu.sh, board/aarch64/env.sh)
exec "$(dirname "$0")/../qemu.sh" aarch64 "$@"
