#!/usr/bin/env bash
# Cross test: for each guest architecture, build the release binary, run it (x86_64
# natively, the others under qemu-user) on a unix socket, and check
#   * guest-sync-delimited -> 0xFF {"return": ID}
#   * guest-info           -> contains "version": "10.0.0" and guest-ping
#   * guest-file-*: 100 KiB of random bytes written, sought and read back
#   * guest-exec: a shell with input-data, both streams captured, exit code 3
# Then the vector kernels' unit tests on aarch64, and the integration tests (protocol, file,
# exec) against the release musl binary.
# The last line is the summary: "cross: N passed, M failed" (N+M = architectures checked).
set -uo pipefail
cd "$(dirname "$0")/.."

MARKER=target/.cross-unavailable
TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl
         s390x-unknown-linux-gnu riscv64gc-unknown-linux-gnu)
# Each target is built with its own cargo invocation so one broken target does not hide
# the others.

runner_for() {
    case "$1" in
        x86_64-*) echo "" ;;
        aarch64-*) echo qemu-aarch64-static ;;
        s390x-*) echo qemu-s390x-static ;;
        riscv64*) echo qemu-riscv64-static ;;
    esac
}

loud_skip() {
    echo
    echo "######################################################################"
    echo "## SKIPPED: $*"
    echo "######################################################################"
    echo
}

tmp=$(mktemp -d)
agent_pid=
cleanup() {
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# Talks to the agent on $1; exits 0 if both replies are right.
check_socket() {
    python3 - "$1" <<'PY'
import json, random, socket, sys, time
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
deadline = time.time() + 20
while True:  # qemu-user may take a moment before the socket listens
    try:
        s.connect(path)
        break
    except OSError:
        if time.time() > deadline:
            print("  no agent listening on", path); sys.exit(1)
        time.sleep(0.05)
buf = b""
def line():
    global buf
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("agent closed the connection")
        buf += chunk
    l, _, buf = buf.partition(b"\n")
    return l
ok = True
ident = random.randint(1, 2**31 - 1)
s.sendall(b'\xff{"execute": "guest-sync-delimited", "arguments": {"id": %d}}\n' % ident)
want = b'\xff{"return": %d}' % ident
for _ in range(5):  # first comes the "stray 0xFF" error, then the sentinel reply
    l = line()
    if l.startswith(b"\xff"):
        break
if l == want:
    print("  guest-sync-delimited: ok (0xFF {\"return\": %d})" % ident)
else:
    print("  guest-sync-delimited: FAILED, got %r" % l); ok = False
s.sendall(b'{"execute": "guest-info"}\n')
l = line()
if b'"version": "10.0.0"' in l and b'"guest-ping"' in l:
    n = len(json.loads(l)["return"]["supported_commands"])
    print("  guest-info: ok (version 10.0.0, %d commands)" % n)
else:
    print("  guest-info: FAILED, got %r" % l[:200]); ok = False
import base64, os
def call(cmd, **args):
    s.sendall(json.dumps({"execute": cmd, "arguments": args}).encode() + b"\n")
    reply = json.loads(line())
    if "error" in reply:
        raise RuntimeError("%s: %s" % (cmd, reply["error"]["desc"]))
    return reply["return"]
try:
    data = os.urandom(100 << 10)
    path = os.path.join(os.path.dirname(path), "file-%d" % ident)
    h = call("guest-file-open", path=path, mode="w+")
    call("guest-file-write", handle=h, **{"buf-b64": base64.b64encode(data).decode()})
    call("guest-file-seek", handle=h, offset=0, whence="set")
    r = call("guest-file-read", handle=h, count=len(data) + 1)
    call("guest-file-close", handle=h)
    os.unlink(path)
    if base64.b64decode(r["buf-b64"]) == data and r["eof"]:
        print("  guest-file-*: ok (100 KiB round trip)")
    else:
        print("  guest-file-*: FAILED, read back %d bytes" % r["count"]); ok = False
    pid = call("guest-exec", path="/bin/sh", arg=["-c", "cat; echo err >&2; exit 3"],
               **{"input-data": base64.b64encode(b"in\n").decode(), "capture-output": True})["pid"]
    deadline = time.time() + 20
    while True:
        st = call("guest-exec-status", pid=pid)
        if st["exited"] or time.time() > deadline:
            break
        time.sleep(0.05)
    got = (st.get("exitcode"), base64.b64decode(st.get("out-data", "")), base64.b64decode(st.get("err-data", "")))
    if got == (3, b"in\n", b"err\n"):
        print("  guest-exec: ok (stdin, stdout, stderr, exit code)")
    else:
        print("  guest-exec: FAILED, got %r" % (st,)); ok = False
except Exception as e:
    print("  file/exec: FAILED, %s" % e); ok = False
sys.exit(0 if ok else 1)
PY
}

passed=0
failed=0
failures=()
skipped=()
if [ -f "$MARKER" ]; then
    loud_skip "cross targets unavailable: $(cat "$MARKER")"
fi
installed=$(rustup target list --installed 2>/dev/null)

for t in "${TARGETS[@]}"; do
    echo "== $t"
    if ! grep -qx "$t" <<<"$installed"; then
        loud_skip "cross targets unavailable: $t is not installed (run make setup)"
        skipped+=("$t")
        continue
    fi
    if ! cargo build --quiet --release --target "$t" --bin tinyqga; then
        echo "  build: FAILED"
        failed=$((failed + 1)); failures+=("$t(build)")
        continue
    fi
    bin=target/$t/release/tinyqga
    echo "  binary: $bin, $(stat -c %s "$bin") bytes (stripped by profile.release)"
    runner=$(runner_for "$t")
    if [ -n "$runner" ] && ! command -v "$runner" >/dev/null; then
        echo "  $runner: not installed (run make setup): FAILED"
        failed=$((failed + 1)); failures+=("$t(no $runner)")
        continue
    fi
    sock=$tmp/$t.sock
    # shellcheck disable=SC2086  # $runner is empty for x86_64
    QGA_CONF=/dev/null $runner "$bin" -m unix-listen -p "$sock" -t "$tmp" >"$tmp/$t.log" 2>&1 &
    agent_pid=$!
    if check_socket "$sock"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)); failures+=("$t")
        echo "  agent log:"; sed 's/^/    /' "$tmp/$t.log" | tail -n 20
    fi
    kill "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null; agent_pid=
