#!/usr/bin/env python3
"""Host-side checks against an agent in a booted guest (see board/vm-test.sh).

    vm-check.py ARCH VMDIR
    vm-check.py ARCH VMDIR --power MODE          one guest-shutdown mode
    vm-check.py ARCH VMDIR --basic LABEL [CMD..]  sync, ping, info, then CMDs via guest-exec
    vm-check.py ARCH VMDIR --pid1 | --pid1-reboot   (the agent as init: board/pid1-test.sh)

VMDIR/qga.sock is the agent's virtio-serial port (QEMU chardev, server=on), and
VMDIR/console.log the guest console, where /init prints once a second
    AGENTSTAT <utime> <stime> <voluntary_ctxt_switches> <nonvoluntary> pid=<pid> up=<uptime>
for the agent.  Prints one result line per check and `vm-ARCH: N passed, M failed`;
exits 1 if any failed.
"""
import json
import os
import random
import re
import socket
import statistics
import sys
import time

ARCH, VMDIR = sys.argv[1], sys.argv[2]
SOCK = os.path.join(VMDIR, "qga.sock")
CONSOLE = os.path.join(VMDIR, "console.log")
EXPECT_VERSION = os.environ.get("EXPECT_VERSION", "10.0.0")
AWAY_S = float(os.environ.get("AWAY_S", "10"))
FLOOD_AWAY_S = float(os.environ.get("FLOOD_AWAY_S", "5"))
# "~0": at USER_HZ=100, 0.2 ticks/s is 0.2 % of the vCPU; qemu-ga 7.2 measured 0.5-1.1
# ticks/s and ~10 wakeups/s idle-disconnected, and ~83-100 ticks/s with replies pending.
MAX_TICKS_PER_S = float(os.environ.get("MAX_TICKS_PER_S", "0.2"))
MAX_WAKEUPS_PER_S = float(os.environ.get("MAX_WAKEUPS_PER_S", "0.5"))
# vCPUs: board/qemu.sh boots with -smp ${SMP:-2}.
SMP = int(os.environ.get("SMP", "2"))
MiB = 1 << 20
# What board/qemu.sh and board/ARCH/env.sh give each guest besides vCPUs, disk and network,
# as the guest should see it (the hw.* checks):
#   rtc      /dev/rtc0 exists (x86_64 rtc_cmos, aarch64 rtc-pl031, riscv64 rtc-goldfish, all
#            built into the kernel). s390x has no RTC: the machine has none (the TOD clock is
#            the time source) and the kernel has no RTC class.
#   boot     boot memory (-m).
#   hotplug  memory added beyond it, online at boot (memhp_default_state): x86_64 a
#            cold-plugged 128M pc-dimm (slots=2, maxmem=1G); aarch64 virtio-mem-pci with 128M
#            plugged (pc-dimm on virt needs ACPI, i.e. UEFI firmware); none on s390x and
#            riscv64 (QEMU 7.2 has no pc-dimm or virtio-mem for ccw or riscv virt), which have
#            more boot memory instead, its upper half in ZONE_MOVABLE (movablecore=), so that
#            a block of it can go offline (s.memory-block-offline-online).
#   ccw      disks are on channel I/O (s390x): ccw-address with the devno board/s390x/env.sh
#            gives (scratch fe.0.0010, parted fe.0.0011; the guest sees cssid 0), and no PCI.
#            The vd letters are not fixed there: virtio_ccw sets each device online from
#            async_schedule(), so the virtio devices register (and virtio_blk later names
#            them) in whatever order that work finishes; the scratch disk was vdb once in
#            ~25 boots. On s390x the checks take the names from the console's `board-init: disk
#            NAME serial=SERIAL` lines; elsewhere (PCI, virtio-mmio) the order is fixed by
#            board/qemu.sh and the scratch disk must be vda and the partitioned one vdb.
#   pci      the scratch disk is a PCI function (x86_64); elsewhere virtio-mmio or ccw, so
#            pci-controller is all -1.
HW = {
    "x86_64": dict(rtc=True, boot=256 * MiB, hotplug=128 * MiB, how="pc-dimm 128M", pci=True, ccw=False),
    "aarch64": dict(rtc=True, boot=256 * MiB, hotplug=128 * MiB, how="virtio-mem 128M", pci=False, ccw=False),
    "s390x": dict(rtc=False, boot=1024 * MiB, hotplug=0, how="none", pci=False, ccw=True),
    "riscv64": dict(rtc=True, boot=512 * MiB, hotplug=0, how="none", pci=False, ccw=False),
}[ARCH]
CCW_DEVNO = {"qga-scratch": 0x10, "qga-parted": 0x11}

passed = failed = 0
numbers = {}
# Every fresh connection's first sync: was it answered (True) or silently lost (False)?
first_sync = []


def result(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(f"{'PASS' if ok else 'FAIL'} {ARCH} {name}: {detail}", flush=True)


def skipped(name, why):
    """A check this guest cannot run (the machine lacks what it needs): said loudly, and
    counted neither as passed nor as failed."""
    global skipped_count
    skipped_count += 1
    print(f"SKIP {ARCH} {name}: {why}", flush=True)


def attempt(name, fn):
    """Runs one check: `fn` returns (ok, detail); ok None means it cannot run here (SKIP),
    an exception is a failure."""
    try:
        ok, detail = fn()
    except Exception as e:
        ok, detail = False, f"{type(e).__name__}: {e}"
    if ok is None:
        skipped(name, detail)
    else:
        result(name, ok, detail)


def connect(label):
    """A connection whose agent answered a sync, or None after reporting LABEL.connect as
    failed."""
    try:
        c = Conn(timeout=20, label=label)
        _, dt, _, k = c.sync_retry()
        if dt is None:
            raise TimeoutError(f"no sync answer in {k} attempts")
        return c
    except Exception as e:
        result(f"{label}.connect", False, f"{type(e).__name__}: {e}")
        return None


skipped_count = 0


class Conn:
    def __init__(self, timeout=10.0, label="?", path=None):
        self.label = label
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path or SOCK)
        self.buf = b""

    def send(self, obj_or_bytes):
        data = obj_or_bytes if isinstance(obj_or_bytes, bytes) else json.dumps(obj_or_bytes).encode() + b"\n"
        self.s.sendall(data)

    def line(self, deadline):
        """Next reply line as (had_sentinel, parsed_json_or_raw)."""
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply")
            self.s.settimeout(left)
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("agent socket closed")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        sentinel = raw.startswith(b"\xff")
        raw = raw.lstrip(b"\xff")
        try:
            return sentinel, json.loads(raw)
        except ValueError:
            return sentinel, raw

    def sync(self, timeout=10.0):
        """0xFF + guest-sync-delimited; skip everything until our id. Returns
        (ok, seconds, skipped_replies, had_sentinel)."""
        sid = random.randint(1, 2**31)
        t0 = time.monotonic()
        self.send(b"\xff" + json.dumps({"execute": "guest-sync-delimited", "arguments": {"id": sid}}).encode() + b"\n")
        deadline = t0 + timeout
        skipped = 0
        while True:
            sentinel, reply = self.line(deadline)
            if isinstance(reply, dict) and reply.get("return") == sid:
                return True, time.monotonic() - t0, skipped, sentinel
            skipped += 1

    def sync_retry(self, attempts=4, timeout=2.0):
        """Resync on a fresh connection the way a patient client would: retry the sync
        after `timeout`. Returns (first_ok, seconds_to_success, skipped, attempts_used)."""
        t0 = time.monotonic()
        skipped_total = 0
        for k in range(1, attempts + 1):
            try:
                ok, dt, skipped, _ = self.sync(timeout=timeout)
                first_sync.append((self.label, k == 1))
                return k == 1, time.monotonic() - t0, skipped, k
            except TimeoutError:
                continue
        first_sync.append((self.label, False))
        return False, None, skipped_total, attempts

    def call(self, cmd, args=None, timeout=10.0):
        req = {"execute": cmd}
        if args is not None:
            req["arguments"] = args
        self.send(req)
        return self.line(time.monotonic() + timeout)[1]

    def close(self):
        self.s.close()


class Qmp:
    """QEMU's monitor on VMDIR/qmp.sock (board/qemu.sh): one command at a time, events skipped."""
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(os.path.join(VMDIR, "qmp.sock"))
        self.f = self.s.makefile("rwb")
        json.loads(self.f.readline())            # the greeting
        self.cmd("qmp_capabilities")

    def cmd(self, execute, **args):
        self.f.write(json.dumps({"execute": execute, "arguments": args}).encode() + b"\n")
        self.f.flush()
        while True:
            reply = json.loads(self.f.readline())
            if "event" not in reply:
                return reply

    def close(self):
        self.s.close()


