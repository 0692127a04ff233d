"""Measures the shipped tiny-inkuba as exported (bf16 weights), in PyTorch.

usage: /usr/bin/python3 evaluate.py MODEL_DIR [OUT_JSON]

Held-out bits per byte, per language (heldout_swh.txt, heldout_hau.txt in
MODEL_DIR): every non-empty line is scored on its own as BOS + pieces (the
SentencePiece encoding of the line, no EOS); the NLL of each piece given the
ones before it (BOS included, the BOS itself not scored) is summed in nats
over all lines, and bpb = total NLL / (ln 2 * total UTF-8 bytes of the
lines, newlines not counted).  Lines longer than max_position_embeddings - 1
pieces would be cut (none are).

gzip baseline: `gzip -9 -c < file` on the whole held-out file (newlines
included): 8 * compressed bytes / raw bytes.

Also prints greedy continuations (argmax, 40 new pieces or EOS) of a few
prompts.
"""
import json
import math
import os
import struct
import subprocess
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "ref"))
import llama_ref  # noqa: E402

import sentencepiece as spm  # noqa: E402

PROMPTS = [
    ("swh", "Watu wote wamezaliwa huru,"),
    ("swh", "Yesu akawaambia wanafunzi wake,"),
    ("hau", "Dukkan ’yan Adam"),
    ("hau", "Yesu ya ce musu,"),
]


def load_safetensors(path):
    with open(path, "rb") as fp:
        data = fp.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    dt = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + a:base + b]),
                             dtype=dt[h["dtype"]])
        out[name] = t.reshape(h["shape"]).float()
    return out


def load_model(mdir):
    with open(os.path.join(mdir, "config.json")) as fp:
        cfg = json.load(fp)
    sd = load_safetensors(os.path.join(mdir, "model.safetensors"))
    L = cfg["num_hidden_layers"]
    for n in ("gate_proj", "up_proj", "down_proj"):
        last = sd[f"model.layers.{L - 1}.mlp.{n}.weight"]
        for i in range(L - 1):
            sd.setdefault(f"model.layers.{i}.mlp.{n}.weight", last)
    m = llama_ref.Llama(cfg)
    m.load_hf_state(sd)
    m.eval()
    return cfg, m


@torch.no_grad()
def bpb(m, sp, path, maxlen):
    with open(path, encoding="utf-8") as fp:
        lines = [ln for ln in fp.read().split("\n") if ln]
    nll, nbytes, ntok = 0.0, 0, 0
    for ln in lines:
        ids = [1] + sp.encode(ln)
        ids = ids[:maxlen]
        x = torch.tensor([ids])
        logits = m(x[:, :-1])[0]
        nll += F.cross_entropy(logits, x[0, 1:], reduction="sum").item()
        nbytes += len(ln.encode("utf-8"))
        ntok += len(ids) - 1
    return {"lines": len(lines), "bytes": nbytes, "pieces": ntok,
            "nll_nats": nll, "bpb": nll / (math.log(2) * nbytes),
            "nll_per_piece": nll / ntok}


def gzip_bpb(path):
    raw = open(path, "rb").read()
    with open(path, "rb") as fp:
        comp = subprocess.run(["gzip", "-9", "-c"], stdin=fp, check=True,
                              capture_output=True).stdout
    return {"raw_bytes": len(raw), "gzip_bytes": len(comp),
            "bpb": 8 * len(comp) / len(raw)}


@torch.no_grad()
def greedy(m, sp, text, n=40):
    ids = [1] + sp.encode(text)
    start = len(ids)
    for _ in range(n):
        nxt = int(m(torch.tensor([ids]))[0, -1].argmax())
        if nxt == 2:
            break
        ids.append(nxt)
    return sp.decode(ids[start:])


def main():
    torch.set_num_threads(1)
    mdir = sys.argv[1]
    sp = spm.SentencePieceProcessor(
        model_file=os.path.join(mdir, "tokenizer.model"))
    cfg, m = load_model(mdir)
    res = {"protocol": __doc__.split("\n\n")[1:3], "langs": {}, "samples": []}
    for lang in ("swh", "hau"):
        path = os.path.join(mdir, f"heldout_{lang}.txt")
        r = bpb(m, sp, path, cfg["max_position_embeddings"])
        g = gzip_bpb(path)
        r["gzip"] = g
        r["reduction_vs_gzip"] = 1 - r["bpb"] / g["bpb"]
        res["langs"][lang] = r
        print(f"{lang}: {r['lines']} lines {r['bytes']} bytes "
              f"{r['pieces']} pieces: bpb {r['bpb']:.4f} "
              f"(nll/piece {r['nll_per_piece']:.4f}); gzip -9 "
              f"{g['bpb']:.4f}; {100 * r['reduction_vs_gzip']:.1f}% lower",
              flush=True)
    for lang, text in PROMPTS:
        out = greedy(m, sp, text)
        res["samples"].append({"lang": lang, "prompt": text,
                               "continuation": out})
        print(f"[{lang}] {text} >>> {out}", flush=True)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as fp:
            json.dump(res, fp, indent=1, ensure_ascii=False)
            fp.write("\n")


if __name__ == "__main__":
    main()
