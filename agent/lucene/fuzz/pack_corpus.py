#!/usr/bin/env python3
"""Packs directories (Lucene indices, snapshot repositories) into the fuzz targets' input framing
(fuzz_targets/framing.rs), one corpus file per directory; files are named by their path relative to it.

usage: pack_corpus.py OUT_DIR DIR...
"""
import pathlib
import struct
import sys


def pack(root: pathlib.Path) -> bytes:
    out = bytearray()
    for f in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "write.lock"):
        name = f.relative_to(root).as_posix().encode()
        data = f.read_bytes()
        out += bytes([len(name)]) + name + struct.pack("<I", len(data)) + data
    return bytes(out)


def main() -> None:
    out_dir = pathlib.Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, d in enumerate(sys.argv[2:]):
        (out_dir / f"input-{i}").write_bytes(pack(pathlib.Path(d)))


if __name__ == "__main__":
    main()
