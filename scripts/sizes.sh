#!/usr/bin/env bash
# Prints the size in bytes of the four release binaries (built by `make build cross`).
# profile.release has strip = true; the "stripped" column double-checks that the ELF has
# no .symtab (read with python3, since host binutils cannot read s390x/riscv64 ELF).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import os, struct
targets = ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl",
           "s390x-unknown-linux-gnu", "riscv64gc-unknown-linux-gnu"]

def has_symtab(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    e = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(e + "Q", data, 0x28)
    shentsize, shnum = struct.unpack_from(e + "HH", data, 0x3A)
    return any(struct.unpack_from(e + "I", data, shoff + i * shentsize + 4)[0] == 2
               for i in range(shnum))  # SHT_SYMTAB

print(f"{'target':<30} {'bytes':>8}  stripped")
for t in targets:
    path = f"target/{t}/release/tinyqga"
    if not os.path.exists(path):
        print(f"{t:<30} {'-':>8}  (not built)")
        continue
    sym = has_symtab(path)
    print(f"{t:<30} {os.path.getsize(path):>8}  {'?' if sym is None else ('no' if sym else 'yes')}")
PY
