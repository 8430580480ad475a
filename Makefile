# tinyqga build and test entry points. `make test` is what CI runs (.ci/run).
# The toolchain is pinned by rust-toolchain.toml (1.95.0); nothing here updates it.

SHELL        := /bin/bash
CARGO        ?= cargo
HOST_TARGET  := x86_64-unknown-linux-musl
CROSS_TARGETS := aarch64-unknown-linux-musl s390x-unknown-linux-gnu riscv64gc-unknown-linux-gnu
NOSTD_TARGET := thumbv7em-none-eabihf
BIN          := target/$(HOST_TARGET)/release/tinyqga
SOCK         ?= ./qga.sock
FUZZ_SECONDS ?= 60
VM_ARCHES    ?= x86_64 aarch64 s390x riscv64
MARKER       := target/.cross-unavailable

.DEFAULT_GOAL := build
.PHONY: setup build run cross nostd-check lint test test-host test-install test-cross vm-test pid1-image libvirt-test \
        sizes fuzz bench clean install uninstall cpio-fragment

# setup: install what the tests need (apt: qemu-user-static, qemu-guest-agent, python3, libvirt;
# rustup: the five targets of rust-toolchain.toml). Idempotent and fast when done.
setup:
	@scripts/setup.sh

# build (default): the shipped static x86_64 binary -> target/x86_64-unknown-linux-musl/release/tinyqga
build:
	$(CARGO) build --release --target $(HOST_TARGET) --bin tinyqga

# run: build for this machine and serve on a unix socket in the current folder (Ctrl-C to
# stop); its state (qga.state, the guest-file handle counter) goes to target/. The host
# build is the same static, libc-free program; it needs no extra rustup target, so it
# works on a fresh machine before `make setup`.
run:
	$(CARGO) build --release --bin tinyqga
	@rm -f $(SOCK)
	@echo "tinyqga listening on $(SOCK); from another shell try:"
	@echo "    python3 scripts/qga-client.py $(SOCK) guest-info"
	@echo "    python3 scripts/qga-client.py $(SOCK) guest-sync '{\"id\": 42}'"
	target/release/tinyqga -m unix-listen -p $(SOCK) -t target -v

# cross: release binaries for the other guest architectures (aarch64, s390x, riscv64).
cross:
	@for t in $(CROSS_TARGETS); do \
	    echo "$(CARGO) build --release --target $$t --bin tinyqga"; \
	    $(CARGO) build --release --target $$t --bin tinyqga || exit 1; \
	done

# nostd-check: the library builds for a bare-metal target, proving it is no_std.
nostd-check:
	@if [ -f $(MARKER) ] && ! rustup target list --installed | grep -qx $(NOSTD_TARGET); then \
	    echo "######################################################################"; \
	    echo "## SKIPPED: nostd-check: $(NOSTD_TARGET) unavailable: $$(cat $(MARKER))"; \
	    echo "######################################################################"; \
	else \
	    echo "$(CARGO) build --lib --target $(NOSTD_TARGET)"; \
	    $(CARGO) build --lib --target $(NOSTD_TARGET); \
	fi

# lint: formatting and clippy (warnings are errors); the bench and fuzz workspaces'
# formatting too, and the fuzz targets type-checked (they use the library's API, and
# nothing else in `make test` builds them).
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	cd bench && $(CARGO) fmt -- --check
	cd fuzz && $(CARGO) fmt -- --check && $(CARGO) check --quiet

# test: everything CI checks, in order: setup, lint, host tests, packaging (make install,
# its units, scripts and initramfs hooks), no_std build, the four
# architectures under qemu-user (+ integration tests on the release binary), then whole
# guests booted under QEMU (x86_64, aarch64, s390x, riscv64) with the agent on virtio-serial,
# then the x86_64 guest run by a real libvirtd and checked through virsh.
# A failing stage does not stop the later ones (so one run shows every problem), but
# makes `make test` fail.
test: setup
	@failed=; \
	for stage in lint test-host test-install nostd-check test-cross vm-test libvirt-test; do \
	    start=$$(date +%s); \
	    $(MAKE) --no-print-directory $$stage || failed="$$failed $$stage"; \
	    echo "make test: stage $$stage took $$(( $$(date +%s) - start )) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: all stages passed"

# vm-test: boot throwaway guests (board/, one at a time, ~30 s each) and check the agent on a
# real virtio-serial port: sync, reconnects, a host that leaves with replies pending, CPU while
# the host is away, what the agent reports, the guest's hardware, the write side.
# Each architecture also boots the PID-1 image twice (board/pid1-test.sh, ~35 s): the agent as
# the guest's init, with the read-only checks that apply, exec, /tmp, orphans, shutdown, reboot.
vm-test:
	@failed=; \
	for arch in $(VM_ARCHES); do \
	    board/vm-test.sh $$arch || failed="$$failed $$arch"; \
	    board/pid1-test.sh $$arch || failed="$$failed $$arch-pid1"; \
	done; \
	[ -z "$$failed" ] || { echo "vm-test: FAILED:$$failed"; exit 1; }

