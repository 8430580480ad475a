#!/bin/bash
# riscv64 guest: board/riscv64/qemu.sh VMDIR INITRAMFS  (see board/qemu.sh, board/riscv64/env.sh)
exec "$(dirname "$0")/../qemu.sh" riscv64 "$@"
