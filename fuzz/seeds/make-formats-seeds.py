#!/usr/bin/env python3
"""Writes the hand-made seeds of the format targets (fuzz/fuzz_targets/<format>.rs) that
cannot be captured from a machine as they are: a utmp with several kinds of record, key
files, netlink link messages, passwd/shadow inputs (fake names and fake hashes only), an
NVMe SMART log page, /proc/partitions and kernel releases. The captured seeds beside them (mountinfo, route, diskstats, stat,
os-release, loadavg, the Berlin zone file) were copied from a Debian 12 x86_64 machine.

Multi-byte fields are little-endian, as the x86_64 kernel writes them (the targets read
native order; the fuzzer mutates from there anyway).
Run it from anywhere: python3 fuzz/seeds/make-formats-seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


# utmp: 384-byte records; type at 0, user at 44 (32 bytes), tv_sec at 340, tv_usec at 344.
def utmp_record(kind, user, sec, usec):
    r = bytearray(384)
    struct.pack_into("<h", r, 0, kind)
    r[44:44 + len(user)] = user.encode()
    struct.pack_into("<ii", r, 340, sec, usec)
    return bytes(r)


write("utmp", "kinds", utmp_record(2, "reboot", 1700000000, 0)
      + utmp_record(7, "alice", 1700000300, 250000)
      + utmp_record(8, "", 1700000400, 0)
      + utmp_record(7, "b" * 32, 1700000500, 999999)
      + b"\x07\x00torn")

# Key files: qemu-ga.conf and the agent's state file.
write("keyfile", "qemu-ga-conf",
      "# qemu-ga configuration\n[general]\ndaemon=false\nmethod = virtio-serial\r\n"
      "path=/dev/virtio-ports/org.qemu.guest_agent.0\nlogfile=\\s/var/log/qemu ga.log\n"
      "verbose=true\nblock-rpcs=guest-exec;guest-file-open\n[other]\nkey[de]=x\n")
write("keyfile", "state", "[global]\nfd_counter=1000\n")
write("keyfile", "broken", "[general\nx=1\n")

# Netlink: an RTM_NEWLINK message (ifinfomsg, IFLA_IFNAME, IFLA_ADDRESS, IFLA_STATS64),
# then NLMSG_DONE.
def attr(kind, payload):
    a = struct.pack("<HH", 4 + len(payload), kind) + payload
    return a + b"\0" * (-len(a) % 4)


def message(kind, seq, body):
    return struct.pack("<IHHII", 16 + len(body), kind, 2, seq, 0) + body


ifinfo = struct.pack("<BBHiII", 0, 0, 1, 2, 0x1043, 0)
link = (ifinfo + attr(3, b"eth0\0") + attr(1, bytes([0x52, 0x54, 0, 0x12, 0x34, 0x56]))
        + attr(23, struct.pack("<24Q", *range(1, 25))))
write("netlink", "newlink-eth0", message(16, 1, link) + message(3, 1, struct.pack("<i", 0)))
write("netlink", "error", message(2, 1, struct.pack("<i", -95) + b"\0" * 16))

# passwd/shadow: [flags] [user length] [hash length] user hash file. Flags bit 0: a shadow
# file (the day is written), bits 1-7: the day / 1000.
shadow = ("root:$6$fakesalt$notarealhashnotarealhash:19725:0:99999:7:::\n"
          "daemon:*:19725:0:99999:7:::\n# comment\n+nis::::::::\n"
          "bob:$6$fakesalt$fakehash:19726:0:99999:7:::\nbobby:!:19726::::::\nold:hash")
passwd = ("root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000:Bob:/home/bob:/bin/sh\n"
          "bobby:x:1001:1001::/home/bobby:/bin/sh\nbroken:x:1:1:/home/b\n")
new_hash = "$6$newsalt$newfakehash"
write("passwd", "shadow-bob", bytes([1 | 20 << 1, 3, len(new_hash)]) + b"bob"
      + new_hash.encode() + shadow.encode())
write("passwd", "shadow-old-form", bytes([1 | 20 << 1, 3, 3]) + b"oldNEW" + shadow.encode())
write("passwd", "passwd-bobby", bytes([0, 5, 1]) + b"bobbyx" + passwd.encode())

# NVMe SMART log page: warning, 310 K, spare 100 / 10, 3 % used, some counters.
log = bytearray(512)
log[0:6] = bytes([4]) + struct.pack("<H", 310) + bytes([100, 10, 3])
for i in range(10):
    struct.pack_into("<QQ", log, 32 + 16 * i, 1000 * (i + 1), i)
write("nvme_smart", "page", bytes(log))

# /proc/partitions (disks, partitions, a CD drive, device-mapper, NVMe) and kernel
# releases on either side of 5.17, where the kernel began to list every disk with a size.
write("partitions", "proc-partitions",
      "major minor  #blocks  name\n\n 254        0   20971520 vda\n 254        1   20822999 vda1\n"
      "  11        0    1048575 sr0\n 253        0    4194304 dm-0\n"
      " 259        0  104857600 nvme0n1\n 259        1  104856576 nvme0n1p1\n")
write("partitions", "release-6.1", "6.1.0-18-amd64")
write("partitions", "release-4.18", "4.18.0-513.el8.x86_64")
