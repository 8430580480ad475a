#!/usr/bin/env python3
"""The module closure of a Debian kernel, for the board images (no kmod or depmod needed).

    modules.py MODDIR DEST flat   ROOT...   # board/initramfs.sh: DEST/NAME.ko + DEST/modules.load
    modules.py MODDIR DEST depmod ROOT...   # board/pid1-image.sh: DEST/kernel/.../NAME.ko +
                                            # DEST/modules.dep for just those; prints the roots
                                            # that are modules (not built in), one line

MODDIR is the kernel's /lib/modules/KVER. Each .ko's ELF .modinfo `depends=` gives its
dependencies; modules.builtin names are skipped (a root that is neither built in nor a .ko
fails). Compressed modules (.ko.xz/.gz/.zst) are stored uncompressed, as plain .ko: the board
kernels cannot decompress them themselves. The load order (dependencies first) goes to stderr.
"""
import gzip
import lzma
import os
import struct
import subprocess
import sys

moddir, dest, layout, roots = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
if layout not in ("flat", "depmod"):
    sys.exit(f"modules.py: layout must be flat or depmod, not {layout!r}")


def norm(name):
    return name.replace("-", "_")


builtin = set()
p = os.path.join(moddir, "modules.builtin")
if os.path.exists(p):
    for line in open(p):
        builtin.add(norm(os.path.basename(line.strip()).split(".ko")[0]))
index = {}   # name -> path relative to moddir
for d, _, files in os.walk(os.path.join(moddir, "kernel")):
    for f in files:
        if ".ko" in f:
            index[norm(f.split(".ko")[0])] = os.path.relpath(os.path.join(d, f), moddir)


def load(rel):
    path = os.path.join(moddir, rel)
    data = open(path, "rb").read()
    if path.endswith(".xz"):
        data = lzma.decompress(data)
    elif path.endswith(".gz"):
        data = gzip.decompress(data)
    elif path.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    return data


def modinfo(data):
    """The key=value pairs of the ELF section .modinfo."""
    is64 = data[4] == 2
    e = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(e + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x3A)
    else:
        shoff, = struct.unpack_from(e + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x2E)

    def sec(i):
        b = shoff + i * shentsize
        name, = struct.unpack_from(e + "I", data, b)
        off, size = struct.unpack_from(e + ("QQ" if is64 else "II"), data, b + (0x18 if is64 else 0x10))
        return name, off, size
    _, stroff, _ = sec(shstrndx)
    for i in range(shnum):
        n, off, size = sec(i)
        if data[stroff + n: stroff + n + 9] == b".modinfo\0":
            info = {}
            for kv in data[off:off + size].split(b"\0"):
                if b"=" in kv:
                    k, v = kv.split(b"=", 1)
                    info.setdefault(k.decode(), v.decode())
            return info
    return {}


order, seen, deps, blobs = [], set(), {}, {}


def visit(m):
    m = norm(m)
    if m in seen or m in builtin:
        return
    seen.add(m)
    if m not in index:
        sys.exit(f"module {m} not found in {moddir}")
    data = load(index[m])
    deps[m] = [norm(d) for d in modinfo(data).get("depends", "").split(",") if d and norm(d) not in builtin]
    for dep in deps[m]:
        visit(dep)
    blobs[m] = data
    order.append(m)


for r in roots:
    visit(r)
print("modules:", " ".join(order), file=sys.stderr)

os.makedirs(dest, exist_ok=True)
if layout == "flat":
    for m in order:
        open(os.path.join(dest, m + ".ko"), "wb").write(blobs[m])
    open(os.path.join(dest, "modules.load"), "w").write("\n".join(order) + "\n")
else:
    def rel(m):   # stored uncompressed: .ko.xz -> .ko
        return index[m].split(".ko")[0] + ".ko"

    def closure(m, out):
        for d in deps[m]:
            if d not in out:
                closure(d, out)
                out.append(d)
        return out
    lines = []
    for m in order:
        os.makedirs(os.path.join(dest, os.path.dirname(rel(m))), exist_ok=True)
        open(os.path.join(dest, rel(m)), "wb").write(blobs[m])
        # as depmod writes them: every module needed, the last one to be loaded first
        lines.append(f"{rel(m)}:" + "".join(" " + rel(d) for d in reversed(closure(m, []))))
    open(os.path.join(dest, "modules.dep"), "w").write("\n".join(lines) + "\n")
    print(" ".join(norm(r) for r in roots if norm(r) not in builtin))