# pid1-image: the agent as the guest's init (board/pid1-image.sh): an initramfs with only the
# agent as /init, its config, the board kernel's virtio modules and the EXTRA static programs
# (e.g. EXTRA=/bin/busybox), in target/board/ARCH/pid1/{vmlinuz,initramfs.cpio.gz}.
ARCH  ?= x86_64
EXTRA ?=
pid1-image:
	@. board/$(ARCH)/env.sh && \
	$(CARGO) build --release --target $$RUST_TARGET --bin tinyqga && \
	board/fetch-kernel.sh $(ARCH) && \
	board/pid1-image.sh $(ARCH) target/$$RUST_TARGET/release/tinyqga target/board/$(ARCH)/pid1 $(EXTRA)

# libvirt-test: libvirt as the host (board/libvirt-test.sh, 35-55 s warm, ~70 s on the first start
# of libvirtd): starts its own virtlogd and libvirtd, runs the x86_64 board guest as a transient
# domain with the agent channel, and checks what virsh gets through the agent (qemu-agent-command,
# domifaddr, guestinfo, domfsinfo, fsfreeze, set-user-password, ssh keys, domtime, setvcpus
# --guest, reboot and shutdown --mode agent) against the guest's own view. SKIPs loudly without
# the libvirt packages (scripts/setup.sh installs them).
libvirt-test:
	@board/libvirt-test.sh

# test-host: unit and integration tests on the host.
test-host:
	$(CARGO) test

# test-install: `make install` into a staging tree and what it installs, checked for real
# (file list and modes, systemd-analyze verify, the udev rule, the init script against a
# running agent, mkinitramfs + lsinitramfs, the cpio fragment), then an x86_64 guest whose
# busybox init starts the agent through the installed /etc/init.d/tinyqga
# (scripts/test-install.sh).
test-install:
	@scripts/test-install.sh

# test-cross: build, run and probe each architecture's release binary (scripts/test-cross.sh).
test-cross:
	@scripts/test-cross.sh

# sizes: the four release binaries' sizes in bytes (stripped by profile.release).
sizes: build cross
	@scripts/sizes.sh

# fuzz: run each fuzz target for FUZZ_SECONDS (nightly + cargo-fuzz; not in `test`): the
# framer and decoder, the file and exec arguments, and one per parser of src/formats/
# (FUZZ_TARGETS to choose; 18 targets at the default 60 s take 18 minutes).
FUZZ_TARGETS ?= framer_decoder arguments mountinfo tzif utmp keyfile netlink passwd \
                proc_route diskstats proc_stat os_release loadavg nvme_smart sysfs \
                cmdline modules_dep partitions
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_TARGETS)

# bench: speed, memory and size of the release agent next to Debian's qemu-ga and a floor
# agent, one table with goals; scaling with interfaces and mounts; a 100000-request soak
# (scripts/bench.sh; the client is the bench/ package; needs root and strace).
bench: build
	@scripts/bench.sh $(BIN)

# install: the agent and what starts it, for a real guest (see README, "Installing").
#   make install [PREFIX=/usr] [DESTDIR=staging] [QEMU_GA_NAME=1] [INIT=sysvinit|openrc|none]
# QEMU_GA_NAME=1 adds SBINDIR/qemu-ga -> tinyqga for units and scripts that name qemu-ga
# (refused where a real qemu-ga is installed there). INIT picks which script becomes
# /etc/init.d/tinyqga. INSTALL_BIN=path installs another build (e.g. a cross one) as is.
# Files that name the binary get SBINDIR (without DESTDIR) substituted for @SBINDIR@.
PREFIX       ?= /usr
DESTDIR      ?=
SBINDIR      ?= $(PREFIX)/sbin
SYSCONFDIR   ?= /etc
UNITDIR      ?= $(PREFIX)/lib/systemd/system
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
INITRAMFSDIR ?= $(PREFIX)/share/initramfs-tools
DRACUTDIR    ?= $(PREFIX)/lib/dracut/modules.d
MANDIR       ?= $(PREFIX)/share/man
QEMU_GA_NAME ?= 0
INIT         ?= sysvinit
INSTALL_BIN  ?= $(BIN)
# sub SRC DEST MODE: copy with @SBINDIR@ filled in.
sub = sed 's|@SBINDIR@|$(SBINDIR)|g' $(1) > $(DESTDIR)$(2) && chmod $(3) $(DESTDIR)$(2)

