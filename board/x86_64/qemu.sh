#!/bin/bash
# x86_64 guest: board/x86_64/qemu.sh VMDIR INITRAMFS  (see board/qemu.sh, board/x86_64/env.sh)
exec "$(dirname "$0")/../qemu.sh" x86_64 "$@"
