#!/usr/bin/python3
"""Makes the fixtures of tests/test_weights.c, test_safetensors.c and
test_torchbin.c under tests/data/io/ (run once, from the project root, with
Debian's /usr/bin/python3 and its torch 1.13; the outputs are committed):

  state.bin            torch.save of a module state dict (OrderedDict with
                       _metadata, so BUILD) plus f32/f16/bf16 tensors, a
                       Parameter, a 0-dim and an empty tensor, and a view
                       sharing its base's storage at an offset
  state_p4.bin         the same saved with pickle protocol 4 (FRAME,
                       SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL)
  state.pkl, state_p4.pkl  their data.pkl (seeds for tests/fuzz)
  state.safetensors    the same tensors, tests/ref/llama_ref.save_safetensors
  golden.json          every tensor's dtype, shape and values (as float64)
  noncontig.bin        a transposed view: must be refused (stride)
  forbidden.pkl        protocol-2 pickle: GLOBAL os.system + REDUCE
  forbidden.bin        the same pickle as the data.pkl of a torch zip
  deflated.bin         state.bin re-zipped with its entries deflated
  longstorage.bin      an int64 tensor (unsupported storage type)
  sharded/             model.safetensors.index.json + 2 shards
  sharded-bin/         pytorch_model.bin.index.json + 2 shards
  dup/                 an index whose two shards both hold tensor 'a'

With --check-bin FILE... it instead loads each FILE with torch.load (the
check that torch reads what punguza's torchbin_write produces) and prints
each tensor's name, dtype, shape and sum.
"""
import collections
import io
import json
import os
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_ref import save_safetensors  # noqa: E402

OUT = "tests/data/io"


def tensors():
    g = torch.Generator().manual_seed(1234)
    lin = torch.nn.Linear(4, 3, bias=True)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(3, 4, generator=g))
        lin.bias.copy_(torch.randn(3, generator=g))
    sd = lin.state_dict()  # OrderedDict with _metadata -> BUILD
    base = torch.randn(10, generator=g)
    sd["f16.vec"] = (torch.randn(5, generator=g) * 3).half()
    sd["bf16.mat"] = (torch.randn(2, 3, generator=g) * 5).bfloat16()
    sd["shared.base"] = base
    sd["shared.view"] = base[2:8].view(2, 3)  # storage offset 2
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = torch.nn.Parameter(torch.tensor([1.0, -1.0, 0.5]))
    sd["cube"] = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) / 7
    return sd


def golden(sd):
    names = {torch.float32: "F32", torch.float16: "F16",
             torch.bfloat16: "BF16"}
    out = collections.OrderedDict()
    for k, v in sd.items():
        v = v.detach()
        out[k] = {"dtype": names[v.dtype], "shape": list(v.shape),
                  "values": [float(x) for x in v.float().flatten().tolist()],
                  "sum": float(v.double().sum())}
    return out


def zip_with(path, entries, method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, data in entries:
            z.writestr(name, data)


def check_bin(paths):
    for p in paths:
        sd = torch.load(p)
        print(f"{p}: {type(sd).__name__} of {len(sd)} tensors")
        for k, v in sd.items():
            print(f"  {k} {v.dtype} {tuple(v.shape)} "
                  f"sum={float(v.double().sum()):.9g}")


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--check-bin":
        check_bin(sys.argv[2:])
        return
    os.makedirs(OUT, exist_ok=True)
    sd = tensors()
    torch.save(sd, f"{OUT}/state.bin")
    torch.save(sd, f"{OUT}/state_p4.bin", pickle_protocol=4)
    for b in ("state", "state_p4"):
        with zipfile.ZipFile(f"{OUT}/{b}.bin") as z:
            pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
            with open(f"{OUT}/{b}.pkl", "wb") as fp:
                fp.write(z.read(pkl))
    plain = {k: v.detach().contiguous() for k, v in sd.items()}
    save_safetensors(f"{OUT}/state.safetensors", plain)
    with open(f"{OUT}/golden.json", "w") as fp:
        json.dump(golden(sd), fp, indent=1)
        fp.write("\n")

    torch.save({"t": torch.arange(12.0).view(3, 4).t()},
               f"{OUT}/noncontig.bin")
    torch.save({"ids": torch.arange(4)}, f"{OUT}/longstorage.bin")

    evil = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R."
    with open(f"{OUT}/forbidden.pkl", "wb") as fp:
        fp.write(evil)
    zip_with(f"{OUT}/forbidden.bin",
             [("forbidden/data.pkl", evil), ("forbidden/version", b"3\n")])

    with zipfile.ZipFile(f"{OUT}/state.bin") as z:
        entries = [(i.filename, z.read(i)) for i in z.infolist()]
    zip_with(f"{OUT}/deflated.bin", entries, zipfile.ZIP_DEFLATED)

    # Sharded checkpoints: the first half of the names in shard 1.
    names = list(plain)
    half = {n: (1 if i < len(names) // 2 else 2) for i, n in enumerate(names)}
    for sub, fmt in (("sharded", "safetensors"), ("sharded-bin", "bin")):
        os.makedirs(f"{OUT}/{sub}", exist_ok=True)
        wmap = {}
        for s in (1, 2):
            part = {n: plain[n] for n in names if half[n] == s}
            if fmt == "safetensors":
                fn = f"model-0000{s}-of-00002.safetensors"
                save_safetensors(f"{OUT}/{sub}/{fn}", part)
            else:
                fn = f"pytorch_model-0000{s}-of-00002.bin"
                torch.save(part, f"{OUT}/{sub}/{fn}")
            wmap.update({n: fn for n in part})
        idx = ("model.safetensors.index.json" if fmt == "safetensors"
               else "pytorch_model.bin.index.json")
        with open(f"{OUT}/{sub}/{idx}", "w") as fp:
            json.dump({"metadata": {"total_size": 0}, "weight_map": wmap},
                      fp, indent=1)

    os.makedirs(f"{OUT}/dup", exist_ok=True)
    save_safetensors(f"{OUT}/dup/a.safetensors", {"a": torch.ones(2)})
    save_safetensors(f"{OUT}/dup/b.safetensors",
                     {"a": torch.zeros(2), "b": torch.ones(1)})
    with open(f"{OUT}/dup/model.safetensors.index.json", "w") as fp:
        json.dump({"weight_map": {"a": "a.safetensors",
                                  "b": "b.safetensors"}}, fp)


if __name__ == "__main__":
    main()