done

# The vector kernels (src/simd.rs) differ per architecture: aarch64's NEON one runs its unit
# tests too, under qemu-user (linked with the target's own musl: the release profile's
# flags build a libc-free binary, which a test harness cannot be).
simd_rc=0
t=aarch64-unknown-linux-musl
echo "== src/simd.rs unit tests on $t"
if ! grep -qx "$t" <<<"$installed"; then
    loud_skip "cross targets unavailable: $t is not installed (run make setup)"
elif RUSTFLAGS="-Clink-self-contained=yes" cargo test --quiet --lib --target "$t" \
        --target-dir target/unit-tests simd:: >"$tmp/simd.log" 2>&1; then
    echo "  simd unit tests ($t): ok ($(grep -o '[0-9]* passed' "$tmp/simd.log"))"
else
    simd_rc=1
    echo "  simd unit tests ($t): FAILED"; sed 's/^/    /' "$tmp/simd.log" | tail -n 30
fi

# The integration tests again, this time driving the shipped static binary.
protocol_rc=0
bin=$PWD/target/x86_64-unknown-linux-musl/release/tinyqga
echo "== integration tests against the release binary ($bin)"
if [ ! -f tests/protocol.rs ]; then
    loud_skip "tests/protocol.rs does not exist (yet)"
elif [ ! -x "$bin" ]; then
    loud_skip "$bin was not built"
    protocol_rc=1
else
    TINYQGA_BIN=$bin cargo test --quiet --test protocol --test file --test exec || protocol_rc=$?
    [ $protocol_rc -eq 0 ] && echo "  protocol, file and exec tests (release binary): ok" \
                           || echo "  protocol, file and exec tests (release binary): FAILED (rc $protocol_rc)"
fi

[ ${#skipped[@]} -gt 0 ] && echo "SKIPPED architectures (not counted): ${skipped[*]}"
[ ${#failures[@]} -gt 0 ] && echo "failed architectures: ${failures[*]}"
echo "cross: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$protocol_rc" -eq 0 ] && [ "$simd_rc" -eq 0 ]
