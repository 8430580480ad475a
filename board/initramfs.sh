#!/bin/bash
# Build a gzip'd newc cpio initramfs: static busybox + the agent + the virtio modules it
# needs (dependencies resolved from each .ko's .modinfo depends=, no kmod/depmod) + /init.
#   board/initramfs.sh ARCH AGENT_BINARY OUTPUT.cpio.gz
# INIT_FILE=path replaces /init; EXTRA_TREE=dir is copied over the image last.
# Expects board/fetch-kernel.sh ARCH to have run (kernel + busybox in target/board/ARCH).
set -euo pipefail
ARCH=${1:?usage: initramfs.sh ARCH AGENT OUT}
AGENT=${2:?agent binary}
OUT=${3:?output .cpio.gz}
. "$(dirname "$0")/arch.sh"
MODDIR=$CACHE/kernel/modules-dir
[ -d "$MODDIR" ] || { echo "no kernel in $CACHE; run board/fetch-kernel.sh $ARCH" >&2; exit 1; }

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/board-initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,etc,lib/modules,mnt/scratch}
# Identity for guest-get-osinfo / guest-get-host-name.  No /etc/localtime (the timezone is UTC).
cat > "$STAGE/etc/os-release" <<'OSR'
ID=qgavm
NAME="QGA VM"
PRETTY_NAME="QGA test VM (initramfs)"
VERSION_ID="1"
VARIANT_ID=initramfs
OSR
echo qga-vm > "$STAGE/etc/hostname"
# Accounts for the write-side checks (SSH keys, a password set without chpasswd).
echo 'root:x:0:0:root:/root:/bin/sh' > "$STAGE/etc/passwd"
echo 'root:*:19000:0:99999:7:::' > "$STAGE/etc/shadow"
chmod 600 "$STAGE/etc/shadow"
mkdir -p "$STAGE/root"
# /var/run is /run on every distribution; the agent keeps its state (qga.state) there.
mkdir -p "$STAGE/var" && ln -s ../run "$STAGE/var/run"
cp "$CACHE/busybox" "$STAGE/bin/busybox"
cp "$AGENT" "$STAGE/sbin/tinyqga"
chmod 755 "$STAGE/bin/busybox" "$STAGE/sbin/tinyqga"
ln -s busybox "$STAGE/bin/sh"
# Console for the kernel to hand to /init (needs root for mknod; /init reopens it anyway).
mknod -m 600 "$STAGE/dev/console" c 5 1 2>/dev/null || true

# ---- module closure from .modinfo depends=, in load order (deps first): board/modules.py ----
python3 "$ROOT/board/modules.py" "$MODDIR" "$STAGE/lib/modules" flat $MODULES

cat > "$STAGE/init" <<'INIT'
#!/bin/busybox sh
# tinyqga test-rig init (board/initramfs.sh). PID 1.
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1
log() { read -r up _ < /proc/uptime; echo "board-init[$up]: $*"; }
# busybox init's power signals, which busybox poweroff, halt and reboot send to PID 1
# (QEMU runs with -no-reboot: a reboot ends it too).
trap 'log "power off"; sync; poweroff -f' USR2
trap 'log "halt"; sync; halt -f' USR1
trap 'log "reboot"; sync; reboot -f' TERM
for m in $(cat /lib/modules/modules.load); do
    insmod /lib/modules/$m.ko || log "insmod $m failed"
done
hostname qga-vm
# Network: static, QEMU user-net addresses (restrict=on; nothing is sent anywhere).
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up
    ip addr add 10.0.2.15/24 dev eth0
else
    log "no eth0"
fi
# Scratch disk (virtio-blk serial qga-scratch, ext4) on /mnt/scratch; the partitioned disk
# (serial qga-parted, MBR) stays unmounted. Found by serial, not by name: on s390x the vd
# letters follow the order in which the ccw devices come online, which varies.
i=0; scratch=
while [ $i -lt 50 ]; do
    for b in /sys/block/vd*; do
        [ "$(cat $b/serial 2>/dev/null)" = qga-scratch ] && scratch=${b##*/}
    done
    [ -n "$scratch" ] && [ -b /dev/$scratch ] && break
    sleep 0.1; i=$((i+1))
done
mount -t ext4 /dev/${scratch:-vda} /mnt/scratch || log "mount /dev/${scratch:-vda} (serial qga-scratch) on /mnt/scratch failed"
for b in /sys/block/*; do
    case ${b##*/} in loop*|ram*) continue;; esac
    log "disk ${b##*/} serial=$(cat $b/serial 2>/dev/null || cat $b/device/serial 2>/dev/null) size=$(cat $b/size)"
