#!/usr/bin/env python3
"""Re-initialise a model directory's weights at random, in place.

Usage: reinit.py MODEL_DIR [SEED]

Rewrites MODEL_DIR/model.safetensors with the same tensors (names, shapes,
dtype F32) drawn afresh: every matrix N(0, 0.02), every norm weight
(1-D tensor) ones; the MLP copies stored under every layer's names (a
shared MLP) get one draw. config.json and the tokenizer files are left alone, so
the directory is the same architecture untrained ("scratch" in the
README's Healing comparison). Needs only numpy; reads and writes the
safetensors format itself.
"""
import json
import struct
import sys

import numpy as np


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    path = sys.argv[1] + "/model.safetensors"
    seed = int(sys.argv[2]) if len(sys.argv) == 3 else 0
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    rng = np.random.default_rng(seed)
    meta = header.pop("__metadata__", None)
    out_header, blobs, off, mlp = {}, [], 0, {}
    for name in sorted(header, key=lambda k: header[k]["data_offsets"][0]):
        shape = header[name]["shape"]
        # a shared MLP is stored under every layer's names: one draw for all
        key = name.split(".mlp.", 1)[1] if ".mlp." in name else None
        if len(shape) == 1:
            a = np.ones(shape, dtype="<f4")
        elif key in mlp:
            a = mlp[key]
        else:
            a = rng.normal(0.0, 0.02, size=shape).astype("<f4")
            if key is not None:
                mlp[key] = a
        b = a.tobytes()
        out_header[name] = {"dtype": "F32", "shape": shape,
                            "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if meta is not None:
        out_header["__metadata__"] = meta
    h = json.dumps(out_header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print(f"{path}: {len(out_header) - (meta is not None)} tensors, "
          f"{off // 4} parameters re-initialised (seed {seed})")


if __name__ == "__main__":
    main()