def hotplug_port_check():
    """A second agent in the guest waits with --retry-path for the virtserialport
    org.qemu.guest_agent.1 (board/initramfs.sh). Hot-plug it with QMP (a new socket
    chardev, a new port on the existing virtio-serial bus), check that agent answers,
    unplug it, plug it again and check it answers again. On every machine: the port is
    hot-plugged onto the bus, whatever bus that sits on."""
    path = os.path.join(VMDIR, "qga1.sock")

    def answers(label, within=15.0):
        deadline = time.monotonic() + within
        last = None
        while time.monotonic() < deadline:
            try:
                c = Conn(timeout=5, label=label, path=path)
                try:
                    _, dt, _, _ = c.sync_retry(attempts=3, timeout=1.0)
                    info = c.call("guest-info", timeout=5) if dt is not None else None
                    if dt is not None and info.get("return", {}).get("version") == EXPECT_VERSION:
                        return True, "guest-sync-delimited and guest-info answered"
                    last = f"sync={dt}"
                finally:
                    c.close()
            except (OSError, TimeoutError, EOFError) as e:
                last = f"{type(e).__name__}: {e}"
            time.sleep(0.5)
        return False, f"no answer within {within:.0f} s ({last})"

    try:
        q = Qmp()
        r1 = q.cmd("chardev-add", id="qga1", backend={"type": "socket", "data": {
            "addr": {"type": "unix", "data": {"path": path}}, "server": True, "wait": False}})
        t0 = time.monotonic()
        r2 = q.cmd("device_add", driver="virtserialport", bus="vser0.0", chardev="qga1",
                   name="org.qemu.guest_agent.1", id="qgaport1")
        ok, detail = answers("hotplug")
        result("h.hotplugged-port-answers", "error" not in r1 and "error" not in r2 and ok,
               f"{detail} {time.monotonic() - t0:.1f} s after device_add"
               + (f"; chardev-add {r1}, device_add {r2}" if "error" in r1 or "error" in r2 else ""))
        r3 = q.cmd("device_del", id="qgaport1")
        time.sleep(2)
        r4 = q.cmd("device_add", driver="virtserialport", bus="vser0.0", chardev="qga1",
                   name="org.qemu.guest_agent.1", id="qgaport1b")
        t0 = time.monotonic()
        ok, detail = answers("replug")
        result("h.replugged-port-answers", "error" not in r3 and "error" not in r4 and ok,
               f"unplugged and plugged again: {detail} {time.monotonic() - t0:.1f} s after device_add"
               + (f"; device_del {r3}, device_add {r4}" if "error" in r3 or "error" in r4 else ""))
        q.close()
    except Exception as e:
        result("h.hotplugged-port-answers", False, f"{type(e).__name__}: {e}")


def disk_replug_check():
    """A disk unplugged and another plugged in its place under the same name, with another
    serial: guest-get-disks must report the new disk's serial. (tinyqga keeps each disk's
    serial, since reading a virtio-blk serial is a request to the device; it finds what it
    kept by the disk's sysfs directory, and a new disk has a new one.) Hot-plug needs a bus
    that unplugs without the guest's help: channel I/O, so s390x only; both disks get the
    same device number, so the same sysfs path and, the name being the lowest free one,
    the same name."""
    if not HW["ccw"]:
        return
    name = "h.replugged-disk-new-serial"

    def by_serial(c):
        return {str((d.get("address") or {}).get("serial")): d.get("name")
                for d in call_ok(c, "guest-get-disks")}

    def wait_for(c, present, absent, within=30.0):
        deadline = time.monotonic() + within
        while True:
            disks = by_serial(c)
            if (present is None or present in disks) and (absent is None or absent not in disks):
                return disks
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {within:.0f} s for {present or '-'} in, {absent or '-'} "
                                   f"out: {short(disks)}")
            time.sleep(0.5)

    def plug(q, node, serial, dev_id):
        for r in (q.cmd("blockdev-add", driver="null-co", **{"node-name": node}, size=16 * MiB),
                  q.cmd("device_add", driver="virtio-blk-ccw", drive=node, serial=serial,
                        id=dev_id, devno="fe.0.0020")):
            if "error" in r:
                raise RuntimeError(f"plugging {serial}: {short(r)}")

    try:
        q = Qmp()
        c = Conn(timeout=20, label="replug")
        c.sync_retry()
        plug(q, "plug1", "qga-plug-1", "plugdisk1")
        first = wait_for(c, "qga-plug-1", None)["qga-plug-1"]
        r = q.cmd("device_del", id="plugdisk1")
        if "error" in r:
            raise RuntimeError(f"device_del: {short(r)}")
        wait_for(c, None, "qga-plug-1")
        plug(q, "plug2", "qga-plug-2", "plugdisk2")
        second = wait_for(c, "qga-plug-2", "qga-plug-1")["qga-plug-2"]
        q.cmd("device_del", id="plugdisk2")
        wait_for(c, None, "qga-plug-2")
        c.close()
        q.close()
        result(name, first == second,
               f"{first} (serial qga-plug-1) unplugged, {second} (qga-plug-2) plugged in at "
               f"devno fe.0.0020: its serial reported" + ("" if first == second else
                                                           "; but the name differs, so the "
                                                           "same directory was not tested"))
    except Exception as e:
        result(name, False, f"{type(e).__name__}: {e}")


def console_size():
    return os.path.getsize(CONSOLE)


STAT_RE = re.compile(rb"AGENTSTAT (\d+) (\d+) (\d+) (\d+) pid=(\d+) up=([\d.]+)")


def stats_since(offset):
    with open(CONSOLE, "rb") as f:
        f.seek(offset)
        data = f.read()
    out = []
    for m in STAT_RE.finditer(data):
        ut, st, vc, nvc, pid = (int(x) for x in m.groups()[:5])
        out.append(dict(ticks=ut + st, vcsw=vc, nvcsw=nvc, pid=pid, up=float(m.group(6))))
    return out, data


def rates(samples):
    """ticks/s and voluntary switches/s between first and last sample (guest clock)."""
    a, b = samples[0], samples[-1]
    dt = b["up"] - a["up"]
    if dt <= 0:
        return None
    return dict(ticks_s=(b["ticks"] - a["ticks"]) / dt, vcsw_s=(b["vcsw"] - a["vcsw"]) / dt,
                ticks=b["ticks"] - a["ticks"], vcsw=b["vcsw"] - a["vcsw"], secs=dt,
                same_pid=a["pid"] == b["pid"] and all(s["pid"] == a["pid"] for s in samples))


def watch(seconds, skip_first_s=1.0):
    """Sample AGENTSTAT lines printed during the next `seconds`; rates over the window
    after the first `skip_first_s` guest seconds (lets the agent finish reacting)."""
    off = console_size()
    time.sleep(seconds)
    samples, data = stats_since(off)
    if len(samples) < 3:
        return None, None, data
    t0 = samples[0]["up"]
    steady = [s for s in samples if s["up"] >= t0 + skip_first_s] or samples
    return rates(samples), rates(steady), data


def fmt(r):
    return (f"{r['ticks_s']:.2f} ticks/s ({r['ticks']} ticks), {r['vcsw_s']:.2f} wakeups/s "
            f"({r['vcsw']} vcsw) over {r['secs']:.1f} s")


def agent_pid():
    s, _ = stats_since(max(0, console_size() - 4096))
    return s[-1]["pid"] if s else None


def booted_kernel_release():
    """The modules dir name of the kernel vm-test.sh booted (VMDIR is CACHE/ARCH/vm)."""
    if os.environ.get("EXPECT_KERNEL"):
        return os.environ["EXPECT_KERNEL"]
    link = os.path.join(VMDIR, "..", "kernel", "modules-dir")
    return os.path.basename(os.path.realpath(link)) if os.path.exists(link) else None


def short(obj, n=600):
    t = json.dumps(obj, sort_keys=True)
    return t if len(t) <= n else t[:n] + "..."


def disk_names():
    """(scratch, parted) kernel disk names: vda and vdb where board/qemu.sh fixes the order;
    on s390x (ccw) the names /init printed for serials qga-scratch and qga-parted."""
    if not HW["ccw"]:
        return "vda", "vdb"
    with open(CONSOLE, "rb") as f:
        by_serial = {m.group(2).decode(): m.group(1).decode()
                     for m in re.finditer(rb"board-init\[[\d.]+\]: disk (\S+) serial=(\S+)", f.read())}
    return by_serial.get("qga-scratch", "?scratch"), by_serial.get("qga-parted", "?parted")


def call_ok(c, cmd, args=None):
    """The return value of cmd, or RuntimeError with the whole reply."""
    r = c.call(cmd, args, timeout=20)
    if not (isinstance(r, dict) and "return" in r):
        raise RuntimeError(f"{cmd}: {short(r)}")
    return r["return"]


def guest_run(c, path, args, stdin=None):
    """guest-exec with captured output, polled to its end: (exitcode, out, err)."""
    import base64
    a = {"path": path, "arg": args, "capture-output": True}
    if stdin is not None:
        a["input-data"] = base64.b64encode(stdin).decode()
    pid = call_ok(c, "guest-exec", a)["pid"]
    deadline = time.time() + 30
    while time.time() < deadline:
        st = call_ok(c, "guest-exec-status", {"pid": pid})
        if st["exited"]:
            return (st.get("exitcode"), base64.b64decode(st.get("out-data", "")),
                    base64.b64decode(st.get("err-data", "")))
        time.sleep(0.1)
    raise TimeoutError(f"{path} did not end")


