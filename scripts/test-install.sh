#!/bin/bash
# make test-install: what `make install` puts on a guest, checked for real.
#   1. the exact file list and modes of `make install DESTDIR=` (QEMU_GA_NAME=1, INIT=openrc,
#      the refusal to replace a real qemu-ga, uninstall), @SBINDIR@ filled in everywhere
#   2. the systemd unit: systemd-analyze verify (on the staged root)
#   3. the udev rule: udevadm verify where udev has it (253+), else a key-syntax checker
#   4. /etc/init.d/tinyqga start/status/restart/stop against the installed binary on a
#      unix socket (a qemu-ga.conf with method=unix-listen), answering guest-ping
#   5. the man page: no groff warnings, every option of --help and key of -D in it
#   6. mkinitramfs with the installed initramfs-tools hook + lsinitramfs/unmkinitramfs
#   7. the dracut module-setup.sh run against stub dracut functions (no dracut here)
#   8. the cpio fragment (board/cpio-fragment.sh): its exact entries and modes
#   9. x86_64 guests (board/): busybox init running the installed /etc/init.d/tinyqga;
#      the cpio fragment appended to an initramfs, started by rdinit=; the mkinitramfs
#      image of 6, whose init-top script starts the agent. x86_64 only: the scripts are
#      the same on every architecture, and vm-test covers the agent on the other three.
# Each check prints PASS/FAIL/SKIP; a missing tool is a loud SKIP, never a pass. Exit 1 if
# anything failed. Needs root (mount namespace for mkinitramfs, mknod in board/).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
T=$ROOT/target/test-install
rm -rf "$T" && mkdir -p "$T"
passed=0 failed=0 skipped=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
skip() {
    skipped=$((skipped + 1))
    echo "######################################################################"
    echo "## SKIP $*"
    echo "######################################################################"
}
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
agent_pids=()
cleanup() {
    local p
    for p in "${agent_pids[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "${VMDIR:-}" ] && stop_vm
}
trap cleanup EXIT

make -s build >/dev/null || { echo "test-install: build failed"; exit 1; }
BIN=$ROOT/target/x86_64-unknown-linux-musl/release/tinyqga