install: $(if $(filter $(BIN),$(INSTALL_BIN)),build)
	@case "$(INIT)" in sysvinit|openrc|none) ;; *) echo "install: INIT must be sysvinit, openrc or none" >&2; exit 1;; esac
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(UDEVRULESDIR) \
	    $(DESTDIR)$(INITRAMFSDIR)/hooks $(DESTDIR)$(INITRAMFSDIR)/scripts/init-top \
	    $(DESTDIR)$(INITRAMFSDIR)/scripts/init-bottom $(DESTDIR)$(DRACUTDIR)/99tinyqga \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(INSTALL_BIN) $(DESTDIR)$(SBINDIR)/tinyqga
	@if [ "$(QEMU_GA_NAME)" = 1 ]; then \
	    if [ -e $(DESTDIR)$(SBINDIR)/qemu-ga ] && [ "$$(readlink $(DESTDIR)$(SBINDIR)/qemu-ga)" != tinyqga ]; then \
	        echo "install: $(DESTDIR)$(SBINDIR)/qemu-ga exists (qemu-guest-agent?); remove it first" >&2; exit 1; \
	    fi; \
	    echo "ln -sfn tinyqga $(DESTDIR)$(SBINDIR)/qemu-ga"; ln -sfn tinyqga $(DESTDIR)$(SBINDIR)/qemu-ga; \
	fi
	$(call sub,dist/systemd/tinyqga.service,$(UNITDIR)/tinyqga.service,644)
	install -m 644 dist/udev/60-tinyqga.rules $(DESTDIR)$(UDEVRULESDIR)/60-tinyqga.rules
	@if [ "$(INIT)" != none ]; then \
	    install -d $(DESTDIR)$(SYSCONFDIR)/init.d && \
	    echo "$(INIT) script -> $(DESTDIR)$(SYSCONFDIR)/init.d/tinyqga" && \
	    $(call sub,dist/$(INIT)/tinyqga,$(SYSCONFDIR)/init.d/tinyqga,755); \
	fi
	$(call sub,dist/initramfs-tools/hooks/tinyqga,$(INITRAMFSDIR)/hooks/tinyqga,755)
	install -m 755 dist/initramfs-tools/scripts/init-top/tinyqga $(DESTDIR)$(INITRAMFSDIR)/scripts/init-top/tinyqga
	install -m 755 dist/initramfs-tools/scripts/init-bottom/tinyqga $(DESTDIR)$(INITRAMFSDIR)/scripts/init-bottom/tinyqga
	$(call sub,dist/dracut/99tinyqga/module-setup.sh,$(DRACUTDIR)/99tinyqga/module-setup.sh,755)
	install -m 755 dist/dracut/99tinyqga/tinyqga-start.sh dist/dracut/99tinyqga/tinyqga-stop.sh $(DESTDIR)$(DRACUTDIR)/99tinyqga/
	install -m 644 dist/dracut/99tinyqga/tinyqga-initrd.service $(DESTDIR)$(DRACUTDIR)/99tinyqga/
	install -m 644 dist/man/tinyqga.8 $(DESTDIR)$(MANDIR)/man8/tinyqga.8

# uninstall: what install put there (the same variables).
uninstall:
	@if [ "$$(readlink $(DESTDIR)$(SBINDIR)/qemu-ga 2>/dev/null)" = tinyqga ]; then rm -f $(DESTDIR)$(SBINDIR)/qemu-ga; fi
	@if grep -qs tinyqga $(DESTDIR)$(SYSCONFDIR)/init.d/tinyqga; then rm -f $(DESTDIR)$(SYSCONFDIR)/init.d/tinyqga; fi
	rm -f $(DESTDIR)$(SBINDIR)/tinyqga $(DESTDIR)$(UNITDIR)/tinyqga.service \
	    $(DESTDIR)$(UDEVRULESDIR)/60-tinyqga.rules $(DESTDIR)$(INITRAMFSDIR)/hooks/tinyqga \
	    $(DESTDIR)$(INITRAMFSDIR)/scripts/init-top/tinyqga \
	    $(DESTDIR)$(INITRAMFSDIR)/scripts/init-bottom/tinyqga $(DESTDIR)$(MANDIR)/man8/tinyqga.8
	rm -rf $(DESTDIR)$(DRACUTDIR)/99tinyqga

# cpio-fragment: a newc cpio, gzip'd, with the agent for ARCH, its start scripts and an
# empty /etc/qemu, to append to any initramfs (board/cpio-fragment.sh; board/README.md).
ARCH ?= x86_64
FRAGMENT ?= target/tinyqga-$(ARCH).cpio.gz
cpio-fragment:
	@board/cpio-fragment.sh $(ARCH) $(FRAGMENT)

# clean: remove build output (main, fuzz and bench crates).
clean:
	$(CARGO) clean
	rm -rf fuzz/target bench/target
