#!/usr/bin/env bash
# Small benchmark of the release agent (x86_64 musl, native), and of Debian's qemu-ga for
# comparison when /usr/sbin/qemu-ga is installed:
#   (a) requests/second for N (default 20000) pipelined guest-sync requests on a unix socket
#   (b) peak RSS (VmHWM from /proc/PID/status) after that, and RSS right after start-up
#   (c) binary size
# usage: scripts/bench.sh [BINARY]   (env BENCH_REQUESTS=N)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-target/x86_64-unknown-linux-musl/release/tinyqga}
QEMU_GA=${QEMU_GA:-/usr/sbin/qemu-ga}
N=${BENCH_REQUESTS:-20000}

tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# bench NAME BINARY: starts BINARY on a socket, measures, prints one result line.
bench() {
    local name=$1 bin=$2 sock=$tmp/$1.sock state=$tmp/$1.state
    mkdir -p "$state"
    : >"$tmp/empty.conf"  # qemu-ga rejects QGA_CONF=/dev/null ("Not a regular file")
    QGA_CONF=$tmp/empty.conf "$bin" -m unix-listen -p "$sock" -t "$state" >"$tmp/$name.log" 2>&1 &
    pid=$!
    python3 - "$name" "$sock" "$pid" "$N" "$(stat -L -c %s "$bin")" <<'PY' || { sed 's/^/  log: /' "$tmp/$name.log"; return 1; }
import socket, sys, threading, time
name, path, pid, n, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

def status(key):
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith(key + ":"):
                return int(l.split()[1])  # kB

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
deadline = time.time() + 10
while True:
    try:
        s.connect(path); break
    except OSError:
        if time.time() > deadline:
            sys.exit(f"{name}: nothing listens on {path}")
        time.sleep(0.02)
s.settimeout(60)
rf = s.makefile("rb", buffering=1 << 16)

# sync: 0xFF resets the parser (and provokes an error reply), then wait for our sentinel
s.sendall(b'\xff{"execute":"guest-sync-delimited","arguments":{"id":4242}}\n')
while not rf.readline().startswith(b'\xff{"return": 4242}'):
    pass
rss_start = status("VmRSS")

reqs = b"".join(b'{"execute":"guest-sync","arguments":{"id":%d}}\n' % i for i in range(n))
err = []
def writer():
    try:
        s.sendall(reqs)
    except OSError as e:
        err.append(e)
t0 = time.perf_counter()
th = threading.Thread(target=writer); th.start()
for i in range(n):
    l = rf.readline()
    if l != b'{"return": %d}\n' % i:
        sys.exit(f"{name}: reply {i} is {l[:100]!r}")
dt = time.perf_counter() - t0
th.join()
if err:
    sys.exit(f"{name}: send failed: {err[0]}")
hwm = status("VmHWM")
print(f"{name:<10} {n / dt:>12,.0f} {dt * 1000:>10.1f} {rss_start:>10} {hwm:>10} {size:>10}")
s.close()
PY
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=
}

[ -x "$BIN" ] || { echo "bench: $BIN not built (make build)" >&2; exit 1; }
echo "$N pipelined guest-sync requests over a unix socket, one client"
printf '%-10s %12s %10s %10s %10s %10s\n' agent "req/s" "total ms" "RSS kB" "peak kB" "bin bytes"
bench tinyqga "$BIN"
if [ -x "$QEMU_GA" ]; then
    bench qemu-ga "$QEMU_GA" || echo "qemu-ga: benchmark failed (see log above)"
    echo "(qemu-ga: $("$QEMU_GA" -V 2>&1 | head -n 1); dynamically linked, libs not counted in bin bytes)"
else
    echo "qemu-ga: $QEMU_GA not installed, no comparison (make setup installs it)"
fi

echo
echo "Peak RSS (VmHWM) while serving large payloads (scripts/payload-rss.py)"
echo "tinyqga:"
python3 scripts/payload-rss.py "$BIN"
if [ -x "$QEMU_GA" ]; then
    echo "qemu-ga:"
    python3 scripts/payload-rss.py "$QEMU_GA" || echo "qemu-ga: payload run failed"
fi

echo
echo "guest-network-get-interfaces with 513 interfaces (scripts/scale-interfaces.sh)"
scripts/scale-interfaces.sh "$BIN" || echo "scale-interfaces: could not run (needs root and ip netns)"
