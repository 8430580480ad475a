#!/bin/bash
# libvirt as the host: the x86_64 board guest (board's kernel + the tinyqga busybox initramfs)
# run as a transient libvirt domain, and the agent driven through virsh, as a libvirt user would.
#   board/libvirt-test.sh            (make libvirt-test)
# Starts its own virtlogd and libvirtd (clean environment; libvirtd in a private mount namespace
# where /dev/kvm is an empty 0600 file and qemu.conf says `namespaces = [ ]`, so nothing on the
# host changes), boots the domain, runs board/libvirt-check.py and stops everything it started
# (trap, also on failure). Last line: `libvirt-test: N ok, M failed, K skipped`; exit status
# non-zero on any failure. A missing precondition (no libvirt packages, not root, a libvirtd that
# this script did not start) prints a SKIP banner and exits 0.
# See shared facts: /work/shared/reference/libvirt-host.md (why each step is as it is).
set -euo pipefail
ARCH=x86_64
. "$(dirname "$0")/arch.sh"
# The domain's private copies: libvirt chowns them to libvirt-qemu while the domain runs, and
# QEMU (as libvirt-qemu) must be able to reach them, so the directory is 0755, under 0755 parents.
LVDIR=${LIBVIRT_TEST_DIR:-$ROOT/target/libvirt}
DOM=tinyqga-lvtest
# -cpu max, as board/qemu.sh: TCG boots it faster than libvirt's default qemu64, and it has RDRAND.
# LIBVIRT_TEST_CPU_XML= (empty) gives libvirt's default CPU.
PIDFILE_LIBVIRTD=/run/libvirtd.pid
PIDFILE_VIRTLOGD=/run/virtlogd.pid
CLEAN_ENV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C)
T0=$(date +%s.%N)
say() { printf '[libvirt-test %5.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc 2>/dev/null || echo 0)" "$*" >&2; }
skip() {
    echo "######################################################################"
    echo "## SKIPPED: libvirt-test: $*"
    echo "######################################################################"
    echo "libvirt-test: 0 ok, 0 failed, 1 skipped"
    exit 0
}

# ---- preconditions ----
[ "$(id -u)" = 0 ] || skip "needs root (libvirtd, mount namespace)"
have_all() {
    command -v virsh >/dev/null && [ -x /usr/sbin/libvirtd ] && [ -x /usr/sbin/virtlogd ] &&
        [ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ]
}
if ! have_all; then
    say "libvirt is missing; running scripts/setup.sh"
    "$ROOT/scripts/setup.sh" >&2 || true
    have_all || skip "libvirt packages not installed (scripts/setup.sh could not install them)"
fi
command -v unshare >/dev/null || skip "no unshare(1) (util-linux)"
command -v "$QEMU_BIN" >/dev/null || skip "no $QEMU_BIN (board/vm-test.sh installs $QEMU_PKG)"
command -v mkfs.ext4 >/dev/null || [ -x /sbin/mkfs.ext4 ] || skip "no mkfs.ext4 (e2fsprogs)"
command -v openssl >/dev/null || skip "no openssl (scripts/setup.sh installs it)"
alive() {   # alive PIDFILE COMM: the pidfile names a running process called COMM
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
if alive "$PIDFILE_LIBVIRTD" libvirtd; then
    skip "a libvirtd this script did not start is running (pid $(cat "$PIDFILE_LIBVIRTD")); not touching it"
fi

# ---- agent, kernel, initramfs (the board's scripts) ----
say "building agent ($RUST_TARGET)"
(cd "$ROOT" && cargo build -q --release --target "$RUST_TARGET" --bin tinyqga)
say "fetching kernel"
"$ROOT/board/fetch-kernel.sh" "$ARCH"
say "building initramfs"
mkdir -p "$LVDIR"
chmod 755 "$LVDIR"
d=$LVDIR
while [ "$d" != / ]; do
    [ "$(( $(stat -c %#a "$d") & 1 ))" = 1 ] || { echo "libvirt-test: $d is not searchable by others; QEMU (libvirt-qemu) could not reach the images. Set LIBVIRT_TEST_DIR." >&2; exit 1; }
    d=$(dirname "$d")
done
"$ROOT/board/initramfs.sh" "$ARCH" "$ROOT/target/$RUST_TARGET/release/tinyqga" "$CACHE/libvirt-initramfs.cpio.gz"

# ---- daemons and domain; stop what we started, also on failure ----
started_virtlogd=
started_libvirtd=
stop_daemon() {   # stop_daemon PIDFILE COMM
    local pid
    alive "$1" "$2" || return 0
    pid=$(cat "$1")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    echo "libvirt-test: $2 (pid $pid) did not stop after SIGTERM within 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
    if [ -n "$started_libvirtd" ] && alive "$PIDFILE_LIBVIRTD" libvirtd; then
        # A transient domain outlives libvirtd otherwise (its QEMU keeps running).
        virsh -q -c qemu:///system destroy "$DOM" >/dev/null 2>&1 || true
        stop_daemon "$PIDFILE_LIBVIRTD" libvirtd
    fi
    [ -z "$started_virtlogd" ] || stop_daemon "$PIDFILE_VIRTLOGD" virtlogd
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Private copies (libvirt relabels them) and a fresh scratch disk, as board/qemu.sh makes it.
say "preparing $LVDIR"
rm -f "$LVDIR"/vmlinuz "$LVDIR"/initrd.gz "$LVDIR"/scratch.img "$LVDIR"/console.log "$LVDIR"/libvirtd.log
cp -L "$CACHE/kernel/vmlinuz" "$LVDIR/vmlinuz"
cp "$CACHE/libvirt-initramfs.cpio.gz" "$LVDIR/initrd.gz"
truncate -s 64M "$LVDIR/scratch.img"
mkfs.ext4 -q -F -L qga-scratch "$LVDIR/scratch.img"
chmod 644 "$LVDIR/vmlinuz" "$LVDIR/initrd.gz" "$LVDIR/scratch.img"
# /dev/kvm here is a root-only node backed by a hypervisor that cannot run guests. libvirt would
# see KVM, fail the access check as libvirt-qemu and re-probe QEMU on every capability lookup
# (~80 s per `virsh create`). In libvirtd's own mount namespace it is an empty 0600 file instead;
# libvirt's per-domain /dev namespace cannot copy that bind mount, hence `namespaces = [ ]`.
: > "$LVDIR/kvm"
chmod 600 "$LVDIR/kvm"
{ cat /etc/libvirt/qemu.conf; echo; echo '# board/libvirt-test.sh'; echo 'namespaces = [ ]'; } > "$LVDIR/qemu.conf"
# libvirtd's own config (-f): the stock one plus a debug log of the agent conversation.
{ cat /etc/libvirt/libvirtd.conf; echo; echo '# board/libvirt-test.sh'
  echo 'log_filters="1:qemu.qemu_agent 1:qemu.qemu_driver"'
  echo "log_outputs=\"1:file:$LVDIR/libvirtd.log\""; } > "$LVDIR/libvirtd.conf"

if alive "$PIDFILE_VIRTLOGD" virtlogd; then
    say "virtlogd already running (pid $(cat "$PIDFILE_VIRTLOGD")); using it"
else
    say "starting virtlogd"
    "${CLEAN_ENV[@]}" virtlogd -d
    started_virtlogd=1
fi
say "starting libvirtd (private mount namespace)"
# shellcheck disable=SC2016
"${CLEAN_ENV[@]}" unshare --mount --propagation private sh -c '
    mount --bind "$1" /dev/kvm && mount --bind "$2" /etc/libvirt/qemu.conf && exec libvirtd -d -f "$3"
' sh "$LVDIR/kvm" "$LVDIR/qemu.conf" "$LVDIR/libvirtd.conf"
started_libvirtd=1
for i in $(seq 600); do   # 60 s; the very first start probes every qemu-system-* (30-40 s)
    virsh -q -c qemu:///system version >/dev/null 2>&1 && break
    alive "$PIDFILE_LIBVIRTD" libvirtd || { echo "libvirt-test: libvirtd exited during start" >&2; exit 1; }
    sleep 0.1
    [ "$i" -lt 600 ] || { echo "libvirt-test: virsh got no answer from libvirtd within 60 s" >&2; exit 1; }
done
say "libvirtd answers: $(virsh -c qemu:///system version 2>/dev/null | tr '\n' ' ' | sed 's/  */ /g')"
# A domain left by an interrupted run (libvirtd reconnects to its QEMU on start).
virsh -q -c qemu:///system destroy "$DOM" >/dev/null 2>&1 || true

cat > "$LVDIR/domain.xml" <<XML
<domain type='qemu'>
  <name>$DOM</name>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$LVDIR/vmlinuz</kernel>
    <initrd>$LVDIR/initrd.gz</initrd>
    <cmdline>console=$CONSOLE panic=-1 ${KERNEL_APPEND:-quiet}</cmdline>
  </os>
  <features><acpi/></features>
  ${LIBVIRT_TEST_CPU_XML-<cpu mode='maximum' check='none'/>}
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v "$QEMU_BIN")</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' cache='unsafe' discard='unmap'/>
      <source file='$LVDIR/scratch.img'/>
      <target dev='vda' bus='virtio'/>
      <serial>qga-scratch</serial>
    </disk>
    <controller type='usb' model='none'/>
    <interface type='user'>
      <mac address='52:54:00:12:34:56'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$LVDIR/console.log'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <source mode='bind'/>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <memballoon model='none'/>
  </devices>
</domain>
XML
rc=0
python3 "$ROOT/board/libvirt-check.py" "$DOM" "$LVDIR" || rc=$?
say "done (console: $LVDIR/console.log, QEMU log: /var/log/libvirt/qemu/$DOM.log, libvirtd log: $LVDIR/libvirtd.log)"
exit $rc
