#!/bin/bash
# s390x guest: board/s390x/qemu.sh VMDIR INITRAMFS  (see board/qemu.sh, board/s390x/env.sh)
exec "$(dirname "$0")/../qemu.sh" s390x "$@"
