#!/usr/bin/env python3
"""Writes the hand-made seeds of the `arguments` fuzz target into seeds/arguments/.

The target reads its input with arbitrary's Unstructured, one byte per small choice
(`int_in_range(0..=k)` takes one byte, modulo k+1), so seeds can be spelled out:
  byte 0     what to fuzz: 0 generated requests, 1 raw splices, 2 base64 decoding,
             3 base64 encoding, 4 strings in pieces
  raw        request count-1; per request: template index, then per hole a length byte and
             that many bytes (templates: 0 file-open, 1 file-read, 2 file-write, 3 file-seek,
             4 exec, 5 exec-status, 6 any command, 7 file-close in single quotes, 8 sync)
  decoding   room count-1, each room-3, then the text
  encoding   piece count-1, each piece size, newline count, each newline position, data
  pieces     piece count-1, each piece size, then the bytes
Run it from anywhere: python3 fuzz/seeds/make-arguments-seeds.py
"""
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "arguments")


def raw(*requests):
    out = bytearray([1, len(requests) - 1])
    for template, holes in requests:
        out.append(template)
        for hole in holes:
            hole = hole.encode() if isinstance(hole, str) else hole
            out.append(len(hole))
            out += hole
    return bytes(out) + b"\x20\x00"


SEEDS = {
    # Generated requests: any bytes drive the generator.
    "gen-a": bytes([0, 3]) + bytes(range(0, 256, 7)),
    "gen-b": bytes([0, 0, 5, 1, 1, 1, 9, 0]) + b"set\x00cur\x01",
    "gen-c": bytes([0, 2, 6, 3, 3, 3, 3, 2, 1, 0, 4, 4, 4, 4]) + b"\xff" * 40,
    "raw-open": raw((0, ["/tmp/x\\u00e9", "r+b"]), (0, ["a\"b", "w\n"])),
    "raw-read-write": raw((1, ["1000", "-1"]), (2, ["1000", "QUJD\\u0000@", "1.5"])),
    "raw-seek": raw((3, ["1000", "-1", '"end"']), (3, ["0", "0", "3"]), (3, ["0", "0", "true"])),
    "raw-exec": raw(
        (4, ["/bin/true", '"a", 1', "PATH=/x", "Zg==Zm9v", '"merged"']),
        (4, ["sh", "", "", "@@", "{}"]),
    ),
    "raw-status": raw((5, ["12345", '"id"']), (5, ["9223372036854775808", "[1,{'a':null}]"])),
    "raw-any": raw((6, ["guest-file-flush", '"handle":1']), (7, ["0"]), (8, ["42"])),
    "raw-broken": raw((0, [b"\xff\xfe", b"\xc3"]), (6, ["guest-exec", '"path":"\\ud800"'])),
    # Base64 text, with GLib's odd cases: padding inside, incomplete groups, newlines.
    "b64-plain": bytes([2, 2, 0, 1, 61]) + b"Zm9vYmFy",
    "b64-newlines": bytes([2, 0, 0]) + b"Zm9v\nYmFy\n",
    "b64-inner-pad": bytes([2, 1, 1, 5]) + b"Zg==Zm9vQU=DAB=C",
    "b64-short": bytes([2, 0, 4]) + b"Zm9vYg",
    "b64-invalid": bytes([2, 0, 0]) + b"Zm9v!\r\n",
    "enc-bytes": bytes([3, 3, 1, 2, 0, 64, 2, 3, 77]) + bytes(range(256)),
    "enc-empty": bytes([3, 0, 0, 0]),
    "str-utf8": bytes([4, 3, 1, 2, 3, 0]) + "a\u00e9\u20ac\U0001F600\"\\\n/".encode(),
    "str-invalid": bytes([4, 2, 1, 0, 2]) + b"x\xe2\x82y\xff\xf0\x9f\x98\xed\xa0\x80\xc3",
}

os.makedirs(HERE, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
print(f"{len(SEEDS)} seeds in {HERE}")