def guest_info_checks():
    """One request per command on a fresh connection; each answer is checked against what
    board/qemu.sh attached and board/initramfs.sh put into the image."""
    c = connect("f")
    if c is None:
        return
    is_x86 = ARCH == "x86_64"
    sd, pd = disk_names()   # vda, vdb except on s390x

    def ask(cmd):
        """(return value, None) or (None, the whole reply / exception text)."""
        try:
            r = c.call(cmd, timeout=20)
        except Exception as e:
            return None, f"{type(e).__name__}: {e}"
        if isinstance(r, dict) and "return" in r:
            return r["return"], None
        return None, r

    def check(name, cmd, fn):
        """fn(ret) -> list of problems (empty = pass), detail."""
        ret, err = ask(cmd)
        if err is not None:
            result(name, False, f"{cmd} failed: {short(err)}")
            return None
        try:
            problems, detail = fn(ret)
        except Exception as e:
            problems, detail = [f"{type(e).__name__}: {e}"], ""
        result(name, not problems, ("; ".join(problems) + f" -- reply: {short(ret)}") if problems else detail)
        return ret

    # --- guest-get-fsinfo ---
    def fsinfo(ret):
        p = []
        scratch = [f for f in ret if f.get("mountpoint") == "/mnt/scratch"]
        roots = [f for f in ret if f.get("mountpoint") == "/"]
        if roots:
            p.append(f"the root is listed: {short(roots)}")
        if len(scratch) != 1:
            p.append(f"{len(scratch)} entries for /mnt/scratch")
            return p, ""
        f = scratch[0]
        if f.get("type") != "ext4":
            p.append(f"type={f.get('type')!r}")
        if f.get("name") != sd:
            p.append(f"name={f.get('name')!r}, want {sd!r}")
        used, total = f.get("used-bytes"), f.get("total-bytes")
        if not (isinstance(used, int) and isinstance(total, int) and 0 <= used <= total and total > 50_000_000):
            p.append(f"used-bytes={used!r} total-bytes={total!r}")
        disks = f.get("disk", [])
        if len(disks) != 1:
            p.append(f"{len(disks)} disks")
        else:
            d = disks[0]
            for k, v in (("bus-type", "virtio"), ("serial", "qga-scratch"), ("dev", f"/dev/{sd}")):
                if d.get(k) != v:
                    p.append(f"disk {k}={d.get(k)!r}, want {v!r}")
            pc = d.get("pci-controller", {})
            if HW["pci"]:
                if pc.get("domain") != 0 or not isinstance(pc.get("slot"), int) or pc["slot"] < 0:
                    p.append(f"pci-controller={pc} (want domain 0, slot >= 0)")
            elif pc != {"domain": -1, "bus": -1, "slot": -1, "function": -1}:
                p.append(f"pci-controller={pc} (virtio-mmio or ccw: want all -1)")
            p += ccw_problems("scratch disk", d, "qga-scratch")
        return p, (f"{len(ret)} filesystems ({', '.join(x.get('mountpoint', '?') for x in ret)}); "
                   f"/mnt/scratch ext4 on {sd}, {used}/{total} bytes, disk {short(disks)}")

    def ccw_problems(what, addr, serial):
        """s390x: a ccw-address with cssid 0, ssid 0, a subchannel number and the devno
        board/s390x/env.sh gives; elsewhere no ccw-address at all."""
        ccw = addr.get("ccw-address")
        if not HW["ccw"]:
            return [f"{what} has a ccw-address {ccw}"] if ccw is not None else []
        if not isinstance(ccw, dict):
            return [f"{what} has no ccw-address"]
        want = {"cssid": 0, "ssid": 0, "devno": CCW_DEVNO[serial]}
        p = [f"{what} ccw-address {k}={ccw.get(k)!r}, want {v}" for k, v in want.items() if ccw.get(k) != v]
        if not isinstance(ccw.get("subchno"), int) or ccw["subchno"] < 0:
            p.append(f"{what} ccw-address subchno={ccw.get('subchno')!r}")
        return p
    check("f.fsinfo", "guest-get-fsinfo", fsinfo)

    # --- guest-get-disks ---
    def disks(ret):
        p = []
        by = {d.get("name"): d for d in ret}
        vda, vdb, vdb1 = by.get(f"/dev/{sd}"), by.get(f"/dev/{pd}"), by.get(f"/dev/{pd}1")
        if not vda:
            p.append(f"no /dev/{sd}")
        else:
            if vda.get("partition") is not False:
                p.append(f"/dev/{sd} partition={vda.get('partition')!r}")
            if (vda.get("address") or {}).get("serial") != "qga-scratch":
                p.append(f"/dev/{sd} address={short(vda.get('address'))}")
            p += ccw_problems(f"/dev/{sd}", vda.get("address") or {}, "qga-scratch")
        if not vdb:
            p.append(f"no /dev/{pd}")
        else:
            if vdb.get("partition") is not False:
                p.append(f"/dev/{pd} partition={vdb.get('partition')!r}")
            if (vdb.get("address") or {}).get("serial") != "qga-parted":
                p.append(f"/dev/{pd} address={short(vdb.get('address'))}")
            p += ccw_problems(f"/dev/{pd}", vdb.get("address") or {}, "qga-parted")
        if not vdb1:
            p.append(f"no /dev/{pd}1")
        else:
            if vdb1.get("partition") is not True:
                p.append(f"/dev/{pd}1 partition={vdb1.get('partition')!r}")
            if vdb1.get("dependencies") != [f"/dev/{pd}"]:
                p.append(f"/dev/{pd}1 dependencies={vdb1.get('dependencies')!r}")
        if is_x86:   # WITH_NVME=1 only on x86_64; the aarch64, s390x and riscv64 guests have no NVMe
            nv = by.get("/dev/nvme0n1")
            if not nv:
                p.append("no /dev/nvme0n1")
            else:
                if (nv.get("address") or {}).get("bus-type") != "nvme":
                    p.append(f"/dev/nvme0n1 address={short(nv.get('address'))}")
                if "smart" in nv:
                    sm = nv["smart"]
                    print(f"INFO {ARCH} nvme0n1 smart: {short(sm, 1000)}", flush=True)
                    if sm.get("type") != "nvme":
                        p.append(f"smart.type={sm.get('type')!r}")
                    if not isinstance(sm.get("temperature"), int) or isinstance(sm.get("temperature"), bool):
                        p.append(f"smart.temperature={sm.get('temperature')!r}")
                else:
                    print(f"INFO {ARCH} nvme0n1 has no smart member: {short(nv)}", flush=True)
        return p, f"{len(ret)} entries: {', '.join(str(d.get('name')) for d in ret)}"
    check("f.disks", "guest-get-disks", disks)

    # --- guest-get-osinfo ---
    krel = booted_kernel_release()
    want = {"id": "qgavm", "pretty-name": "QGA test VM (initramfs)", "version-id": "1",
            "variant-id": "initramfs", "kernel-release": krel, "machine": ARCH}
    def osinfo(ret):
        p = [f"{k}={ret.get(k)!r}, want {v!r}" for k, v in want.items() if ret.get(k) != v]
        return p, short(ret)
    check("f.osinfo", "guest-get-osinfo", osinfo)

    check("f.host-name", "guest-get-host-name",
          lambda r: ([] if r == {"host-name": "qga-vm"} else ["want {'host-name': 'qga-vm'}"], short(r)))
    check("f.timezone", "guest-get-timezone",
          lambda r: ([] if r == {"zone": "UTC", "offset": 0} else ["want {'zone': 'UTC', 'offset': 0}"], short(r)))
    check("f.users", "guest-get-users", lambda r: ([] if r == [] else ["want []"], short(r)))

    def vcpus(r):
        # -smp SMP: logical ids 0..SMP-1, all online; in sysfs directory order, as qemu-ga lists them
        ids = sorted(v.get("logical-id") for v in r)
        ok = ids == list(range(SMP)) and all(v.get("online") is True for v in r)
        return ([] if ok else [f"want {SMP} vcpus, logical-ids 0..{SMP - 1}, all online"]), short(r)
    check("f.vcpus", "guest-get-vcpus", vcpus)

    def load(r):
        vals = [r.get(k) for k in ("load1m", "load5m", "load15m")]   # QAPI GuestLoadAverage
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in vals)
        return ([] if ok else ["want load1m/load5m/load15m numbers >= 0"]), short(r)
    check("f.load", "guest-get-load", load)

    # memory-block-info: an error is acceptable when the kernel has no memory hotplug
    ret, err = ask("guest-get-memory-block-info")
    if err is not None:
        print(f"INFO {ARCH} guest-get-memory-block-info: error (accepted): {short(err)}", flush=True)
        result("f.memory-block-info", isinstance(err, dict) and "error" in err, f"error reply: {short(err)}")
    else:
        sz = ret.get("size") if isinstance(ret, dict) else None
        print(f"INFO {ARCH} guest-get-memory-block-info: {short(ret)}", flush=True)
        result("f.memory-block-info", isinstance(sz, int) and sz > 0, f"{short(ret)}")

    def cpustats(r):
        ok = sorted(x.get("cpu") for x in r) == list(range(SMP)) and all(x.get("type") == "linux" for x in r)
        # s390x under TCG: the second CPU's /proc/stat line carries absurd system and steal
        # times (10^12 ticks; the guest kernel's CPU-timer accounting, not the agent), so the
        # values themselves are only reported.
        up = max((sum(v for k, v in x.items() if isinstance(v, int) and k != "cpu") for x in r), default=0)
        if up > 10**9:
            print(f"INFO {ARCH} cpustats: implausible counters from the guest's /proc/stat: {short(r, 400)}", flush=True)
        return ([] if ok else [f"want {SMP} entries, type linux, cpu 0..{SMP - 1}"]), short(r, 300)
    check("f.cpustats", "guest-get-cpustats", cpustats)

    def diskstats(r):
        names = [d.get("name") for d in r]
        miss = [n for n in (sd, pd) if n not in names]
        return ([f"missing {miss}"] if miss else []), f"names: {', '.join(map(str, names))}"
    check("f.diskstats", "guest-get-diskstats", diskstats)

    # --- network (board/qemu.sh: user net, eth0 52:54:00:12:34:56; /init: 10.0.2.15/24) ---
    def ifaces(r):
        p = []
        by = {i.get("name"): i for i in r}
        def has_ip(i, ip, prefix):
            return any(a.get("ip-address") == ip and a.get("prefix") == prefix and a.get("ip-address-type") == "ipv4"
                       for a in i.get("ip-addresses", []))
        eth, lo = by.get("eth0"), by.get("lo")
        if not eth:
            p.append("no eth0")
        else:
            if eth.get("hardware-address") != "52:54:00:12:34:56":
                p.append(f"eth0 hardware-address={eth.get('hardware-address')!r}")
            if not has_ip(eth, "10.0.2.15", 24):
                p.append("eth0 has no ipv4 10.0.2.15/24")
        if not lo:
            p.append("no lo")
        elif not any(a.get("ip-address") == "127.0.0.1" for a in lo.get("ip-addresses", [])):
            p.append("lo has no 127.0.0.1")
        return p, f"{', '.join(map(str, by))}; eth0 {short(eth, 400)}"
    check("f.network-interfaces", "guest-network-get-interfaces", ifaces)

    def route(r):
        ok = any(x.get("iface") == "eth0" and x.get("destination") == "10.0.2.0" and x.get("mask") == "255.255.255.0"
                 for x in r)
        return ([] if ok else ["no eth0 route 10.0.2.0/255.255.255.0"]), short(r, 400)
    check("f.network-route", "guest-network-get-route", route)
    c.close()


