#!/usr/bin/env python3
"""Peak RSS of an agent while it serves large payloads (part of `make bench`).

Usage: payload-rss.py AGENT_BINARY

Starts the agent on a unix socket, reads its idle peak RSS (VmHWM), then serves a
48 MiB guest-file-read, a 32 MiB write in 1 MiB guest-file-write chunks and a 16 MiB
guest-exec capture, and prints VmHWM after each. The agent's memory must not grow with
the payload beyond its request buffer.
"""
import base64, json, os, socket, subprocess, sys, tempfile, time

def hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0

class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.buf = b""
    def call(self, cmd, **args):
        self.s.sendall(json.dumps({"execute": cmd, "arguments": args}).encode())
        while b"\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise SystemExit("agent closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        reply = json.loads(line)
        if "error" in reply:
            raise SystemExit(f"{cmd}: {reply['error']}")
        return reply["return"]

def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        sock = os.path.join(d, "qga.sock")
        agent = subprocess.Popen([binary, "-m", "unix-listen", "-p", sock, "-t", d],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if os.path.exists(sock):
                    break
                time.sleep(0.05)
            c = Client(sock)
            c.call("guest-ping")
            print(f"  idle                         {hwm(agent.pid):7d} kB")
            big = os.path.join(d, "big")
            with open(big, "wb") as f:
                f.write(os.urandom(48 << 20))
            h = c.call("guest-file-open", path=big)
            r = c.call("guest-file-read", handle=h, count=48 << 20)
            assert r["count"] == 48 << 20
            c.call("guest-file-close", handle=h)
            print(f"  48 MiB guest-file-read       {hwm(agent.pid):7d} kB")
            h = c.call("guest-file-open", path=os.path.join(d, "out"), mode="w")
            chunk = base64.b64encode(os.urandom(1 << 20)).decode()
            for _ in range(32):
                c.call("guest-file-write", handle=h, **{"buf-b64": chunk})
            c.call("guest-file-close", handle=h)
            print(f"  32 MiB written, 1 MiB chunks {hwm(agent.pid):7d} kB")
            pid = c.call("guest-exec", path="head", arg=["-c", str(16 << 20), "/dev/zero"],
                         **{"capture-output": True})["pid"]
            for _ in range(600):
                s = c.call("guest-exec-status", pid=pid)
                if s["exited"]:
                    break
                time.sleep(0.05)
            assert len(base64.b64decode(s["out-data"])) == 16 << 20
            print(f"  16 MiB guest-exec capture    {hwm(agent.pid):7d} kB")
        finally:
            agent.terminate()
            agent.wait()

main()
