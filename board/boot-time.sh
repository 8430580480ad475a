#!/bin/bash
# Image sizes and the time from QEMU start to the agent's first answer, for the busybox-based
# test image (board/initramfs.sh, the agent supervised by a shell /init) and the PID-1 image
# (board/pid1-image.sh, the agent as /init), one boot each (BOOTS=N for more), same kernel,
# same QEMU command line (board/qemu.sh). Prints one line per image and boot.
#   board/boot-time.sh [ARCH]
set -euo pipefail
ARCH=${1:-x86_64}
. "$(dirname "$0")/arch.sh"
AGENT=$ROOT/target/$RUST_TARGET/release/tinyqga
WORK=$CACHE/boot-time
VMDIR=$WORK/vm
(cd "$ROOT" && cargo build -q --release --target "$RUST_TARGET" --bin tinyqga)
"$ROOT/board/fetch-kernel.sh" "$ARCH"
mkdir -p "$WORK"
AGENT_ARGS= "$ROOT/board/initramfs.sh" "$ARCH" "$AGENT" "$WORK/busybox.cpio.gz" 2>/dev/null
"$ROOT/board/pid1-image.sh" "$ARCH" "$AGENT" "$WORK/pid1" 2>/dev/null
NO_MODULES=1 "$ROOT/board/pid1-image.sh" "$ARCH" "$AGENT" "$WORK/pid1-bare" 2>/dev/null
size() { stat -c %s "$1"; }
echo "$ARCH sizes (gzip'd cpio): busybox image $(size "$WORK/busybox.cpio.gz"); pid1 image" \
     "$(size "$WORK/pid1/initramfs.cpio.gz") with the virtio modules, $(size "$WORK/pid1-bare/initramfs.cpio.gz") without"
stop_vm() {
    local pid
    pid=$(cat "$VMDIR/qemu.pid" 2>/dev/null) || return 0
    if [ -n "$pid" ] && grep -q qemu "/proc/$pid/comm" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$VMDIR/qemu.pid"
}
trap stop_vm EXIT
for _ in $(seq "${BOOTS:-1}"); do
    for image in busybox pid1; do
        initrd=$WORK/busybox.cpio.gz; [ $image = pid1 ] && initrd=$WORK/pid1/initramfs.cpio.gz
        export T_START
        T_START=$(date +%s.%N)
        "$ROOT/board/qemu.sh" "$ARCH" "$VMDIR" "$initrd"
        python3 - "$VMDIR/qga.sock" "$ARCH" "$image" <<'PY'
import os, socket, sys, time
sock, arch, image = sys.argv[1:]
start = float(os.environ["T_START"])
while time.time() - start < 120:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(1)
        s.connect(sock)
        s.sendall(b'\xff{"execute":"guest-sync-delimited","arguments":{"id":4242}}\n')
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(256)
            if not chunk:
                raise EOFError
            buf += chunk
        if b"4242" in buf:
            print(f"{arch} {image}: first answer {time.time() - start:.2f} s after QEMU start", flush=True)
            sys.exit(0)
    except (OSError, EOFError):
        time.sleep(0.05)
print(f"{arch} {image}: no answer in 120 s")
sys.exit(1)
PY
        stop_vm
    done
done