# ---- 1. file list and modes ---------------------------------------------------------------
R=$T/root
make -s install DESTDIR="$R" QEMU_GA_NAME=1 >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "install: make install failed"; }
(cd "$R" && find . -mindepth 1 \( -type l -printf '%M %P -> %l\n' \) -o \( ! -type l -printf '%M %P\n' \) | LC_ALL=C sort -k2) > "$T/files"
cat > "$T/files.expected" <<'EOF'
drwxr-xr-x etc
drwxr-xr-x etc/init.d
-rwxr-xr-x etc/init.d/tinyqga
drwxr-xr-x usr
drwxr-xr-x usr/lib
drwxr-xr-x usr/lib/dracut
drwxr-xr-x usr/lib/dracut/modules.d
drwxr-xr-x usr/lib/dracut/modules.d/99tinyqga
-rwxr-xr-x usr/lib/dracut/modules.d/99tinyqga/module-setup.sh
-rw-r--r-- usr/lib/dracut/modules.d/99tinyqga/tinyqga-initrd.service
-rwxr-xr-x usr/lib/dracut/modules.d/99tinyqga/tinyqga-start.sh
-rwxr-xr-x usr/lib/dracut/modules.d/99tinyqga/tinyqga-stop.sh
drwxr-xr-x usr/lib/systemd
drwxr-xr-x usr/lib/systemd/system
-rw-r--r-- usr/lib/systemd/system/tinyqga.service
drwxr-xr-x usr/lib/udev
drwxr-xr-x usr/lib/udev/rules.d
-rw-r--r-- usr/lib/udev/rules.d/60-tinyqga.rules
drwxr-xr-x usr/sbin
lrwxrwxrwx usr/sbin/qemu-ga -> tinyqga
-rwxr-xr-x usr/sbin/tinyqga
drwxr-xr-x usr/share
drwxr-xr-x usr/share/initramfs-tools
drwxr-xr-x usr/share/initramfs-tools/hooks
-rwxr-xr-x usr/share/initramfs-tools/hooks/tinyqga
drwxr-xr-x usr/share/initramfs-tools/scripts
drwxr-xr-x usr/share/initramfs-tools/scripts/init-bottom
-rwxr-xr-x usr/share/initramfs-tools/scripts/init-bottom/tinyqga
drwxr-xr-x usr/share/initramfs-tools/scripts/init-top
-rwxr-xr-x usr/share/initramfs-tools/scripts/init-top/tinyqga
drwxr-xr-x usr/share/man
drwxr-xr-x usr/share/man/man8
-rw-r--r-- usr/share/man/man8/tinyqga.8
EOF
check "install: exact file list and modes (DESTDIR, QEMU_GA_NAME=1)" diff -u "$T/files.expected" "$T/files"
check "install: the binary is the build" cmp -s "$BIN" "$R/usr/sbin/tinyqga"
check "install: @SBINDIR@ filled in everywhere" bash -c "! grep -rl @SBINDIR@ '$R'"
check "install: unit runs /usr/sbin/tinyqga" grep -qx 'ExecStart=-/usr/sbin/tinyqga' "$R/usr/lib/systemd/system/tinyqga.service"
check "install: init script runs /usr/sbin/tinyqga" grep -qx 'DAEMON=/usr/sbin/tinyqga' "$R/etc/init.d/tinyqga"
for f in "$R/etc/init.d/tinyqga" "$R"/usr/share/initramfs-tools/*/tinyqga "$R"/usr/share/initramfs-tools/scripts/*/tinyqga \
         "$R"/usr/lib/dracut/modules.d/99tinyqga/*.sh; do
    check "install: sh -n ${f#"$R"/}" sh -n "$f"
done
# INIT=openrc puts the OpenRC script at the same place; a real qemu-ga is never replaced.
make -s install DESTDIR="$T/openrc" INIT=openrc >/dev/null 2>&1
check "install: INIT=openrc gives an openrc-run script" \
    bash -c "head -1 '$T/openrc/etc/init.d/tinyqga' | grep -qx '#!/sbin/openrc-run' && ! [ -e '$T/openrc/usr/sbin/qemu-ga' ]"
mkdir -p "$T/real/usr/sbin" && echo 'real qemu-ga' > "$T/real/usr/sbin/qemu-ga"
check "install: QEMU_GA_NAME=1 refuses to replace a real qemu-ga" \
    bash -c "! make -s install DESTDIR='$T/real' QEMU_GA_NAME=1 >/dev/null 2>&1 && grep -q 'real qemu-ga' '$T/real/usr/sbin/qemu-ga'"
cp -a "$R" "$T/uninst" && make -s uninstall DESTDIR="$T/uninst" >/dev/null 2>&1
check "install: uninstall leaves no file behind" bash -c "[ -z \"\$(find '$T/uninst' ! -type d)\" ]"

# ---- 2. systemd unit ----------------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
    # Verified against the host's own units (sysinit.target, ...), with ExecStart= pointing
    # at the staged binary; the device unit itself comes from udev at run time.
    mkdir -p "$T/verify" && sed "s|=-/usr/sbin/tinyqga|=-$R/usr/sbin/tinyqga|" \
        "$R/usr/lib/systemd/system/tinyqga.service" > "$T/verify/tinyqga.service"
    if systemd-analyze verify --man=no "$T/verify/tinyqga.service" >"$T/verify.log" 2>&1 \
       && ! grep -qv '^$' "$T/verify.log"; then
        pass "unit: systemd-analyze verify: no complaints"
    else
        fail "unit: systemd-analyze verify:"; sed 's/^/    /' "$T/verify.log"
    fi
else
    skip "unit: systemd-analyze missing (scripts/setup.sh left systemd out, see its WARNING); using the key checker only"
fi
# Debian's shape, whatever the validator: bound to and ordered after the port's device unit.
dev='dev-virtio\x2dports-org.qemu.guest_agent.0.device'
check "unit: BindsTo= and After= the port's device unit" \
    bash -c "grep -qxF 'BindsTo=$dev' '$R/usr/lib/systemd/system/tinyqga.service' && grep -qxF 'After=$dev' '$R/usr/lib/systemd/system/tinyqga.service'"
if command -v systemd-escape >/dev/null; then
    check "unit: the device unit name is the escaped port path" \
        test "$(systemd-escape -p --suffix=device /dev/virtio-ports/org.qemu.guest_agent.0)" = "$dev"
fi

# ---- 3. udev rule -------------------------------------------------------------------------
RULE=$R/usr/lib/udev/rules.d/60-tinyqga.rules
if command -v udevadm >/dev/null && udevadm verify --help >/dev/null 2>&1; then
    check "udev: udevadm verify" udevadm verify "$RULE"
else
    echo "INFO udev: this udevadm ($(udevadm --version 2>/dev/null || echo none)) has no 'verify' (udev 253+); key-syntax checker instead"
fi
check "udev: key syntax (match keys ==/!=, assignments =/+=/:=, quoted values)" python3 - "$RULE" <<'PY'
import re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
match_keys = {"ACTION", "DEVPATH", "KERNEL", "NAME", "SYMLINK", "SUBSYSTEM", "DRIVER", "ATTR",
              "SYSCTL", "KERNELS", "SUBSYSTEMS", "DRIVERS", "ATTRS", "TAGS", "TAG", "ENV",
              "CONST", "TEST", "PROGRAM", "RESULT"}
assign_keys = {"NAME", "SYMLINK", "OWNER", "GROUP", "MODE", "SECLABEL", "ATTR", "SYSCTL", "ENV",
               "TAG", "RUN", "LABEL", "GOTO", "IMPORT", "OPTIONS"}
need_attr = {"ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "IMPORT", "SECLABEL"}
may_attr = {"TEST", "RUN"}
pair = re.compile(r'\s*([A-Z]+)(\{[^}]+\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
ok = True
for n, line in enumerate(text.splitlines(), 1):
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    pos, keys = 0, []
    while pos < len(line):
        m = pair.match(line, pos)
        if not m:
            print(f"    line {n}: cannot parse at: {line[pos:]!r}"); ok = False; break
        key, attr, op = m.group(1), m.group(2), m.group(3)
        known = match_keys if op in ("==", "!=") else assign_keys
        if key not in known:
            print(f"    line {n}: {key} {op}: not a udev key for this operator"); ok = False
        elif (key in need_attr) != (attr is not None) and key not in may_attr:
            print(f"    line {n}: {key}{attr or ''}: {'needs' if attr is None else 'takes no'} {{attribute}}"); ok = False
        keys.append((key, op))
        pos = m.end()
    if ok and not any(op in ("==", "!=") for _, op in keys):
        print(f"    line {n}: no match key"); ok = False
sys.exit(0 if ok else 1)
PY
check "udev: starts tinyqga.service for the port named org.qemu.guest_agent.0" \
    bash -c "tr -d '\\\\\n' < '$RULE' | grep -q 'SUBSYSTEM==\"virtio-ports\", ATTR{name}==\"org.qemu.guest_agent.0\", *TAG+=\"systemd\", ENV{SYSTEMD_WANTS}=\"tinyqga.service\"'"

# ---- 4. the sysvinit script against the installed binary ---------------------------------
cat > "$T/qemu-ga.conf" <<EOF
[general]
method=unix-listen
path=$T/sock
statedir=$T
EOF
cat > "$T/defaults" <<EOF
DAEMON=$R/usr/sbin/tinyqga
PIDFILE=$T/tinyqga.pid
DAEMON_ARGS="-c $T/qemu-ga.conf"
EOF
initd() { TINYQGA_DEFAULTS=$T/defaults sh "$R/etc/init.d/tinyqga" "$@"; }
ping_agent() { python3 scripts/qga-client.py "$T/sock" guest-ping 2>&1 | grep -qx '{"return": {}}'; }
initd status >/dev/null; check "init.d: status before start is 3 (not running)" test $? = 3
out=$(initd start); rc=$?
echo "    $out"
check "init.d: start exits 0" test $rc = 0
pid=$(cat "$T/tinyqga.pid" 2>/dev/null); agent_pids+=("${pid:-0}")
check "init.d: the pidfile names the installed binary, daemonized (parent 1)" \
    bash -c "[ -n '$pid' ] && [ \"\$(readlink /proc/$pid/exe)\" = '$R/usr/sbin/tinyqga' ] && [ \"\$(awk '{print \$4}' /proc/$pid/stat)\" = 1 ]"
check "init.d: the agent answers guest-ping on $T/sock" ping_agent
out=$(initd status); rc=$?
check "init.d: status says running (exit 0): $out" bash -c "[ $rc = 0 ] && [ '$out' = 'tinyqga is running (pid $pid)' ]"
out=$(initd start); check "init.d: a second start is a no-op: $out" bash -c "[ \"\$(cat '$T/tinyqga.pid')\" = '$pid' ]"
initd restart >/dev/null; pid2=$(cat "$T/tinyqga.pid" 2>/dev/null); agent_pids+=("${pid2:-0}")
check "init.d: restart gives a new agent ($pid -> $pid2) that answers" bash -c "[ -n '$pid2' ] && [ '$pid2' != '$pid' ] && ! kill -0 $pid 2>/dev/null" 
check "init.d: ... and it answers" ping_agent
initd reload >/dev/null; check "init.d: reload (SIGHUP) keeps the agent" bash -c "kill -0 $pid2 && python3 scripts/qga-client.py '$T/sock' guest-ping >/dev/null"
out=$(initd stop); rc=$?
echo "    $out"
check "init.d: stop ends the agent and its pidfile" bash -c "[ $rc = 0 ] && ! kill -0 $pid2 2>/dev/null && ! [ -e '$T/tinyqga.pid' ]"
initd status >/dev/null; check "init.d: status after stop is 3" test $? = 3
initd stop >/dev/null; check "init.d: stop when stopped exits 0" test $? = 0
sleep 1000 & sl=$!; echo $sl > "$T/tinyqga.pid"
initd status >/dev/null; rc=$?; kill $sl
check "init.d: a pidfile naming another program is not 'running' (exit 1)" test $rc = 1
rm -f "$T/tinyqga.pid"
sed -i 's|^DAEMON_ARGS=.*|DAEMON_ARGS="-c '"$T"'/missing.conf"|' "$T/defaults"
initd start >/dev/null 2>&1; check "init.d: start fails (non-zero) when the agent cannot start" test $? != 0

# ---- 5. man page ----------------------------------------------------------------------------
MAN=$R/usr/share/man/man8/tinyqga.8
if command -v groff >/dev/null; then
    check "man: groff -man -ww reports nothing" bash -c "[ -z \"\$(groff -man -ww -z '$MAN' 2>&1)\" ]"
    groff -man -Tascii -P-cbou "$MAN" 2>/dev/null > "$T/man.txt"
    missing=
    for opt in $("$BIN" --help | grep -o -- '--[a-z-]*' | sort -u); do grep -q -- "$opt" "$T/man.txt" || missing="$missing $opt"; done
    for key in $("$BIN" -D -m unix-listen -p x | sed -n 's/^\([a-z-]*\)=.*/\1/p'); do grep -q -- "$key=" "$T/man.txt" || missing="$missing $key="; done
    check "man: every --help option and -D config key is documented${missing:+ (missing:$missing)}" test -z "$missing"
    for s in NAME SYNOPSIS OPTIONS "CONFIGURATION FILE" FILES "EXIT STATUS" EXAMPLES; do
        check "man: section $s" grep -q "^$s" "$T/man.txt"
    done