# Run in the guest by hardware_checks(); one `key=value` line per fact.
HW_SCRIPT = r"""
echo "cpus-online=$(cat /sys/devices/system/cpu/online)"
if [ -c /dev/rtc0 ]; then echo "rtc0=$(cat /sys/class/rtc/rtc0/name 2>/dev/null)"; else echo "rtc0="; fi
[ -c /dev/rtc0 ] && echo "rtc0-time=$(hwclock -r -u -f /dev/rtc0 2>&1)"
for b in /sys/block/*; do
    [ "$(cat $b/serial 2>/dev/null)" = qga-scratch ] || continue
    echo "scratch=${b##*/}"
    echo "discard-max-bytes=$(cat $b/queue/discard_max_bytes)"
done
echo "block-size=$(cat /sys/devices/system/memory/block_size_bytes 2>/dev/null)"
for m in /sys/devices/system/memory/memory*; do
    [ -e "$m/state" ] && echo "block=${m##*/memory} $(cat $m/state)"
done
echo "memtotal-kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
"""


def cpu_list_count(text):
    """Number of CPUs in a sysfs cpu list such as `0-1,4`."""
    n = 0
    for part in filter(None, text.strip().split(",")):
        a, _, b = part.partition("-")
        n += int(b or a) - int(a) + 1
    return n


