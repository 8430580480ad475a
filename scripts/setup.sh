#!/usr/bin/env bash
# Idempotent machine setup for tinyqga's tests (Debian 12, root or sudo).
#
#   * apt: qemu-user-static (runs the cross binaries), qemu-guest-agent (the reference
#     qemu-ga for `make bench`), python3 (the test client), passwd and openssl (the
#     account tests), strace (system calls per request in `make bench`); for `make
#     test-install`: initramfs-tools (mkinitramfs, lsinitramfs), cpio, groff-base (the man
#     page check) and systemd (systemd-analyze verify), the last only if apt would remove
#     nothing for it (checked with `apt-get -s` first; else a loud WARNING, and the test
#     falls back to its own unit checker). apt runs only when something is missing.
#   * apt: libvirt (libvirtd with the QEMU driver, virtlogd, virsh) for `make libvirt-test`;
#     a failed install only warns (that test then SKIPs loudly).
#   * rustup: the five targets of rust-toolchain.toml, for the pinned toolchain (1.95.0).
#     Only missing targets are added. If rustup cannot reach its server, setup still
#     succeeds but writes target/.cross-unavailable, and the cross tests skip LOUDLY.
#
# Never runs `rustup update` or installs a "stable"/"nightly" channel (see
# shared/reference/toolchain.md: the mirror's newer stable lacks s390x/riscv64 rust-std).
set -euo pipefail
cd "$(dirname "$0")/.."

MARKER=target/.cross-unavailable
TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl s390x-unknown-linux-gnu
         riscv64gc-unknown-linux-gnu thumbv7em-none-eabihf)

# ---- apt packages ------------------------------------------------------------------------
missing=()
for cmd in qemu-aarch64-static qemu-s390x-static qemu-riscv64-static; do
    command -v "$cmd" >/dev/null 2>&1 || { missing+=(qemu-user-static); break; }
done
if ! [ -x /usr/sbin/qemu-ga ] && ! dpkg -s qemu-guest-agent >/dev/null 2>&1; then
    missing+=(qemu-guest-agent)
fi
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# tests/accounts.rs: a throwaway user (useradd, userdel) and the system's crypt (openssl).
command -v useradd >/dev/null 2>&1 || missing+=(passwd)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# make bench: system calls per guest-ping (strace -c).
command -v strace >/dev/null 2>&1 || missing+=(strace)
# make test-install: mkinitramfs/lsinitramfs, cpio (the fragment's listing), groff (man page).
command -v mkinitramfs >/dev/null 2>&1 || missing+=(initramfs-tools)
command -v cpio >/dev/null 2>&1 || missing+=(cpio)
command -v groff >/dev/null 2>&1 || missing+=(groff-base)
# systemd-analyze comes with systemd. Installing it where systemd is not PID 1 is harmless,
# unless apt wanted to remove something for it (another init system, say): then it is
# left out, loudly, and scripts/test-install.sh says it used the lighter checker.
if ! command -v systemd-analyze >/dev/null 2>&1; then
    plan=$(apt-get install -s --no-install-recommends systemd 2>&1 || true)
    if grep -q '^Remv ' <<<"$plan"; then
        echo "######################################################################"
        echo "## setup: WARNING: not installing systemd: apt would remove:"
        sed -n 's/^Remv /##   /p' <<<"$plan"
        echo "## make test-install will check the unit with its own checker only"
        echo "######################################################################"
    else
        missing+=(systemd)
    fi
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    # Nothing the tests need is worth removing a package for: look before installing.
    removals=$(apt-get install -s --no-install-recommends "${missing[@]}" | sed -n 's/^Remv //p')
    if [ -n "$removals" ]; then
        echo "setup: apt would remove packages to install ${missing[*]}; refusing:" >&2
        echo "$removals" >&2
        exit 1
    fi
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "setup: apt packages present (qemu-user-static, qemu-guest-agent, python3, strace," \
         "initramfs-tools, cpio, groff-base, systemd)"
fi