else
    skip "man: groff missing (scripts/setup.sh installs groff-base)"
fi

# ---- 6. mkinitramfs with the installed hook ---------------------------------------------------
KVER=
if ! command -v mkinitramfs >/dev/null || ! command -v lsinitramfs >/dev/null; then
    skip "initramfs-tools: mkinitramfs/lsinitramfs missing (scripts/setup.sh installs initramfs-tools)"
elif ! board/fetch-kernel.sh x86_64 >"$T/fetch.log" 2>&1; then
    skip "initramfs-tools: could not fetch the board's x86_64 kernel (board/fetch-kernel.sh):"; tail -3 "$T/fetch.log"
else
    # A prefix install (no DESTDIR), so the hook's copy_exec finds the binary where it says.
    P=$T/prefix
    make -s install PREFIX="$P" SYSCONFDIR="$P/etc" >/dev/null 2>&1
    MODSRC=$(readlink -f target/board/x86_64/kernel/modules-dir); KVER=${MODSRC##*/}
    # The board kernel's modules, with the modules.dep the .deb leaves to its postinst.
    mkdir -p "$T/mods/lib/modules" && cp -al "$MODSRC" "$T/mods/lib/modules/$KVER" && depmod -b "$T/mods" "$KVER"
    C=$T/initramfs-conf
    mkdir -p "$C/conf.d" "$C/hooks" "$C/scripts"
    printf 'MODULES=list\nBUSYBOX=auto\nCOMPRESS=gzip\n' > "$C/initramfs.conf"
    printf 'virtio_pci\n' > "$C/modules"
    cp -a "$P/share/initramfs-tools/hooks/." "$C/hooks/"
    cp -a "$P/share/initramfs-tools/scripts/." "$C/scripts/"
    # mkinitramfs reads /lib/modules/KVER and /boot/config-KVER only: give it the board
    # kernel's, in a private mount namespace (the host gains at most the empty directories
    # /lib/modules and /boot as mount points, which a Debian system normally has).
    for d in /lib/modules /boot; do
        [ -d $d ] || { mkdir $d && echo "INFO created the empty $d (mount point)"; }
    done
    if unshare -m --propagation private sh -c "mount --bind '$T/mods/lib/modules' /lib/modules && mount --bind '$ROOT/target/board/x86_64/kernel/boot' /boot && mkinitramfs -d '$C' -o '$T/initrd.img' '$KVER'" >"$T/mkinitramfs.log" 2>&1; then
        pass "initramfs-tools: mkinitramfs $KVER with the installed hook"
        lsinitramfs "$T/initrd.img" > "$T/initrd.list"
        for f in usr/sbin/tinyqga scripts/init-top/tinyqga scripts/init-bottom/tinyqga; do
            check "initramfs-tools: lsinitramfs lists $f" grep -qx "$f" "$T/initrd.list"
        done
        check "initramfs-tools: lsinitramfs lists virtio_console.ko" grep -q '/virtio_console\.ko' "$T/initrd.list"
        mkdir -p "$T/initrd.x" && unmkinitramfs "$T/initrd.img" "$T/initrd.x" 2>/dev/null
        X=$T/initrd.x; [ -d "$X/main" ] && X=$X/main
        check "initramfs-tools: the binary in the image is the installed one" cmp -s "$P/sbin/tinyqga" "$X/usr/sbin/tinyqga"
        check "initramfs-tools: init-top/ORDER runs tinyqga after udev" \
            bash -c "grep -n 'init-top/udev\|init-top/tinyqga' '$X/scripts/init-top/ORDER' | tr '\n' ' ' | grep -q 'udev.*tinyqga'"
        check "initramfs-tools: init-bottom/ORDER stops tinyqga" grep -q 'init-bottom/tinyqga' "$X/scripts/init-bottom/ORDER"
    else
        fail "initramfs-tools: mkinitramfs failed:"; tail -15 "$T/mkinitramfs.log" | sed 's/^/    /'
    fi
fi

# ---- 7. dracut module (dracut itself conflicts with initramfs-tools: stub functions) ------------
for mode in shell systemd; do
    log=$T/dracut-$mode.log
    (
        set -e
        moddir=$R/usr/lib/dracut/modules.d/99tinyqga initdir=$T/dracut-root systemdsystemunitdir=/usr/lib/systemd/system
        SYSTEMCTL=systemctl_stub
        require_binaries() { echo "require_binaries $*"; }
        inst_simple() { echo "inst_simple $*"; }
        inst_hook() { echo "inst_hook $1 $2 ${3##*/}"; }
        instmods() { echo "instmods $*"; }
        systemctl_stub() { echo "systemctl $*"; }
        dracut_module_included() { [ "$1" = systemd ] && [ "$mode" = systemd ]; }
        # shellcheck disable=SC1091
        . "$moddir/module-setup.sh"
        check; installkernel; install
    ) > "$log" 2>&1
    case $mode in
        shell) want="require_binaries /usr/sbin/tinyqga
