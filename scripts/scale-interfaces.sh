#!/bin/bash
# guest-network-get-interfaces with 513 interfaces (256 veth pairs + lo in a network
# namespace this script makes and removes): milliseconds per call for tinyqga (argument 1)
# and Debian's qemu-ga, when installed. Part of `make bench`; needs root.
set -e
ns=tqgascale
ip netns del $ns 2>/dev/null || true
ip netns add $ns
ip -n $ns link set lo up
for i in $(seq 0 255); do
  ip -n $ns link add v$i type veth peer name w$i
  ip -n $ns addr add 10.$((i/200)).$((i%200)).1/24 dev v$i
  ip -n $ns link set v$i up
done
agents=("$1"); [ -x /usr/sbin/qemu-ga ] && agents+=(/usr/sbin/qemu-ga)
for agent in "${agents[@]}"; do
  d=$(mktemp -d)
  ip netns exec $ns env QGA_CONF=$d/none $agent -m unix-listen -p $d/s -t $d >$d/log 2>&1 &
  pid=$!
  for _ in $(seq 200); do [ -S $d/s ] && break; sleep 0.1; done
  python3 - $d/s $agent <<'PY'
import socket, sys, time, json
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
buf = b""
def call(req):
    global buf
    s.sendall(req)
    while b"\n" not in buf:
        buf += s.recv(1 << 20)
    line, _, buf = buf.partition(b"\n")
    return line
call(b'{"execute":"guest-ping"}')
n = 20
t = time.time()
for _ in range(n):
    r = call(b'{"execute":"guest-network-get-interfaces"}')
dt = (time.time() - t) / n
j = json.loads(r)
if "return" not in j: print(sys.argv[2], r[:300]); sys.exit(1)
print(f"{sys.argv[2]}: {len(j['return'])} interfaces, {dt*1000:.1f} ms per call")
PY
  kill $pid; wait $pid 2>/dev/null || true; rm -rf $d
done
ip netns del $ns
