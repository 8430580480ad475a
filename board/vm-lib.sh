# Booting and stopping a throwaway guest, shared by board/vm-test.sh and
# scripts/test-install.sh (sourced). Expects ROOT, ARCH, CACHE and VMDIR set and a say()
# function. Always kills its own QEMU only: the pid in VMDIR/qemu.pid, if it is a qemu.

stop_vm() {
    local pid
    pid=$(cat "$VMDIR/qemu.pid" 2>/dev/null) || return 0
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q qemu "/proc/$pid/comm" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$VMDIR/qemu.pid"
}

# boot [INITRD]: start the guest (board/qemu.sh) and wait up to 120 s for READY_MARK
# (default QGA-VM-READY, printed by the board's /init) on its console; READY_MARK= (empty)
# returns as soon as QEMU runs. Exits the script if the guest dies or never gets ready.
boot() {
    local initrd=${1:-$CACHE/initramfs.cpio.gz} mark=${READY_MARK-QGA-VM-READY}
    say "booting"
    "$ROOT/board/qemu.sh" "$ARCH" "$VMDIR" "$initrd"
    [ -n "$mark" ] || return 0
    for _ in $(seq 1200); do   # 120 s
        grep -q "$mark" "$VMDIR/console.log" 2>/dev/null && break
        kill -0 "$(cat "$VMDIR/qemu.pid")" 2>/dev/null || { echo "QEMU died during boot" >&2; tail -30 "$VMDIR/console.log" >&2; exit 1; }
        sleep 0.1
    done
    if ! grep -q "$mark" "$VMDIR/console.log"; then
        echo "guest not READY after 120 s; console tail:" >&2; tail -30 "$VMDIR/console.log" >&2
        echo "vm-$ARCH: 0 passed, 1 failed"; exit 1
    fi
    say "guest READY"
}