done
# Wait (max 5 s) for the host to name the port.  The /dev/virtio-ports/ link is NOT
# created on purpose: the agent must find the port via /sys/class/virtio-ports/*/name.
i=0
while [ $i -lt 50 ]; do
    n=$(cat /sys/class/virtio-ports/*/name 2>/dev/null)
    case "$n" in *org.qemu.guest_agent.0*) break;; esac
    sleep 0.1; i=$((i+1))
done
for p in /sys/class/virtio-ports/*; do [ -e "$p/name" ] && log "port ${p##*/} name=$(cat $p/name)"; done
[ -e /dev/virtio-ports ] && log "WARNING: /dev/virtio-ports exists"

# Once a second: the agent's CPU ticks and context switches, for the host to measure.
monitor() {
    while :; do
        pid=$(cat /run/agent.pid 2>/dev/null)
        if [ -n "$pid" ] && read -r st < /proc/$pid/stat 2>/dev/null; then
            set -- $st
            ut=${14}; stt=${15}
            vc=; nvc=
            while read -r k v; do
                case $k in
                    voluntary_ctxt_switches:) vc=$v;;
                    nonvoluntary_ctxt_switches:) nvc=$v;;
                esac
            done < /proc/$pid/status
            read -r up _ < /proc/uptime
            echo "AGENTSTAT $ut $stt $vc $nvc pid=$pid up=$up"
        fi
        sleep 1
    done
}
monitor &
log "READY"
echo "QGA-VM-READY"
# A second agent for a port that is not there yet: board/vm-check.py hot-plugs the
# virtserialport org.qemu.guest_agent.1 (QMP device_add) and unplugs it again; this one
# waits for it with --retry-path (inotify, no udev: found by name through sysfs).
mkdir -p /run/qga1
/sbin/tinyqga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.1 --retry-path \
    -t /run/qga1 -v -l /run/qga1.log &
n=0
while :; do
    /sbin/tinyqga $(cat /etc/agent.args) &
    echo $! > /run/agent.pid
    log "agent started pid=$! (start #$n)"
    wait $!
    log "AGENT-EXITED status $?"
    rm -f /run/agent.pid
    n=$((n+1))
    sleep 1
done
INIT
chmod 755 "$STAGE/init"
# Variants (scripts/test-install.sh): INIT_FILE replaces the /init above, EXTRA_TREE is
# copied over the image last (e.g. a `make install DESTDIR=` staging tree).
if [ -n "${INIT_FILE:-}" ]; then
    install -m 755 "$INIT_FILE" "$STAGE/init"
fi
if [ -n "${EXTRA_TREE:-}" ]; then
    cp -a "$EXTRA_TREE/." "$STAGE/"
fi
# Extra agent arguments for debugging, e.g. AGENT_ARGS=-v (logs to the console).
# By default the agent logs verbosely to the scratch disk, so that freezing that disk
# shows the log pausing (board/vm-check.py, g.*), and has an fsfreeze hook that hangs
# while /tmp/hang-hook exists (the hung-hook check).
mkdir -p "$STAGE/etc/qemu"
cat > "$STAGE/etc/qemu/fsfreeze-hook" <<'HOOK'
#!/bin/sh
[ -e /tmp/hang-hook ] && sleep 1000
exit 0
HOOK
chmod 755 "$STAGE/etc/qemu/fsfreeze-hook"
printf '%s\n' "${AGENT_ARGS--v -l /mnt/scratch/qga.log -F}" > "$STAGE/etc/agent.args"

mkdir -p "$(dirname "$OUT")"
if command -v cpio >/dev/null; then
    (cd "$STAGE" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9 > "$OUT.tmp"
else
    (cd "$STAGE" && find . | LC_ALL=C sort | busybox cpio -o -H newc) | gzip -9 > "$OUT.tmp"
fi
mv "$OUT.tmp" "$OUT"
echo "initramfs: $OUT ($(stat -c %s "$OUT") bytes)" >&2