def hardware_checks():
    """What the guest has (board/qemu.sh: -smp, the RTC, discard on the scratch disk, memory
    hotplug), read inside the guest with one guest-exec, against HW's expectation for ARCH."""
    try:
        c = Conn(timeout=20, label="hw")
        _, dt, _, k = c.sync_retry()
        if dt is None:
            raise TimeoutError(f"no sync answer in {k} attempts")
        code, out, err = guest_run(c, "sh", ["-c", HW_SCRIPT])
        facts, blocks = {}, []
        for line in out.decode(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key == "block":
                blocks.append(value.split())
            else:
                facts[key] = value
        agent_blocks = call_ok(c, "guest-get-memory-blocks")
        c.close()
    except Exception as e:
        result("hw.exec", False, f"{type(e).__name__}: {e}")
        return

    cpus = cpu_list_count(facts.get("cpus-online", ""))
    result("hw.cpus", cpus == SMP, f"{cpus} online ({facts.get('cpus-online')!r}), want {SMP} (-smp {SMP})")

    rtc = facts.get("rtc0", "")
    if HW["rtc"]:
        result("hw.rtc", bool(rtc), f"/dev/rtc0: {rtc or 'MISSING'}, reads {facts.get('rtc0-time', '-')!r}")
    else:
        result("hw.rtc", not rtc, f"/dev/rtc0: {rtc or 'absent'}, as expected on {ARCH} (no RTC device, "
               "no RTC class in the kernel; the TOD clock is the time source)")

    dmax = facts.get("discard-max-bytes", "")
    result("hw.discard", facts.get("scratch") == disk_names()[0] and dmax.isdigit() and int(dmax) > 0,
           f"scratch disk {facts.get('scratch')}: queue/discard_max_bytes={dmax} (discard=unmap, want > 0)")

    try:
        bsize = int(facts.get("block-size") or "0", 16)
    except ValueError:
        bsize = 0
    online = [b for b in blocks if len(b) == 2 and b[1] == "online"]
    want_bytes = HW["boot"] + HW["hotplug"]
    want = want_bytes // bsize if bsize else None
    detail = (f"{len(online)} of {len(blocks)} memory blocks online, block size {bsize // MiB if bsize else '?'}M, "
              f"want {want} ({want_bytes // MiB}M: {HW['boot'] // MiB}M boot + hotplug {HW['how']}); "
              f"blocks {' '.join(b[0] for b in online)}; MemTotal {facts.get('memtotal-kb')} kB; "
              f"guest-get-memory-blocks lists {len(agent_blocks)}")
    result("hw.memory-blocks", bool(bsize) and len(online) == len(blocks) == want == len(agent_blocks), detail)


def guest_write_checks():
    """The write side in a busybox guest: files, exec, SSH keys, and a password set
    without chpasswd (which this guest does not have; qemu-ga fails here)."""
    import base64
    c = connect("w")
    if c is None:
        return

    def ret(cmd, args=None):
        return call_ok(c, cmd, args)

    def run(path, args, stdin=None):
        return guest_run(c, path, args, stdin)

    def file_round_trip():
        data = bytes(range(256)) * 1024
        h = ret("guest-file-open", {"path": "/tmp/w-file", "mode": "w+"})
        ret("guest-file-write", {"handle": h, "buf-b64": base64.b64encode(data).decode()})
        ret("guest-file-seek", {"handle": h, "offset": 0, "whence": "set"})
        r = ret("guest-file-read", {"handle": h, "count": len(data) + 1})
        ret("guest-file-close", {"handle": h})
        back = base64.b64decode(r["buf-b64"])
        return back == data and r["eof"], f"{r['count']} bytes back, eof={r['eof']}"
    attempt("w.file-round-trip", file_round_trip)

    def exec_shell():
        got = run("sh", ["-c", "cat; echo err >&2; exit 7"], b"from the host\n")
        return got == (7, b"from the host\n", b"err\n"), repr(got)
    attempt("w.exec", exec_shell)

    def ssh_keys():
        key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIvmcheck vm-check"
        ret("guest-ssh-add-authorized-keys", {"username": "root", "keys": [key]})
        keys = ret("guest-ssh-get-authorized-keys", {"username": "root"})["keys"]
        code, out, _ = run("sh", ["-c", "stat -c '%a %u' /root/.ssh /root/.ssh/authorized_keys"])
        ok = keys == [key] and out.split() == [b"700", b"0", b"600", b"0"]
        return ok, f"keys={keys}, modes={out!r}"
    attempt("w.ssh-keys", ssh_keys)

    def password():
        ret("guest-set-user-password", {"username": "root", "crypted": False,
                                         "password": base64.b64encode(b"vm-check pw").decode()})
        code, out, _ = run("cat", ["/etc/shadow"])
        line = [l for l in out.split(b"\n") if l.startswith(b"root:")]
        ok = code == 0 and line and line[0].split(b":")[1].startswith(b"$6$")
        return bool(ok), f"shadow: {line[0][:40] if line else out[:80]!r}..."
    attempt("w.password-without-chpasswd", password)
    c.close()


def system_checks():
    """Commands that change the guest: time and RTC, vCPUs, memory blocks, fstrim, and a
    suspend this guest cannot do. Each check says what the guest offers when it cannot
    run (one vCPU, no RTC, no hotplug), instead of failing silently."""
    import base64
    c = connect("s")
    if c is None:
        return

    def ask(cmd, args=None):
        return c.call(cmd, args, timeout=30)

    def ret(cmd, args=None):
        r = ask(cmd, args)
        if not (isinstance(r, dict) and "return" in r):
            raise RuntimeError(f"{cmd}: {short(r)}")
        return r["return"]

    def sh(script):
        pid = ret("guest-exec", {"path": "sh", "arg": ["-c", script], "capture-output": True})["pid"]
        deadline = time.time() + 30
        while time.time() < deadline:
            st = ret("guest-exec-status", {"pid": pid})
            if st["exited"]:
                return base64.b64decode(st.get("out-data", "")).decode(errors="replace")
            time.sleep(0.1)
        raise TimeoutError(script)

    def set_time_without_rtc():
        # s390x has no RTC (HW above): the system clock is still set, and the RTC part fails
        # as qemu-ga's hwclock does there, with and without a time.
        target = int(time.time()) + 86_400 * 3 + 1234          # three days ahead
        with_time = ask("guest-set-time", {"time": target * 1_000_000_000})
        now = ret("guest-get-time") // 1_000_000_000
        without = ask("guest-set-time")
        still = ret("guest-get-time") // 1_000_000_000
        ask("guest-set-time", {"time": time.time_ns()})          # back to the host's time
        want = "child process has failed to set hardware clock to system time: /dev/rtc0: "

        def failed(r):
            e = r.get("error", {}) if isinstance(r, dict) else {}
            return e.get("class") == "GenericError" and e.get("desc", "").startswith(want)
        ok = failed(with_time) and failed(without) and abs(now - target) <= 5 and abs(still - target) <= 10
        return ok, f"set {target}: clock={now}, {short(with_time)}; without a time: clock={still}, {short(without)}"

    def set_time():
        if not HW["rtc"]:
            return set_time_without_rtc()
        target = int(time.time()) + 86_400 * 3 + 1234          # three days ahead
        ret("guest-set-time", {"time": target * 1_000_000_000})
        rtc = int(sh("cat /sys/class/rtc/rtc0/since_epoch"))
        now = ret("guest-get-time") // 1_000_000_000
        with_arg = abs(rtc - target) <= 5 and abs(now - target) <= 5
        # Without an argument: the system clock from the RTC. Move the clock away first.
        sh("date -u -s '2001-09-09 01:46:40' >/dev/null")
        ret("guest-set-time")
        back = ret("guest-get-time") // 1_000_000_000
        rtc2 = int(sh("cat /sys/class/rtc/rtc0/since_epoch"))
        from_rtc = abs(back - rtc2) <= 5
        # Leave the guest at the host's time.
        ret("guest-set-time", {"time": time.time_ns()})
        return with_arg and from_rtc, f"set {target}: rtc={rtc} clock={now}; from rtc: clock={back} rtc={rtc2}"
    attempt("s.set-time-and-rtc", set_time)

    def vcpus():
        cpus = ret("guest-get-vcpus")
        movable = [v for v in cpus if v["can-offline"]]
        if not movable:
            return None, f"no vCPU can go offline on this machine: {cpus}"
        cpu = movable[-1]["logical-id"]
        n = ret("guest-set-vcpus", {"vcpus": [{"logical-id": cpu, "online": False}]})
        off = [v for v in ret("guest-get-vcpus") if v["logical-id"] == cpu][0]["online"]
        m = ret("guest-set-vcpus", {"vcpus": [{"logical-id": cpu, "online": True}]})
        on = [v for v in ret("guest-get-vcpus") if v["logical-id"] == cpu][0]["online"]
        return (n, off, m, on) == (1, False, 1, True), f"cpu{cpu}: set={n} online={off}, set={m} online={on}"
    attempt("s.vcpu-offline-online", vcpus)

    def memory():
        blocks = ret("guest-get-memory-blocks")
        # Boot memory in ZONE_NORMAL refuses to go offline even when "removable", and so does
        # a movable block holding something reserved (riscv64's device tree): the highest
        # block that goes offline is used, the hotplugged one (pc-dimm, virtio-mem) or one of
        # movablecore='s (HW above). The ones that refused must say so (EBUSY).
        movable = sorted((b["phys-index"] for b in blocks if b["can-offline"] and b["online"]),
                         reverse=True)
        refused = []
        for idx in movable:
            r1 = ret("guest-set-memory-blocks", {"mem-blks": [{"phys-index": idx, "online": False}]})
            if r1[0]["response"] == "success":
                break
            refused.append(r1[0])
        else:
            return False, f"no block went offline: {refused}; blocks {blocks}"
        r2 = ret("guest-set-memory-blocks", {"mem-blks": [{"phys-index": idx, "online": True}]})
        nf = ret("guest-set-memory-blocks", {"mem-blks": [{"phys-index": 1 << 40, "online": True}]})
        busy = {"response": "operation-failed", "error-code": 16}
        ok = (r2[0]["response"] == "success" and all(r | busy == r for r in refused)
              and nf == [{"phys-index": 1 << 40, "response": "not-found", "error-code": 2}])
        return ok, f"block {idx}: {r1} then {r2}; busy first: {refused}; missing: {nf}"
    attempt("s.memory-block-offline-online", memory)

    def fstrim():
        paths = ret("guest-fstrim")["paths"]
        scratch = [p for p in paths if p["path"] == "/mnt/scratch"]
        ok = bool(scratch) and "trimmed" in scratch[0] and "minimum" in scratch[0]
        return ok, f"{paths}"
    attempt("s.fstrim", fstrim)

    def suspend():
        r = ask("guest-suspend-hybrid")
        want = {"error": {"class": "GenericError",
                          "desc": "the requested suspend mode is not supported by the guest"}}
        return r == want, short(r)
    attempt("s.suspend-hybrid-unsupported", suspend)
    c.close()


def freeze_checks():
    """fsfreeze on the scratch disk, which also holds the agent's log (-l, see
    board/initramfs.sh): a write waits for the thaw, the agent answers while frozen, and
    SIGTERM while frozen leaves the file systems thawed. Runs after agent-not-restarted:
    the SIGTERM check restarts the agent."""
    import base64
    try:
        c = Conn(timeout=30, label="g")
        c.sync_retry()
    except Exception as e:
        result("g.connect", False, f"{type(e).__name__}: {e}")
        return

    def ret(cmd, args=None):
        r = c.call(cmd, args, timeout=30)
        if not (isinstance(r, dict) and "return" in r):
            raise RuntimeError(f"{cmd}: {short(r)}")
        return r["return"]

    def start(script):
        return ret("guest-exec", {"path": "sh", "arg": ["-c", script], "capture-output": True})["pid"]

    def finish(pid):
        deadline = time.time() + 30
        while time.time() < deadline:
            st = ret("guest-exec-status", {"pid": pid})
            if st["exited"]:
                return st.get("exitcode"), base64.b64decode(st.get("out-data", "")).decode()
            time.sleep(0.1)
        raise TimeoutError("exec did not end")

    def write_waits_for_thaw():
        # The writer sleeps past the freeze, then writes; it prints the guest's uptime around
        # the write. Its duration is measured on the guest's own clock: a TCG guest's wall
        # clock can be seconds off the host's.
        writer = start("sleep 3; read a _ </proc/uptime; echo x > /mnt/scratch/frozen-write && sync; "
                       "read b _ </proc/uptime; echo $a $b")
        began = time.monotonic()
        frozen = ret("guest-fsfreeze-freeze")
        froze_in = time.monotonic() - began
        try:
            status = ret("guest-fsfreeze-status")
            time.sleep(max(0.0, 6.0 - froze_in))
            refused = c.call("guest-get-time", timeout=30)
            still = ret("guest-fsfreeze-status")      # answered although the log is frozen
        finally:
            thawed = ret("guest-fsfreeze-thaw")
        code, out = finish(writer)
        a, b = (list(map(float, out.split())) + [0.0, 0.0])[:2]
        ok = (froze_in < 3.0 and frozen >= 1 and status == still == "frozen" and thawed >= 1
              and code == 0 and b - a >= 1.0
              and "the agent is in frozen state" in json.dumps(refused))
        return ok, (f"froze {frozen} in {froze_in:.1f} s (want < 3), thawed {thawed}; "
                    f"the write took {b - a:.1f} s (want >= 1); while frozen: {short(refused)}")

    def sigterm_thaws():
        # A helper sends SIGTERM to the agent while it holds the file systems frozen.
        start("sleep 3; kill -TERM $(cat /run/agent.pid)")
        ret("guest-fsfreeze-freeze")
        c.close()
        time.sleep(8)                                 # the agent thaws, exits, /init restarts it
        c2 = Conn(timeout=30, label="g2")
        c2.sync_retry(attempts=8)
        st = c2.call("guest-fsfreeze-status", timeout=30)
        pid = c2.call("guest-exec", {"path": "sh", "arg": ["-c", "echo y > /mnt/scratch/after-term && echo ok"],
                                     "capture-output": True}, timeout=30)["return"]["pid"]
        deadline = time.time() + 15
        out = b""
        while time.time() < deadline:
            s = c2.call("guest-exec-status", {"pid": pid}, timeout=30)["return"]
            if s["exited"]:
                out = base64.b64decode(s.get("out-data", ""))
                break
            time.sleep(0.2)
        c2.close()
        return st == {"return": "thawed"} and out == b"ok\n", f"status after restart {st}, write: {out!r}"

    def hung_hook():
        # The rig's hook (board/initramfs.sh) hangs while /tmp/hang-hook exists.
        code, _ = finish(start("touch /tmp/hang-hook"))
        began = time.time()
        r = c.call("guest-fsfreeze-freeze", timeout=90)
        took = time.time() - began
        ping = c.call("guest-ping", timeout=10)
        status = ret("guest-fsfreeze-status")
        finish(start("rm -f /tmp/hang-hook"))
        desc = json.dumps(r)
        ok = ("fsfreeze hook" in desc and "timed out" in desc and took < 60
              and ping == {"return": {}} and status == "thawed")
        return ok, f"after {took:.0f} s: {short(r)}; then ping={ping}, status={status}"

    checks = [("g.freeze-write-waits-for-thaw", write_waits_for_thaw)]
    if ARCH == "x86_64":                      # 30 s of waiting: one architecture shows it
        checks.append(("g.hung-hook-is-killed", hung_hook))
    checks.append(("g.sigterm-while-frozen-thaws", sigterm_thaws))
    for name, fn in checks:
        try:
            ok, detail = fn()
        except Exception as e:
            ok, detail = False, f"{type(e).__name__}: {e}"
        result(name, ok, detail)


def shutdown_check():
    """Last: guest-shutdown (powerdown) must end QEMU, without a reply."""
    try:
        pid = int(open(os.path.join(VMDIR, "qemu.pid")).read())
        c = Conn(timeout=20, label="z")
        c.sync_retry()
        c.send({"execute": "guest-shutdown"})
        deadline = time.time() + 60
        while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.2)
        gone = not os.path.exists(f"/proc/{pid}")
        result("z.shutdown-ends-qemu", gone, f"QEMU pid {pid} {'exited' if gone else 'still running after 60 s'}")
    except Exception as e:
        result("z.shutdown-ends-qemu", False, f"{type(e).__name__}: {e}")