# ---- libvirt, for `make libvirt-test` (board/libvirt-test.sh) ----------------------------
# Debian 12's monolithic libvirtd with the QEMU driver, and virsh. `-sysv` is named on
# purpose: libvirt-daemon-system depends on `-systemd | -sysv`, and left to choose, apt picks
# the systemd flavour and upgrades systemd itself. The postinst starts nothing here (the
# test starts and stops the daemons itself). A failed install is tolerated: the libvirt test
# then prints a SKIP banner (it checks for the binaries itself).
LIBVIRT_PKGS=(libvirt-daemon-system libvirt-daemon-system-sysv libvirt-clients libvirt-daemon-driver-qemu)
lv_missing=()
for p in "${LIBVIRT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || lv_missing+=("$p")
done
if [ ${#lv_missing[@]} -eq 0 ]; then
    echo "setup: libvirt packages present (${LIBVIRT_PKGS[*]})"
elif [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "setup: WARNING: need root (or sudo) to install ${lv_missing[*]}; make libvirt-test will SKIP"
else
    SUDO=(); [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
    echo "setup: installing ${lv_missing[*]}"
    if ! { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
               apt-get install -y -q --no-install-recommends "${LIBVIRT_PKGS[@]}" ||
           { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q update &&
             "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
               apt-get install -y -q --no-install-recommends "${LIBVIRT_PKGS[@]}"; }; }; then
        echo
        echo "######################################################################"
        echo "## setup: WARNING: could not install ${lv_missing[*]}"
        echo "## make libvirt-test will be SKIPPED"
        echo "######################################################################"
    fi
fi

# ---- rust targets ------------------------------------------------------------------------
# Run from the repo so rust-toolchain.toml selects the pinned toolchain.
channel=$(sed -n 's/^channel *= *"\([^"]*\)".*/\1/p' rust-toolchain.toml)
case "$channel" in
    [0-9]*.[0-9]*.[0-9]*) ;;
    *) echo "setup: rust-toolchain.toml must pin a version, not '$channel'" >&2; exit 1 ;;
esac
if ! rustup toolchain list | grep -q "^$channel-"; then
    # Safe only because the channel is a pinned version (never stable/nightly: see above).
    echo "setup: installing the pinned toolchain $channel (rustup toolchain install)"
    rustup toolchain install
fi
active=$(rustup show active-toolchain 2>&1) || {
    echo "setup: the toolchain pinned by rust-toolchain.toml is not usable:" >&2
    echo "$active" >&2
    exit 1
}
case "$active" in
    "$channel"-*) ;;
    *) echo "setup: expected the pinned $channel toolchain, got: $active" >&2; exit 1 ;;
esac
echo "setup: toolchain $active"

installed=$(rustup target list --installed)
need=()
for t in "${TARGETS[@]}"; do
    grep -qx "$t" <<<"$installed" || need+=("$t")
done

mkdir -p target
if [ ${#need[@]} -eq 0 ]; then
    echo "setup: rust targets present: ${TARGETS[*]}"
    rm -f "$MARKER"
    exit 0
fi

echo "setup: rustup target add ${need[*]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if rustup target add "${need[@]}" 2>&1 | tee "$log"; then
    rm -f "$MARKER"
    exit 0
fi
# A download problem is tolerated (the cross tests will say so); anything else fails.
if grep -qiE 'download|resolve|connect|timed? ?out|network|dns|tls|ssl|certificate|http|unreachable|curl|reqwest|error sending request' "$log"; then
    reason=$(grep -iE 'error' "$log" | head -n 3 | tr '\n' ' ')
    printf 'missing targets: %s; rustup: %s\n' "${need[*]}" "${reason:-see rustup output}" >"$MARKER"
    echo
    echo "######################################################################"
    echo "## setup: WARNING: rustup could not download: ${need[*]}"
    echo "## cross tests will be SKIPPED (marker: $MARKER)"
    echo "######################################################################"
    exit 0
fi
echo "setup: rustup target add failed (not a network error)" >&2
exit 1
