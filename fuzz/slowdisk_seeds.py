#!/usr/bin/env python3
"""Writes fuzz/slowdisk-corpus/: request runs shaped like the kernel's (a path walk, an open,
reads, an interrupt, forgets) for fuzz/fuzz_slowdisk.c. The node ids are computed as
tools/slowdisk.c computes them (node_id, hash_name), so the seeds reach the READ path at once."""
import os
import struct

FNV_BASIS, FNV_PRIME, MASK64 = 1469598103934665603, 1099511628211, (1 << 64) - 1
KIND = {"delay": 1, "eio": 2, "seed": 3}
OP = dict(LOOKUP=1, FORGET=2, GETATTR=3, OPEN=14, READ=15, WRITE=16, RELEASE=18, FLUSH=25,
          INIT=26, OPENDIR=27, READDIR=28, RELEASEDIR=29, INTERRUPT=36, BATCH_FORGET=42, MKDIR=9)


def hash_name(parent, name):
    h = FNV_BASIS
    for i in range(8):
        h = ((h ^ ((parent >> (8 * i)) & 0xFF)) * FNV_PRIME) & MASK64
    h = ((h ^ ord("/")) * FNV_PRIME) & MASK64
    for b in name.encode():
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h & ((1 << 39) - 1)


def node(parent_hash, name, is_dir, kind, delay=0):
    h = hash_name(parent_hash, name)
    return h, h << 25 | (1 << 24 if is_dir else 0) | KIND[kind] << 22 | delay


def req(unique, opcode, nodeid, body=b""):
    return struct.pack("<IIQQIIIHH", 40 + len(body), OP[opcode], unique, nodeid, 0, 0, 1, 0, 0) + body


def read_in(offset, size):
    return struct.pack("<QQIIQII", 0, offset, size, 0, 0, 0, 0)


def walk(top, kind, delay, leaf, first_unique=2):
    u = first_unique
    hd, d = node(0x2325, top, True, kind, delay)
    hf, f = node(hd, leaf, False, kind, delay)
    return b"".join([
        req(u, "LOOKUP", 1, top.encode() + b"\0"),
        req(u + 1, "LOOKUP", d, leaf.encode() + b"\0"),
        req(u + 2, "GETATTR", f, struct.pack("<IIQ", 0, 0, 0)),
        req(u + 3, "OPEN", f, struct.pack("<II", os.O_RDONLY, 0)),
        req(u + 4, "READ", f, read_in(0, 131072)),
        req(u + 5, "READ", f, read_in(4096, 4096)),
        req(u + 6, "INTERRUPT", 0, struct.pack("<Q", u + 5)),
        req(u + 7, "READ", f, read_in(1 << 20, 4096)),
        req(u + 8, "FLUSH", f, struct.pack("<QIIQ", 0, 0, 0, 0)),
        req(u + 9, "RELEASE", f, struct.pack("<QIIQ", 0, 0, 0, 0)),
        req(u + 10, "OPENDIR", d, struct.pack("<II", 0, 0)),
        req(u + 11, "READDIR", d, read_in(0, 4096)),
        req(u + 12, "RELEASEDIR", d, struct.pack("<QIIQ", 0, 0, 0, 0)),
        req(u + 13, "MKDIR", d, struct.pack("<II", 0o755, 0) + b"new\0"),
        req(u + 14, "FORGET", f, struct.pack("<Q", 1)),
        req(u + 15, "BATCH_FORGET", 0, struct.pack("<II", 1, 0) + struct.pack("<QQ", d, 1)),
    ])


init = req(1, "INIT", 0, struct.pack("<IIII", 7, 45, 131072, 0xFFFFFFFF) + bytes(48))
seeds = {
    "walk-300-a": b"\x01" + walk("300", "delay", 300, "a"),
    "init-walk-300-a": b"\x00" + init + walk("300", "delay", 300, "a"),
    "direct-walk-2000-dir.d": b"\x05" + walk("2000", "delay", 2000, "dir.d"),
    "eio-x": b"\x01" + walk("eio", "eio", 0, "x"),
    "seed-model": b"\x03" + walk("anything", "seed", 0, "obj"),
    "shutdown-pending": b"\x09" + walk("60000", "delay", 60000, "slow"),
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "slowdisk-corpus")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
