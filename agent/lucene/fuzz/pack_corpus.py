#!/usr/bin/env python3
"""Packs Lucene index directories into the fuzz target's input framing, one corpus file per index.

usage: pack_corpus.py OUT_DIR INDEX_DIR...
"""
import pathlib
import struct
import sys


def pack(index_dir: pathlib.Path) -> bytes:
    out = bytearray()
    for f in sorted(p for p in index_dir.iterdir() if p.is_file() and p.name != "write.lock"):
        name = f.name.encode()
        data = f.read_bytes()
        out += bytes([len(name)]) + name + struct.pack("<I", len(data)) + data
    return bytes(out)


def main() -> None:
    out_dir = pathlib.Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, d in enumerate(sys.argv[2:]):
        (out_dir / f"index-{i}").write_bytes(pack(pathlib.Path(d)))


if __name__ == "__main__":
    main()