instmods virtio_console
inst_simple /usr/sbin/tinyqga /usr/sbin/tinyqga
inst_hook pre-udev 90 tinyqga-start.sh
inst_hook cleanup 90 tinyqga-stop.sh" ;;
        systemd) want="require_binaries /usr/sbin/tinyqga
instmods virtio_console
inst_simple /usr/sbin/tinyqga /usr/sbin/tinyqga
inst_simple $R/usr/lib/dracut/modules.d/99tinyqga/tinyqga-initrd.service /usr/lib/systemd/system/tinyqga-initrd.service
systemctl -q --root $T/dracut-root add-wants sysinit.target tinyqga-initrd.service" ;;
    esac
    # /etc/qemu/qemu-ga.conf is installed too where the host has one.
    got=$(grep -v '^inst_simple /etc/qemu/qemu-ga.conf' "$log")
    check "dracut: module-setup.sh ($mode init) installs the agent and its start" test "$got" = "$want"
    [ "$got" = "$want" ] || diff <(echo "$want") <(echo "$got") | sed 's/^/    /'
done
if command -v systemd-analyze >/dev/null; then
    check "dracut: tinyqga-initrd.service passes systemd-analyze verify" bash -c \
        "mkdir -p '$T/dr/usr/lib/systemd/system' '$T/dr/usr/sbin' && cp '$R/usr/lib/dracut/modules.d/99tinyqga/tinyqga-initrd.service' '$T/dr/usr/lib/systemd/system/' && cp '$BIN' '$T/dr/usr/sbin/tinyqga' && out=\$(systemd-analyze verify --root='$T/dr' --man=no /usr/lib/systemd/system/tinyqga-initrd.service 2>&1) && [ -z \"\$out\" ] || { echo \"\$out\"; false; }"