def main():
    first_pid = None
    for _ in range(50):   # the first AGENTSTAT line follows READY by up to a second
        first_pid = agent_pid()
        if first_pid is not None:
            break
        time.sleep(0.1)

    # (a) flush + sync-delimited, guest-info, guest-ping
    c = Conn(label="a")
    first_ok, _, _, k = c.sync_retry(attempts=5)
    ok, dt, skipped, sentinel = c.sync()   # the checked one, on a live session
    result("a.sync-delimited", ok and sentinel,
           f"id echoed, sentinel={sentinel}, {skipped} stray replies before it, {dt*1000:.0f} ms"
           f" (first sync on this connection {'answered' if first_ok else f'LOST, answered on attempt {k}'})")
    info = c.call("guest-info")
    ver = info.get("return", {}).get("version") if isinstance(info, dict) else None
    ncmd = len(info.get("return", {}).get("supported_commands", [])) if isinstance(info, dict) else 0
    result("a.guest-info", ver == EXPECT_VERSION, f"version={ver!r}, {ncmd} commands")
    ping = c.call("guest-ping")
    result("a.guest-ping", ping == {"return": {}}, f"{ping}")
    # connected and idle, for comparison (info only)
    whole, steady, _ = watch(3, skip_first_s=0)
    if whole:
        numbers["connected_idle"] = fmt(whole)
        print(f"INFO {ARCH} connected idle: {fmt(whole)}", flush=True)

    # (b) host away with nothing pending
    c.close()
    whole, steady, data = watch(AWAY_S)
    if whole is None:
        result("b.away-idle", False, "no AGENTSTAT lines on the console")
    else:
        numbers["away_idle"] = fmt(steady)
        ok = (steady["ticks_s"] <= MAX_TICKS_PER_S and steady["vcsw_s"] <= MAX_WAKEUPS_PER_S
              and whole["same_pid"] and b"AGENT-EXITED" not in data)
        result("b.away-idle", ok, f"{fmt(steady)} (whole window incl. the HUP: {fmt(whole)}), "
               f"agent pid unchanged={whole['same_pid']}")

    # (c) reconnect + resync
    t0 = time.monotonic()
    try:
        c = Conn(label="c")
        first_ok, dt, skipped, k = c.sync_retry()
        ping = c.call("guest-ping") if dt is not None else None
        numbers["resync_after_away"] = f"{dt*1000:.0f} ms, attempt {k}" if dt is not None else "never"
        result("c.resync", dt is not None and ping == {"return": {}},
               (f"resync {dt*1000:.0f} ms, {skipped} stale replies skipped, ping={ping}" if first_ok else
                f"FIRST SYNC AFTER RECONNECT GOT NO REPLY within 2 s; " +
                (f"answered on attempt {k} after {dt*1000:.0f} ms" if dt is not None else f"no answer in {k} attempts")))
    except Exception as e:
        result("c.resync", False, f"{type(e).__name__}: {e}")
        c = None

    # (d) 200 guest-info requests, close without reading
    try:
        if c is None:
            c = Conn(label="d-pre")
            c.sync_retry()
        before = stats_since(max(0, console_size() - 4096))[0][-1]
        c.send(b"".join(json.dumps({"execute": "guest-info"}).encode() + b"\n" for _ in range(200)))
        c.close()
        whole, steady, data = watch(FLOOD_AWAY_S)
        after = stats_since(max(0, console_size() - 4096))[0][-1]
        print(f"INFO {ARCH} flood: from the last sample before sending to the end of the window the agent "
              f"used {after['ticks'] - before['ticks']} ticks and {after['vcsw'] - before['vcsw']} voluntary switches", flush=True)
        if whole is None:
            result("d.flood-away", False, "no AGENTSTAT lines on the console")
        else:
            numbers["flood_away_first_s_incl"] = fmt(whole)
            numbers["flood_away_steady"] = fmt(steady)
            ok = (steady["ticks_s"] <= MAX_TICKS_PER_S and steady["vcsw_s"] <= MAX_WAKEUPS_PER_S
                  and whole["same_pid"] and b"AGENT-EXITED" not in data)
            result("d.flood-away", ok, f"after the 1st second: {fmt(steady)}; whole window: {fmt(whole)}; "
                   f"agent pid unchanged={whole['same_pid']}")
        t0 = time.monotonic()
        c = Conn(label="d")
        first_ok, dt, skipped, k = c.sync_retry()
        ping = c.call("guest-ping") if dt is not None else None
        numbers["resync_after_flood"] = f"{dt*1000:.0f} ms, attempt {k}" if dt is not None else "never"
        numbers["stale_after_flood"] = skipped
        result("d.resync", dt is not None and ping == {"return": {}},
               (f"resync {dt*1000:.0f} ms, {skipped} stale replies (of 200) skipped before own id, ping={ping}" if first_ok else
                f"FIRST SYNC AFTER RECONNECT GOT NO REPLY within 2 s; " +
                (f"answered on attempt {k} after {dt*1000:.0f} ms, {skipped} stale replies, ping={ping}" if dt is not None else f"no answer in {k} attempts")))
        c.close()
    except Exception as e:
        result("d.resync", False, f"{type(e).__name__}: {e}")

    # (e) 20 connect/sync/close cycles
    times, errors = [], []
    for i in range(20):
        try:
            c = Conn(timeout=5, label=f"e{i}")
            first_ok, dt, skipped, k = c.sync_retry(attempts=3, timeout=1.0)
            c.close()
            if dt is not None:
                times.append(dt)
            else:
                errors.append(f"cycle {i}: never answered")
        except Exception as e:
            errors.append(f"cycle {i}: {type(e).__name__}: {e}")
    if times:
        numbers["cycle_sync_ms"] = f"median {statistics.median(times)*1000:.0f}, max {max(times)*1000:.0f}"
    result("e.20-cycles", not errors and len(times) == 20,
           f"{len(times)}/20 ok, sync median {statistics.median(times)*1000:.0f} ms max {max(times)*1000:.0f} ms"
           + ("; " + "; ".join(errors[:5]) if errors else "") if times else "; ".join(errors[:5]))

    # (e2) 100 disconnects and reconnects, requests left in flight at every 4th; then the
    # agent's CPU time while the host stays away, read from /proc through guest-exec.
    errors = []
    for i in range(100):
        try:
            c = Conn(timeout=5, label=f"r{i}")
            if i % 4 == 3:
                for j in range(3):
                    c.send({"execute": "guest-sync", "arguments": {"id": 9_000_000 + i * 10 + j}})
                c.close()                       # gone before reading the replies
                continue
            _, dt, _, _ = c.sync_retry(attempts=3, timeout=1.0)
            ping = c.call("guest-ping", timeout=5)
            c.close()
            if dt is None or ping != {"return": {}}:
                errors.append(f"cycle {i}: sync={dt} ping={ping}")
        except Exception as e:
            errors.append(f"cycle {i}: {type(e).__name__}: {e}")
    result("e.100-reconnects-in-flight", not errors,
           f"{100 - len(errors)}/100 cycles fine (25 left 3 requests unread)"
           + ("; " + "; ".join(errors[:3]) if errors else ""))

    def agent_ticks():
        import base64
        c = Conn(timeout=10, label="cpu")
        c.sync_retry()
        script = "set -- $(cat /proc/$(cat /run/agent.pid)/stat); echo $(( ${14} + ${15} ))"
        pid = c.call("guest-exec", {"path": "sh", "arg": ["-c", script], "capture-output": True})["return"]["pid"]
        for _ in range(100):
            st = c.call("guest-exec-status", {"pid": pid})["return"]
            if st["exited"]:
                c.close()
                return int(base64.b64decode(st["out-data"]))
            time.sleep(0.1)
        raise TimeoutError("no answer from the ticks script")
    try:
        before = agent_ticks()
        away_from = time.time()
        time.sleep(AWAY_S)
        away = time.time() - away_from
        after = agent_ticks()
        pct = (after - before) / 100 / away * 100      # USER_HZ 100
        result("e.away-cpu-through-exec", pct < 1.0,
               f"{after - before} ticks in {away:.1f} s away (and two guest-exec reads): {pct:.2f} % CPU")
    except Exception as e:
        result("e.away-cpu-through-exec", False, f"{type(e).__name__}: {e}")

    # the first request on a fresh connection must not be lost (a client that does not
    # retry its sync would hang)
    lost = [l for l, ok in first_sync if not ok]
    result("first-sync-after-connect", not lost,
           f"{len(first_sync) - len(lost)}/{len(first_sync)} connections had their first sync answered"
           + (f"; lost on: {', '.join(lost)} (each recovered by re-sending the sync after 1-2 s)" if lost else ""))

    # (f) what the agent reports about the guest (disks, identity, cpu, network)
    guest_info_checks()
    # (hw) what the guest has: vCPUs, RTC, discard, memory blocks (via guest-exec)
    hardware_checks()
    guest_write_checks()
    system_checks()

    # the agent was never restarted by the guest's supervisor
    last_pid = agent_pid()
    with open(CONSOLE, "rb") as f:
        exits = f.read().count(b"AGENT-EXITED")
    result("agent-not-restarted", first_pid is not None and first_pid == last_pid and exits == 0,
           f"pid {first_pid} -> {last_pid}, {exits} exits")
    hotplug_port_check()
    disk_replug_check()
    freeze_checks()
    shutdown_check()

    skipped_note = f", {skipped_count} skipped" if skipped_count else ""
    print(f"vm-{ARCH}: {passed} passed, {failed} failed{skipped_note}", flush=True)
    return 1 if failed else 0


