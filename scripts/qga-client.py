#!/usr/bin/env python3
"""Tiny QGA client: sync with the agent, run one command, print its reply line.

usage: qga-client.py SOCKET COMMAND [ARGUMENTS-JSON]
  e.g. qga-client.py ./qga.sock guest-info
       qga-client.py ./qga.sock guest-sync '{"id": 42}'

It speaks the protocol the way a careful host does: send 0xFF (resets the agent's parser;
the agent answers it with a "stray" error), then guest-sync-delimited with a random id, and
skip everything until the 0xFF-prefixed reply carrying that id. Then it sends COMMAND and
prints the one-line reply (exit 1 if it is an error reply, 2 on timeout/protocol trouble).
"""
import json
import random
import socket
import sys

TIMEOUT = 10.0


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("agent closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def sync(self):
        ident = random.randint(1, 2**31 - 1)
        req = {"execute": "guest-sync-delimited", "arguments": {"id": ident}}
        self.send(b"\xff" + json.dumps(req).encode() + b"\n")
        while True:
            line = self.line()
            i = line.rfind(b"\xff")
            if i < 0:
                continue  # e.g. the "stray" error our 0xFF provoked
            try:
                if json.loads(line[i + 1:]).get("return") == ident:
                    return
            except ValueError:
                pass


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    path, command = argv[1], argv[2]
    req = {"execute": command}
    if len(argv) == 4:
        req["arguments"] = json.loads(argv[3])
    try:
        conn = Conn(path)
        conn.sync()
        conn.send(json.dumps(req).encode() + b"\n")
        reply = conn.line()
    except (OSError, EOFError) as e:
        print(f"qga-client: {e}", file=sys.stderr)
        return 2
    text = reply.decode("ascii", "backslashreplace")
    print(text)
    try:
        return 1 if "error" in json.loads(text) else 0
    except ValueError:
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