fi

# ---- 8. the cpio fragment -------------------------------------------------------------------------
FRAG=$T/fragment.cpio.gz
if make -s cpio-fragment ARCH=x86_64 FRAGMENT="$FRAG" >/dev/null 2>&1; then
    zcat "$FRAG" | cpio -itv --quiet 2>/dev/null | awk '{print $1, $2, $3, $4, $NF}' > "$T/fragment.list"
    cat > "$T/fragment.expected" <<'EOF'
drwxr-xr-x 3 root root usr
drwxr-xr-x 2 root root usr/sbin
-rwxr-xr-x 1 root root usr/sbin/tinyqga
-rwxr-xr-x 1 root root usr/sbin/tinyqga-rdinit
drwxr-xr-x 4 root root etc
drwxr-xr-x 2 root root etc/init.d
-rwxr-xr-x 1 root root etc/init.d/tinyqga
drwxr-xr-x 2 root root etc/qemu
EOF
    check "fragment: newc+gzip, exact entries and modes (no sbin/bin entry)" diff -u "$T/fragment.expected" "$T/fragment.list"
    check "fragment: newc format" bash -c "zcat '$FRAG' | head -c 6 | grep -qx 070701"
else
    fail "fragment: make cpio-fragment failed"
fi

# ---- 9. guests ------------------------------------------------------------------------------------
ARCH=x86_64
. board/x86_64/env.sh
CACHE=$ROOT/target/board/$ARCH
VMDIR=$T/vm
T0=$(date +%s.%N)
say() { printf '[test-install vm %5.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc 2>/dev/null || echo 0)" "$*"; }
# shellcheck source=board/vm-lib.sh
. board/vm-lib.sh
vm_ok=1
for cmd in "$QEMU_BIN" cpio mkfs.ext4; do
    command -v "$cmd" >/dev/null || [ -x "/sbin/$cmd" ] || { skip "vm: $cmd missing (board/vm-test.sh installs it: run it once)"; vm_ok=; }
done
[ -e "$CACHE/kernel/vmlinuz" ] && [ -x "$CACHE/busybox" ] || board/fetch-kernel.sh x86_64 >/dev/null 2>&1 ||
    { skip "vm: no board kernel (board/fetch-kernel.sh x86_64 failed)"; vm_ok=; }
# vm_check NAME CHECK...: board/vm-check.py's basic checks and these commands in the guest
# just booted, as `vm:` lines in $T/vm-NAME.log.
vm_check() {
    local name=$1
    shift
    python3 board/vm-check.py x86_64 "$VMDIR" --basic "$name" "$@" |
        sed 's/^PASS /PASS vm: /; s/^FAIL /FAIL vm: /' >"$T/vm-$name.log"
}
# vm_tally NAME WHAT: shows and counts guest NAME's lines; one that passed nothing did not
# WHAT (boot, answer), and fails.
vm_tally() {
    local log=$T/vm-$1.log
    touch "$log"
    cat "$log"
    passed=$((passed + $(grep -c '^PASS' "$log"))); failed=$((failed + $(grep -c '^FAIL' "$log")))
    grep -q '^PASS' "$log" || fail "vm: $1 guest did not $2 (console: $VMDIR/console.log)"
}
if [ -n "$vm_ok" ]; then
    # (a) busybox init runs the installed script, from the `make install DESTDIR=` tree.
    TREE=$T/vm-tree
    cp -a "$R" "$TREE"
    cat > "$TREE/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/tinyqga start
::sysinit:/bin/echo QGA-VM-READY
::shutdown:/etc/init.d/tinyqga stop
EOF
    INIT_FILE=board/init-busybox EXTRA_TREE=$TREE board/initramfs.sh x86_64 "$BIN" "$T/installed.cpio.gz" 2>/dev/null
    ( boot "$T/installed.cpio.gz" ) && vm_check installed \
        '/etc/init.d/tinyqga status' \
        'test "$(cat /var/run/tinyqga.pid)" = "$PPID" && readlink /proc/$PPID/exe && test "$(readlink /proc/$PPID/exe)" = /usr/sbin/tinyqga' \
        'ppid=$(awk "/^PPid:/ {print \$2}" /proc/$PPID/status); echo "agent parent $ppid"; test "$ppid" = 1'
    vm_tally installed boot
    grep -q "^Starting tinyqga: ok" "$VMDIR/console.log" && echo "    console: $(grep '^Starting tinyqga' "$VMDIR/console.log")"
    stop_vm

    # (b) the cpio fragment appended to an initramfs that knows nothing of tinyqga, started
    # by rdinit= before that image's own /init (here busybox init with an inittab without it).
    mkdir -p "$T/bare/etc" && printf '::sysinit:/bin/echo QGA-VM-READY\n' > "$T/bare/etc/inittab"
    INIT_FILE=board/init-busybox EXTRA_TREE=$T/bare board/initramfs.sh x86_64 "$BIN" "$T/bare.cpio.gz" 2>/dev/null
    # The board image carries /sbin/tinyqga: take it out, so only the fragment's can run.
    mkdir -p "$T/bare-x" && (cd "$T/bare-x" && zcat "$T/bare.cpio.gz" | cpio -id --quiet 2>/dev/null && rm -f sbin/tinyqga &&
        find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip > "$T/bare2.cpio.gz")
    cat "$T/bare2.cpio.gz" "$FRAG" > "$T/bare-frag.cpio.gz"
    ( export KERNEL_APPEND="rdinit=/usr/sbin/tinyqga-rdinit quiet"; boot "$T/bare-frag.cpio.gz" ) &&
        vm_check fragment \
            'test "$(cat /etc/qemu/tinyqga.pid)" = "$PPID" && readlink /proc/$PPID/exe' \
            '! test -e /sbin/tinyqga'
    vm_tally fragment boot
    stop_vm

    # (c) the mkinitramfs image of 6: its init-top script starts the agent while the
    # initramfs waits for a root device that never comes (then it panics: QEMU ends).
    if [ -s "$T/initrd.img" ]; then
        ( export KERNEL_APPEND="root=LABEL=no-such-root rootdelay=60 quiet" READY_MARK=; boot "$T/initrd.img" ) &&
            vm_check mkinitramfs \
                'test -x /scripts/init-top/tinyqga && test "$(cat /run/tinyqga.initramfs.pid)" = "$PPID" && readlink /proc/$PPID/exe'
        vm_tally mkinitramfs answer
        stop_vm
    else
        skip "vm: no mkinitramfs image from step 6 to boot"
    fi
fi

echo "test-install: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
