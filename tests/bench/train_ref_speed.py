#!/usr/bin/python3
"""The reference for bench_train: the same heal training step in batched
PyTorch (tests/ref/llama_ref.py, float32, autograd), same tokens, teacher
logits, loss and settings:

    forward (B, T), distillation loss (T 2, w 0.5, fixed teacher logits),
    zero_grad, backward, clip_grad_norm_(1.0), AdamW (norms without decay)

Usage: train_ref_speed.py DIR [--batch B] [--ctx T] [--steps N]
       [--threads K]
Prints tokens/s (mean over N steps after one warm-up), the phases and the
peak RSS. Reads DIR's config.json and model.safetensors (F32 or BF16).
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
import llama_ref  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as fp:
        raw = fp.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        buf = raw[base + b:base + e]
        if info["dtype"] == "F32":
            a = np.frombuffer(buf, dtype="<f4")
        elif info["dtype"] == "BF16":
            a = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16)
            a = a.view(np.float32)
        else:
            raise SystemExit("unsupported dtype " + info["dtype"])
        out[name] = torch.from_numpy(a.copy().reshape(info["shape"]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--ctx", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(os.path.join(a.dir, "config.json")) as fp:
        cfg = json.load(fp)
    model = llama_ref.Llama(cfg)
    sd = read_safetensors(os.path.join(a.dir, "model.safetensors"))
    for n in ("gate_proj", "up_proj", "down_proj"):
        # a shared MLP stored once (model.mlp or one layer): every layer's
        have = [k for k in sd if k.endswith("mlp.%s.weight" % n)]
        for i in range(model.g["L"]):
            k = "model.layers.%d.mlp.%s.weight" % (i, n)
            if k not in sd:
                sd[k] = sd[sorted(have)[-1]]
    model.load_hf_state(sd)
    del sd
    B, T, V = a.batch, a.ctx, model.g["V"]
    N = B * T
    r = torch.arange(N, dtype=torch.int64)
    ids = ((r * 7919 + 13) % V).reshape(B, T)
    y = torch.full((B, T), -1, dtype=torch.int64)
    y[:, :-1] = ids[:, 1:]
    y = y.reshape(-1)
    rr = torch.arange(N, dtype=torch.float64)[:, None]
    vv = torch.arange(V, dtype=torch.float64)[None, :]
    teacher = (3.0 * torch.sin(0.37 * rr + 0.11 * vv)).float()
    temp, w = 2.0, 0.5
    decay, no = [], []
    for p in model.parameters():  # unique: shared/tied counted once
        (no if p.dim() == 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    mask = y >= 0
    lp = F.log_softmax(teacher / temp, -1)
    ph = [0.0] * 5
    total, first = 0.0, None
    for k in range(a.steps + 1):
        t0 = time.perf_counter()
        logits = model(ids).reshape(N, V)
        lq = F.log_softmax(logits / temp, -1)
        kl = (lp.exp() * (lp - lq)).sum(-1)[mask].mean()
        ce = F.cross_entropy(logits[mask], y[mask])
        loss = w * temp * temp * kl + (1 - w) * ce
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        if k == 0:
            first = loss.item()
            continue
        for i, (u, v) in enumerate(((t0, t1), (t1, t2), (t2, t3),
                                    (t3, t4), (t0, t4))):
            ph[i] += v - u
        total += t4 - t0
    s = a.steps
    print("pytorch %s train step B %d T %d: %.1f tokens/s (%.3f s/step over "
          "%d steps, %d threads); step-1 loss %.6f"
          % (torch.__version__, B, T, N * s / total, total / s, s,
             a.threads, first))
    print("  phases (s/step): forward+loss %.3f, backward %.3f, clip %.3f, "
          "adamw %.3f" % (ph[0] / s, ph[1] / s, ph[2] / s, ph[3] / s))
    print("  peak RSS %.0f MB"
          % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


if __name__ == "__main__":
    main()