def power_check(mode):
    """A fresh guest told `guest-shutdown {mode}`: no reply comes; `reboot` ends QEMU (it
    runs with -no-reboot); `halt` stops the guest (the kernel says "System halted" and the
    agent answers no more) while QEMU, which has no halt of its own, stays up."""
    name = f"z.shutdown-{mode}"
    try:
        pid = int(open(os.path.join(VMDIR, "qemu.pid")).read())
        c = Conn(timeout=20, label="p")
        c.sync_retry()
        c.send({"execute": "guest-shutdown", "arguments": {"mode": mode}})
        deadline = time.time() + 60
        if mode == "reboot":
            while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
                time.sleep(0.2)
            gone = not os.path.exists(f"/proc/{pid}")
            result(name, gone, f"QEMU pid {pid} {'exited' if gone else 'still running after 60 s'}")
        else:
            halted = False
            while time.time() < deadline and not halted:
                halted = "System halted" in open(CONSOLE, errors="replace").read()
                time.sleep(0.2)
            answered = None
            if halted:
                try:
                    _, dt, _, _ = c.sync_retry(attempts=2, timeout=2.0)
                    answered = dt is not None
                except Exception:
                    answered = False
            result(name, halted and answered is False,
                   f"console says System halted: {halted}; agent still answers: {answered}")
    except Exception as e:
        result(name, False, f"{type(e).__name__}: {e}")
    print(f"vm-{ARCH}-{mode}: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def basic_check(label, commands):
    """The short check of a guest booted some other way (scripts/test-install.sh): the
    agent answers sync, guest-ping and guest-info; then each shell command given runs in
    the guest through guest-exec and must exit 0 (its output is printed)."""
    try:
        c = Conn(timeout=20, label="basic")
        _, dt, _, k = c.sync_retry(attempts=30)   # up to 60 s: a distribution initramfs boots slower
        result(f"{label}.sync", dt is not None, f"answered on attempt {k}")
        ping = c.call("guest-ping")
        result(f"{label}.guest-ping", ping == {"return": {}}, f"{ping}")
        info = c.call("guest-info")
        ver = info.get("return", {}).get("version") if isinstance(info, dict) else None
        result(f"{label}.guest-info", ver == EXPECT_VERSION, f"version={ver!r}")
        for command in commands:
            code, out, err = guest_run(c, "/bin/sh", ["-c", command])
            text = (out + err).decode(errors="replace").strip().replace("\n", " | ")
            result(f"{label}.exec", code == 0, f"`{command}` exit {code}: {text}")
    except Exception as e:
        result(f"{label}.agent", False, f"{type(e).__name__}: {e}")
    print(f"vm-{ARCH}-{label}: {passed} passed, {failed} failed", flush=True)
# ---- the agent as the guest's init (board/pid1-image.sh, board/pid1-test.sh) ----
# The image holds only /init (the agent), its config, the virtio modules and /bin/busybox
# (an extra static program, for guest-exec); the agent itself mounts, loads the modules and
# sets lo up. The kernel command line carries tinyqga.statedir=/tmp (the config says /run).
BUSYBOX = "/bin/busybox"


def wait_first_answer(seconds=120):
    """Connects and syncs until the agent answers: seconds since T_START (the shell's clock
    when QEMU was started), or None."""
    start = float(os.environ.get("T_START", time.time()))
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            c = Conn(timeout=2, label="boot")
            ok, _, _, _ = c.sync(timeout=1.0)
            c.close()
            if ok:
                return time.time() - start
        except (OSError, TimeoutError, EOFError):
            pass
        time.sleep(0.1)
    return None


def file_read(c, path, count=65536):
    import base64
    h = call_ok(c, "guest-file-open", {"path": path, "mode": "r"})
    data = b""
    while True:
        r = call_ok(c, "guest-file-read", {"handle": h, "count": count})
        data += base64.b64decode(r["buf-b64"])
        if r["eof"] or not r["count"]:
            break
    call_ok(c, "guest-file-close", {"handle": h})
    return data


def wait_qemu_gone(pid, seconds):
    t0 = time.time()
    while time.time() - t0 < seconds and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.05)
    return (None if os.path.exists(f"/proc/{pid}") else time.time() - t0)


def pid1_checks():
    """A PID-1 guest: the read-only suite's checks that apply (no /mnt/scratch, no eth0
    address, no host name: nothing but the agent configures the guest), what the agent as
    init did, guest-exec of a static program, a file in /tmp, orphans reaped, and
    guest-shutdown ending QEMU."""
    import base64
    first = wait_first_answer()
    result("p.first-answer", first is not None,
           f"{first:.2f} s from QEMU start to the first sync answer" if first else "no answer in 120 s")
    if first is None:
        return
    numbers["first_answer_s"] = round(first, 2)
    c = Conn(timeout=20, label="p")
    ok, dt, skipped, sentinel = c.sync()
    result("a.sync-delimited", ok and sentinel, f"sentinel={sentinel}, {dt*1000:.0f} ms")
    info = c.call("guest-info")
    ver = info.get("return", {}).get("version") if isinstance(info, dict) else None
    result("a.guest-info", ver == EXPECT_VERSION, f"version={ver!r}")
    result("a.guest-ping", c.call("guest-ping") == {"return": {}}, "")

    def ret(cmd, args=None):
        return call_ok(c, cmd, args)

    # --- what the init did ---
    def is_pid1():
        stat = file_read(c, "/proc/self/stat")
        return stat.startswith(b"1 ("), f"/proc/self/stat of the agent: {stat[:40]!r}"
    attempt("p.agent-is-pid1", is_pid1)

    def mounts():
        got = set()
        for line in file_read(c, "/proc/self/mountinfo").decode().splitlines():
            f = line.split()
            sep = f.index("-")
            got.add((f[4], f[sep + 1]))
        want = {("/proc", "proc"), ("/sys", "sysfs"), ("/dev", "devtmpfs"), ("/dev/pts", "devpts"),
                ("/run", "tmpfs"), ("/tmp", "tmpfs")}
        return want <= got, f"missing {sorted(want - got)}" if want - got else f"all six of {sorted(got)}"
    attempt("p.mounts", mounts)

    def modules():
        conf = file_read(c, "/etc/qemu/qemu-ga.conf").decode()
        roots = [m for line in conf.splitlines() if line.startswith("modules=")
                 for m in line.split("=", 1)[1].split(";") if m]
        loaded = {l.split()[0] for l in file_read(c, "/proc/modules").decode().splitlines()}
        missing = [m for m in roots if m not in loaded]
        return bool(roots) and not missing, (f"config modules {roots}; /proc/modules: {sorted(loaded)}"
                                             + (f"; MISSING {missing}" if missing else ""))
    attempt("p.modules-loaded", modules)

    def cmdline_over_config():
        state = file_read(c, "/tmp/qga.state")
        try:
            file_read(c, "/run/qga.state")
            in_run = True
        except RuntimeError:
            in_run = False
        return not in_run, f"/tmp/qga.state ({state!r}) from tinyqga.statedir=/tmp; /run/qga.state exists: {in_run}"
    attempt("p.cmdline-overrides-config", cmdline_over_config)

    def network():
        by = {i.get("name"): i for i in ret("guest-network-get-interfaces")}
        lo = by.get("lo") or {}
        lo_ok = any(a.get("ip-address") == "127.0.0.1" for a in lo.get("ip-addresses", []))
        eth = by.get("eth0") or {}
        eth_ok = eth.get("hardware-address") == "52:54:00:12:34:56"
        return lo_ok and eth_ok, f"lo {short(lo, 200)}; eth0 (virtio_net, not configured) {short(eth, 200)}"
    attempt("p.lo-up-and-eth0", network)

    # --- the read-only suite, where it applies ---
    sd, pd = disk_names() if not HW["ccw"] else (None, None)

    def disks():
        by = {(d.get("address") or {}).get("serial"): d for d in ret("guest-get-disks")}
        names = sorted(str(d.get("name")) for d in by.values())
        ok = "qga-scratch" in by and "qga-parted" in by
        if sd:
            ok = ok and by["qga-scratch"]["name"] == f"/dev/{sd}" and by["qga-parted"]["name"] == f"/dev/{pd}"
        return ok, f"virtio_blk loaded by the agent: {names}"
    attempt("f.disks", disks)

    def fsinfo():
        r = ret("guest-get-fsinfo")
        roots = [f for f in r if f.get("mountpoint") == "/"]
        return not roots, f"{len(r)} file systems: {[f.get('mountpoint') for f in r]}"
    attempt("f.fsinfo", fsinfo)

    def osinfo():
        r = ret("guest-get-osinfo")
        krel = booted_kernel_release()
        return r.get("kernel-release") == krel and r.get("machine") == ARCH, short(r)
    attempt("f.osinfo", osinfo)
    attempt("f.timezone", lambda: (ret("guest-get-timezone") == {"zone": "UTC", "offset": 0}, "UTC"))
    attempt("f.users", lambda: (ret("guest-get-users") == [], "none"))
    attempt("f.host-name", lambda: (isinstance(ret("guest-get-host-name").get("host-name"), str),
                                   short(ret("guest-get-host-name"))))
    attempt("f.vcpus", lambda: (sorted(v.get("logical-id") for v in ret("guest-get-vcpus")) == list(range(SMP)),
                                f"{SMP} vCPUs"))
    attempt("f.cpustats", lambda: (len(ret("guest-get-cpustats")) == SMP, f"{SMP} entries"))
    attempt("f.load", lambda: ("load1m" in ret("guest-get-load"), short(ret("guest-get-load"))))
    attempt("f.diskstats", lambda: (len(ret("guest-get-diskstats")) >= 2, "vda, vdb and more"))

    # --- the write side, with the image's static busybox ---
    def exec_static():
        got = guest_run(c, BUSYBOX, ["sh", "-c", "echo out; echo err >&2; cat; exit 7"], b"in\n")
        return got == (7, b"out\nin\n", b"err\n"), f"{BUSYBOX} sh: {got!r}"
    attempt("p.exec-static-program", exec_static)

    def tmp_file():
        data = os.urandom(3000)
        h = ret("guest-file-open", {"path": "/tmp/pid1-check", "mode": "w"})
        ret("guest-file-write", {"handle": h, "buf-b64": base64.b64encode(data).decode()})
        ret("guest-file-close", {"handle": h})
        back = file_read(c, "/tmp/pid1-check")
        return back == data, f"{len(back)} of {len(data)} bytes back from /tmp (tmpfs)"
    attempt("p.file-write-read-tmp", tmp_file)

    def orphans():
        # The shell starts two sleepers (not holding the captured output) and exits: they
        # are orphans, reparented to PID 1, which must reap them when they end.
        code, out, _ = guest_run(c, BUSYBOX, ["sh", "-c",
                                              f"for i in 1 2; do {BUSYBOX} sleep 1 >/dev/null 2>&1 & echo $!; done; exit 3"])
        pids = out.split()
        parents = []
        for pid in pids:
            try:
                parents.append(file_read(c, f"/proc/{pid.decode()}/stat").split(b") ")[1].split()[1])
            except RuntimeError:
                parents.append(b"gone")
        time.sleep(2)
        left = []
        for pid in pids:
            try:
                left.append((pid, file_read(c, f"/proc/{pid.decode()}/stat").split(b") ")[1][:1]))
            except RuntimeError:
                pass
        _, stats, _ = guest_run(c, BUSYBOX, ["sh", "-c", f"{BUSYBOX} cat /proc/[0-9]*/stat"])
        zombies = [l for l in stats.splitlines() if l.split(b") ")[-1][:1] == b"Z"]
        ok = code == 3 and parents == [b"1", b"1"] and not left and not zombies
        return ok, (f"exit code {code} kept for guest-exec; orphans {pids} (parents then {parents}) "
                    f"left: {left}; zombies: {zombies}")
    attempt("p.orphans-reaped", orphans)
    c.close()


def pid1_shutdown():
    """Last: guest-shutdown (powerdown) ends QEMU within a few seconds."""
    try:
        pid = int(open(os.path.join(VMDIR, "qemu.pid")).read())
        c = Conn(timeout=20, label="z")
        c.sync_retry()
        c.send({"execute": "guest-shutdown"})
        took = wait_qemu_gone(pid, 30)
        result("z.shutdown-ends-qemu", took is not None and took < 10,
               f"QEMU ended {took:.1f} s after guest-shutdown" if took is not None else "still running after 30 s")
    except Exception as e:
        result("z.shutdown-ends-qemu", False, f"{type(e).__name__}: {e}")


def next_boot(boot_old, seconds=200):
    """Waits until the agent answers from a boot other than `boot_old`: its boot_id, or
    None. (s390x: QEMU 7.2 TCG takes 90-110 s to bring a rebooted guest back, the busybox
    image too, so the wait is long; elsewhere 5-16 s.)"""
    time.sleep(1)
    boot, deadline = None, time.time() + seconds
    while time.time() < deadline and boot in (None, boot_old):
        try:
            c = Conn(timeout=5, label="r2")
            if c.sync(timeout=1.0)[0]:
                boot = file_read(c, "/proc/sys/kernel/random/boot_id").strip()
            c.close()
        except (OSError, TimeoutError, EOFError, RuntimeError):
            time.sleep(0.2)
    return boot


def pid1_reboot():
    """A PID-1 guest under QEMU without -no-reboot: guest-shutdown reboot restarts it and the
    agent answers again (another boot_id); on x86_64 Ctrl-Alt-Del does the same; then
    SIGUSR2 to PID 1 (busybox init's power-off signal, sent by a guest-exec child) ends
    QEMU."""
    first = wait_first_answer()
    result("r.first-answer", first is not None, f"{first:.2f} s" if first else "no answer")
    if first is None:
        return
    try:
        pid = int(open(os.path.join(VMDIR, "qemu.pid")).read())
        c = Conn(timeout=20, label="r")
        c.sync_retry()
        boot1 = file_read(c, "/proc/sys/kernel/random/boot_id").strip()
        t0 = time.time()
        c.send({"execute": "guest-shutdown", "arguments": {"mode": "reboot"}})
        c.close()
        boot2 = next_boot(boot1)
        alive = os.path.exists(f"/proc/{pid}")
        result("r.reboot-restarts-guest", alive and boot2 not in (None, boot1),
               f"boot_id {boot1.decode()} -> {boot2.decode() if boot2 else None}, answering again "
               f"{time.time() - t0:.1f} s after guest-shutdown reboot; QEMU pid {pid} alive: {alive}")
        if ARCH == "x86_64":
            # Ctrl-Alt-Del: the kernel hands it to PID 1 as SIGINT (the agent set
            # reboot(CAD_OFF)), which reboots, as busybox init does. (x86_64 only: the
            # other machines here have no keyboard for QMP send-key to press.)
            t0 = time.time()
            q = Qmp()
            q.cmd("send-key", keys=[{"type": "qcode", "data": k} for k in ("ctrl", "alt", "delete")])
            q.close()
            boot3 = next_boot(boot2)
            result("r.ctrl-alt-del-reboots", boot3 not in (None, boot2),
                   f"boot_id -> {boot3.decode() if boot3 else None}, answering again "
                   f"{time.time() - t0:.1f} s after send-key ctrl-alt-delete")
        c = Conn(timeout=20, label="r3")
        c.sync_retry()
        call_ok(c, "guest-exec", {"path": BUSYBOX, "arg": ["kill", "-USR2", "1"]})
        took = wait_qemu_gone(pid, 30)
        result("r.sigusr2-powers-off", took is not None,
               f"QEMU ended {took:.1f} s after kill -USR2 1" if took is not None else "still running after 30 s")
    except Exception as e:
        result("r.reboot", False, f"{type(e).__name__}: {e}")


def pid1_main(mode):
    if mode == "--pid1":
        pid1_checks()
        pid1_shutdown()
    else:
        pid1_reboot()
    print(f"INFO {ARCH} numbers: {json.dumps(numbers)}", flush=True)
    print(f"vm-{ARCH}-pid1{'' if mode == '--pid1' else '-reboot'}: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[3] in ("--pid1", "--pid1-reboot"):
        sys.exit(pid1_main(sys.argv[3]))
    if len(sys.argv) > 4 and sys.argv[3] == "--power":
        sys.exit(power_check(sys.argv[4]))
    if len(sys.argv) > 4 and sys.argv[3] == "--basic":
        sys.exit(basic_check(sys.argv[4], sys.argv[5:]))
    sys.exit(main())
