#!/usr/bin/env python3
"""punguza heal, continued in PyTorch: distil a pruned student from its
teacher on one process or many (torchrun, DDP), from exactly the
directories punguza writes, with exactly `punguza heal`'s objective.

    torchrun --standalone --nproc_per_node N heal.py \\
        --teacher ORIGINAL --student CUT --ids train.ids -o HEALED
    python3 heal.py --teacher ORIGINAL --student CUT --corpus train.txt -o HEALED

Plain PyTorch (>= 1.13), no transformers, no safetensors package: this
file is all it needs. Its output directory is what punguza reads
(`punguza eval/run/prune/info HEALED`) and what transformers'
LlamaForCausalLM loads.

Objective, per scored row (one predicted position) with student logits s,
teacher logits t restricted to the student's vocabulary and target y:

    loss_row = w * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - w) * CE(s, y)

averaged over the scored rows of the whole step (all ranks, all
micro-batches: the gradient is the same for any number of processes).
The teacher sees the student's ids mapped to its own (vocab_map.json's
"keep" in the student directory: student id i is teacher id keep[i]; no
map = the same vocabulary) and its logits are restricted to those columns.

Optimizer: torch.optim.AdamW (foreach off), weight decay 0 on RMSNorm
weights; the learning rate rises linearly over --warmup steps and then
follows a cosine to --min-lr-ratio * --lr at the last step; the global
gradient norm is clipped with clip_grad_norm_ (--clip, 0 = off).

Data: the ids are one stream (documents one after another).
  --corpus FILE   text, one document per non-empty line: BOS, the line's
                  ids, EOS (as `punguza eval --lines` and `punguza heal`
                  see line-based text), tokenized by running
                  `punguza tokenize STUDENT --no-special` (found with
                  --punguza, on PATH, or beside this script); repeatable
  --ids FILE      a pre-tokenized stream (`punguza heal --plan-torch`,
                  or --write-ids): a safetensors file holding "tokens"
                  (I32, [N]) and metadata {"format": "punguza-ids",
                  "version": "1", "vocab_size", "bos", "eos", "documents",
                  "mode": "lines"|"whole", "sources"}
  --batches FILE  fixed batches replayed in order instead of sampling: a
                  safetensors file with "tokens" and "targets" (I32,
                  [steps, batch, ctx]; target -1 = not scored);
                  --dump-batches FILE writes the batches a run reads in
                  that format (to inspect them, or replay them elsewhere)
Sampling: exactly `punguza heal`'s (prune/heal_data.h): the stream is cut
into T-token chunks; each epoch visits every chunk once in an order drawn
from (seed, epoch), the grid shifted by an offset drawn from (seed,
epoch); row i of step s is global row s * batch + i. Rank r of W takes
rows [r*batch/W, (r+1)*batch/W) of every step, so a step's batch depends
only on (seed, step), never on the number of ranks, and resuming is
exact. The last position of each row is not scored. Learning rate of step
s (1-based): lr * s / warmup up to warmup, then lr * (r + (1 - r) * (1 +
cos(pi * (s - warmup) / (steps - warmup))) / 2), r = --min-lr-ratio.

OUT is written exactly as `punguza heal` writes it, so either program
continues the other's checkpoint (--resume here, `punguza heal --resume`
there) to the same losses as an uninterrupted run:
  checkpoint (every --ckpt-every steps, at --stop-at STEP, and on Ctrl-C
    or SIGTERM: the step finishes, then exit 130 / 143): the
    student as a model directory with F32 weights, optimizer.safetensors
    (AdamW's moments in core/adamw.h's format: "<param>.exp_avg" and
    ".exp_avg_sq", F32, "step" in the metadata; unique tensors under
    punguza's names, a shared MLP as "model.mlp.*"), heal_log.tsv (step,
    tokens, lr, loss, kl, ce, grad_norm, three empty held-out columns,
    elapsed_s) and heal_state.json ({"format": "punguza-heal-state",
    "step", "done": false, "elapsed", "recipe": the student's punguza.json
    with its "heal" section = these settings and the data's checksums});
  result (the last step): the same with "done": true, the weights in
    --dtype, and no optimizer state.
The directory is completed beside OUT and renamed into place (rank 0
writes; the others wait). --resume takes the settings, weights and
moments from OUT's checkpoint and refuses data whose checksums differ.
Model files: config.json (the student's, torch_dtype set),
model.safetensors (the MLP under every layer's names, a shared one too,
so transformers' LlamaForCausalLM loads it; no lm_head.weight when tied),
and the student's other files (tokenizer, vocab_map.json, ...) copied.

stdout (rank 0): one TSV line per step: step lr loss kl ce top1 gnorm
tokens_per_s (after a header line). Chatter goes to stderr.
"""
import argparse
import json
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------- safetensors

_DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
       "I32": torch.int32, "I64": torch.int64, "U8": torch.uint8}
_DT_NAME = {v: k for k, v in _DT.items()}
_DT_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "I64": 8, "U8": 1}


def st_read(path):
    """(tensors {name: tensor (a copy)}, metadata dict). Checks the header's
    sizes and offsets before using them."""
    with open(path, "rb") as fp:
        buf = fp.read()
    if len(buf) < 8:
        raise ValueError(f"'{path}': not a safetensors file (too short)")
    (hlen,) = struct.unpack("<Q", buf[:8])
    if hlen > min(len(buf) - 8, 100 << 20):
        raise ValueError(f"'{path}': header length {hlen} is out of range")
    header = json.loads(buf[8:8 + hlen].decode("utf-8"))
    data = memoryview(buf)[8 + hlen:]
    meta = header.pop("__metadata__", None) or {}
    out = {}
    for name, h in header.items():
        dt = h["dtype"]
        if dt not in _DT:
            raise ValueError(f"'{path}': tensor '{name}' has dtype {dt}")
        b, e = h["data_offsets"]
        n = 1
        for s in h["shape"]:
            n *= s
        if not (0 <= b <= e <= len(data)) or e - b != n * _DT_SIZE[dt]:
            raise ValueError(f"'{path}': tensor '{name}' has bad offsets")
        if n == 0:
            t = torch.zeros(h["shape"], dtype=_DT[dt])
        else:
            t = torch.frombuffer(bytearray(data[b:e]), dtype=_DT[dt])
        out[name] = t.reshape(h["shape"])
    return out, meta


def st_write(path, tensors, metadata=None):
    """Writes the format by hand (names sorted, header padded to 8 bytes,
    metadata {"format": "pt"} plus the given strings), atomically."""
    meta = {"format": "pt"}
    meta.update({k: str(v) for k, v in (metadata or {}).items()})
    header, off, names = {"__metadata__": meta}, 0, sorted(tensors)
    for n in names:
        t = tensors[n]
        size = t.numel() * t.element_size()
        header[n] = {"dtype": _DT_NAME[t.dtype], "shape": list(t.shape),
                     "data_offsets": [off, off + size]}
        off += size
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fp:
        fp.write(struct.pack("<Q", len(h)))
        fp.write(h)
        for n in names:
            t = tensors[n].detach().contiguous().cpu()
            if t.numel():
                fp.write(t.view(-1).view(torch.uint8).numpy().tobytes())
        fp.flush()
        os.fsync(fp.fileno())
    os.replace(tmp, path)


def model_file_tensors(d):
    """Every tensor of a model directory: model.safetensors or the shards
    of model.safetensors.index.json."""
    single = os.path.join(d, "model.safetensors")
    if os.path.exists(single):
        return st_read(single)[0]
    index = os.path.join(d, "model.safetensors.index.json")
    binf = os.path.join(d, "pytorch_model.bin")
    if not os.path.exists(index) and os.path.exists(binf):
        # InkubaLM's own checkpoint: a PyTorch zip, read without running
        # any pickled code (weights_only)
        try:
            sd = torch.load(binf, map_location="cpu", weights_only=True)
        except TypeError:
            fail(f"'{binf}': this torch cannot load pickles safely "
                 f"(weights_only); write model.safetensors with "
                 f"`punguza prune {d} -o DIR`")
        return {k: v for k, v in sd.items() if torch.is_tensor(v)}
    if not os.path.exists(index):
        raise FileNotFoundError(f"'{d}': no model.safetensors, shards or "
                                f"pytorch_model.bin")
    with open(index) as fp:
        files = sorted(set(json.load(fp)["weight_map"].values()))
    out = {}
    for f in files:
        out.update(st_read(os.path.join(d, f))[0])
    return out

# ---------------------------------------------------------------- the model
# InkubaLM/Llama, as tests/ref/llama_ref.py (the reference punguza's forward
# pass is checked against): RMSNorm with the variance in f32, RoPE in the
# rotate_half layout, causal GQA attention, SwiGLU; one MLP module shared
# by every layer when config.auto_map names vulavula.


def geometry(cfg):
    d, h = cfg["hidden_size"], cfg["num_attention_heads"]
    return dict(V=cfg["vocab_size"], d=d, f=cfg["intermediate_size"],
                L=cfg["num_hidden_layers"], h=h,
                kv=cfg.get("num_key_value_heads") or h,
                hd=cfg.get("head_dim") or d // h,
                theta=cfg.get("rope_theta", 10000.0),
                eps=cfg.get("rms_norm_eps", 1e-6),
                tied=bool(cfg.get("tie_word_embeddings", False)),
                shared="vulavula" in str(cfg.get("auto_map", "")).lower())


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dt)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(T, hd, theta, device):
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64,
                                        device=device).float() / hd))
    freqs = torch.outer(torch.arange(T, device=device).float(), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


class MLP(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Attention(nn.Module):
    def __init__(self, g):
        super().__init__()
        d, h, kv, hd = g["d"], g["h"], g["kv"], g["hd"]
        self.h, self.kv, self.hd = h, kv, hd
        self.q_proj = nn.Linear(d, h * hd, bias=False)
        self.k_proj = nn.Linear(d, kv * hd, bias=False)
        self.v_proj = nn.Linear(d, kv * hd, bias=False)
        self.o_proj = nn.Linear(h * hd, d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.h != self.kv:
            k = k.repeat_interleave(self.h // self.kv, dim=1)
            v = v.repeat_interleave(self.h // self.kv, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        att = torch.softmax((att + mask).float(), dim=-1).to(q.dtype)
        y = (att @ v).transpose(1, 2).reshape(B, T, self.h * self.hd)
        return self.o_proj(y)


class Layer(nn.Module):
    def __init__(self, g, mlp):
        super().__init__()
        self.self_attn = Attention(g)
        self.mlp = mlp
        self.input_layernorm = RMSNorm(g["d"], g["eps"])
        self.post_attention_layernorm = RMSNorm(g["d"], g["eps"])

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        g = self.g = geometry(cfg)
        self.embed_tokens = nn.Embedding(g["V"], g["d"])
        shared = MLP(g["d"], g["f"]) if g["shared"] else None
        self.layers = nn.ModuleList(
            Layer(g, shared if shared is not None else MLP(g["d"], g["f"]))
            for _ in range(g["L"]))
        self.norm = RMSNorm(g["d"], g["eps"])
        self.lm_head = nn.Linear(g["d"], g["V"], bias=False)
        if g["tied"]:
            self.lm_head.weight = self.embed_tokens.weight

    def forward(self, ids):
        """ids (B, T) int64 -> logits (B, T, V) f32."""
        T = ids.shape[1]
        cos, sin = rope_cos_sin(T, self.g["hd"], self.g["theta"], ids.device)
        mask = torch.full((T, T), float("-inf"), device=ids.device).triu(1)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))

    def unique_params(self):
        """[(punguza name, parameter, is_norm)] in punguza's model_params
        order: embed; per layer q, k, v, o, input norm, post norm (then
        gate, up, down when per layer); the shared MLP as model.mlp.*;
        final norm; lm_head unless tied."""
        out = [("model.embed_tokens.weight", self.embed_tokens.weight, False)]
        for i, ly in enumerate(self.layers):
            p = f"model.layers.{i}."
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                out.append((p + f"self_attn.{n}.weight",
                            getattr(ly.self_attn, n).weight, False))
            out.append((p + "input_layernorm.weight",
                        ly.input_layernorm.weight, True))
            out.append((p + "post_attention_layernorm.weight",
                        ly.post_attention_layernorm.weight, True))
            if not self.g["shared"]:
                for n in ("gate_proj", "up_proj", "down_proj"):
                    out.append((p + f"mlp.{n}.weight",
                                getattr(ly.mlp, n).weight, False))
        if self.g["shared"]:
            mlp = self.layers[0].mlp
            for n in ("gate_proj", "up_proj", "down_proj"):
                out.append((f"model.mlp.{n}.weight",
                            getattr(mlp, n).weight, False))
        out.append(("model.norm.weight", self.norm.weight, True))
        if not self.g["tied"]:
            out.append(("lm_head.weight", self.lm_head.weight, False))
        return out

    def hf_state_dict(self):
        """Hugging Face names: the MLP under every layer's names (a shared
        one too, so a plain LlamaForCausalLM loads it); no lm_head when
        tied."""
        sd = {"model.embed_tokens.weight": self.embed_tokens.weight}
        for i, ly in enumerate(self.layers):
            p = f"model.layers.{i}."
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                sd[p + f"self_attn.{n}.weight"] = getattr(ly.self_attn, n).weight
            for n in ("gate_proj", "up_proj", "down_proj"):
                sd[p + f"mlp.{n}.weight"] = getattr(ly.mlp, n).weight
            sd[p + "input_layernorm.weight"] = ly.input_layernorm.weight
            sd[p + "post_attention_layernorm.weight"] = \
                ly.post_attention_layernorm.weight
        sd["model.norm.weight"] = self.norm.weight
        if not self.g["tied"]:
            sd["lm_head.weight"] = self.lm_head.weight
        return {k: v.detach() for k, v in sd.items()}

    def load_hf(self, sd, where):
        """Loads HF names (any float dtype, computed in f32). A shared MLP
        takes the last layer's copy (as PyTorch's load into one shared
        module does) and says so when the copies differ; a tied model takes
        the embedding (lm_head.weight, if stored, is ignored)."""
        def get(n, shape):
            if n not in sd:
                raise KeyError(f"'{where}': no tensor '{n}'")
            t = sd[n]
            if list(t.shape) != list(shape):
                raise ValueError(f"'{where}': '{n}' has shape "
                                 f"{list(t.shape)}, expected {list(shape)}")
            return t.float()
        with torch.no_grad():
            self.embed_tokens.weight.copy_(
                get("model.embed_tokens.weight", self.embed_tokens.weight.shape))
            for i, ly in enumerate(self.layers):
                p = f"model.layers.{i}."
                for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                    w = getattr(ly.self_attn, n).weight
                    w.copy_(get(p + f"self_attn.{n}.weight", w.shape))
                if not self.g["shared"]:
                    for n in ("gate_proj", "up_proj", "down_proj"):
                        w = getattr(ly.mlp, n).weight
                        w.copy_(get(p + f"mlp.{n}.weight", w.shape))
                ly.input_layernorm.weight.copy_(
                    get(p + "input_layernorm.weight", ly.input_layernorm.weight.shape))
                ly.post_attention_layernorm.weight.copy_(
                    get(p + "post_attention_layernorm.weight",
                        ly.post_attention_layernorm.weight.shape))
            if self.g["shared"]:
                # Stored under every layer's names (InkubaLM) or only some
                # (tiny-inkuba: the last layer's): the last copy wins.
                mlp = self.layers[0].mlp
                for n in ("gate_proj", "up_proj", "down_proj"):
                    names = [f"model.layers.{i}.mlp.{n}.weight"
                             for i in range(self.g["L"])]
                    names = [x for x in names if x in sd]
                    if not names:
                        raise KeyError(f"'{where}': no tensor "
                                       f"'model.layers.*.mlp.{n}.weight'")
                    if any(not torch.equal(sd[x], sd[names[-1]])
                           for x in names[:-1]):
                        warn(f"'{where}': the shared MLP's stored copies "
                             f"differ ({n}); using the last layer's")
                    w = getattr(mlp, n).weight
                    w.copy_(get(names[-1], w.shape))
            self.norm.weight.copy_(get("model.norm.weight", self.norm.weight.shape))
            if not self.g["tied"]:
                self.lm_head.weight.copy_(get("lm_head.weight",
                                              self.lm_head.weight.shape))


def load_model(d):
    with open(os.path.join(d, "config.json")) as fp:
        cfg = json.load(fp)
    m = Llama(cfg)
    m.load_hf(model_file_tensors(d), d)
    return m, cfg

# ---------------------------------------------------------------- utilities

RANK, WORLD = 0, 1


def warn(msg):
    if RANK == 0:
        print(f"heal.py: {msg}", file=sys.stderr, flush=True)


def fail(msg, code=1):
    print(f"heal.py: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    z = (z + GOLDEN) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def heal_hash(seed, a, b):
    """prune/heal_data.c's heal_hash: splitmix64's finalizer, three rounds."""
    return mix64(mix64(mix64(seed & MASK64) ^ a) ^ b)


class Sampler:
    """prune/heal_data.c's heal_data_batch for a corpus, exactly: the stream
    of n tokens is cut into n_chunks consecutive T-token chunks; epoch k
    visits every chunk once, in a Fisher-Yates order drawn from
    heal_hash(seed, "PERM", k), the grid shifted by heal_hash(seed, "OFF",
    k) % T (when n >= 2T - 1); global row r = step * B + i is chunk
    perm[r % n_chunks] of epoch r / n_chunks. A step's rows depend only on
    (seed, step), never on the number of ranks."""

    def __init__(self, stream, ctx, seed):
        self.ids, self.T, self.seed = stream, ctx, seed
        n = stream.numel()
        if n < ctx:
            fail(f"the training text has {n} tokens, fewer than one "
                 f"sequence of {ctx}")
        self.n = n
        self.n_chunks = (n - ctx + 1) // ctx if n >= 2 * ctx - 1 else n // ctx
        self.epoch, self.perm = None, None

    def _perm(self, epoch):
        n = self.n_chunks
        st = heal_hash(self.seed, 0x5045524D, epoch)  # "PERM"
        perm = list(range(n))
        for i in range(n, 1, -1):
            st = (st + GOLDEN) & MASK64
            z = st
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            z ^= z >> 31
            u = (z >> 11) * (1.0 / 9007199254740992.0)
            j = min(int(u * i), i - 1)
            perm[i - 1], perm[j] = perm[j], perm[i - 1]
        self.epoch, self.perm = epoch, perm

    def rows(self, step, B, first, count):
        """(tokens, targets) int64 (count, T): rows first..first+count of
        step `step` (0-based; punguza heal's step s reads step s - 1), the
        last position of each row unscored (-1)."""
        T = self.T
        toks = torch.empty(count, T, dtype=torch.int64)
        for k in range(count):
            r = step * B + first + k
            epoch, pos = divmod(r, self.n_chunks)
            if epoch != self.epoch:
                self._perm(epoch)
            off = heal_hash(self.seed, 0x4F4646, epoch) % T \
                if self.n >= 2 * T - 1 else 0  # "OFF"
            at = off + self.perm[pos] * T
            toks[k] = self.ids[at:at + T].long()
        tgts = torch.full_like(toks, -1)
        tgts[:, :-1] = toks[:, 1:]
        return toks, tgts


def lr_at(s, a):
    """prune/heal_run.c's heal_lr: the learning rate of step s (1-based): linear
    warm-up lr * s / warmup, then a cosine from lr to lr * min_lr_ratio at
    the last step."""
    W, N = max(a.warmup, 0), a.steps
    if s <= W:
        return a.lr * s / W
    if N <= W:
        return a.lr
    p = min(1.0, (s - W) / (N - W))
    r = a.min_lr_ratio
    return a.lr * (r + (1 - r) * 0.5 * (1 + math.cos(math.pi * p)))


def fnv1a64(path):
    h = 0xCBF29CE484222325
    with open(path, "rb") as fp:
        while True:
            b = fp.read(1 << 20)
            if not b:
                break
            for c in b:
                h = ((h ^ c) * 0x100000001B3) & MASK64
    return f"fnv1a64:{h:016x}"


def find_punguza(explicit):
    if explicit:
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "punguza"),
                 os.path.join(here, "..", "..", "build", "punguza"),
                 os.path.join(here, "..", "..", "..", "bin", "punguza")):
        if os.access(cand, os.X_OK):
            return cand
    p = shutil.which("punguza")
    if p:
        return p
    fail("cannot find the punguza binary (--punguza PATH, or put it on PATH)")


def tokenize_corpus(files, student, cfg, punguza):
    """The stream `punguza heal` trains on: per non-empty line (a CR before
    the newline dropped) BOS, the line's ids, EOS."""
    bos, eos = cfg.get("bos_token_id"), cfg.get("eos_token_id")
    if isinstance(eos, list):
        eos = eos[0]
    out = []
    n_docs = 0
    for f in files:
        with open(f, "rb") as fp:
            raw = fp.read()
        lines = [ln[:-1] if ln.endswith(b"\r") else ln
                 for ln in raw.split(b"\n")]
        lines = [ln for ln in lines if ln]
        if not lines:
            continue
        r = subprocess.run([punguza, "tokenize", student, "--no-special"],
                           input=b"\n".join(lines) + b"\n",
                           stdout=subprocess.PIPE, check=False)
        if r.returncode != 0:
            fail(f"'{punguza} tokenize {student}' failed on '{f}' "
                 f"(status {r.returncode})")
        got = r.stdout.split(b"\n")
        if got and got[-1] == b"":
            got.pop()
        if len(got) != len(lines):
            fail(f"tokenize gave {len(got)} lines for {len(lines)} in '{f}'")
        for ln in got:
            if bos is not None and bos >= 0:
                out.append(bos)
            out.extend(int(x) for x in ln.split())
            if eos is not None and eos >= 0:
                out.append(eos)
        n_docs += len(lines)
    return torch.tensor(out, dtype=torch.int32), n_docs


def load_ids(path, V):
    t, meta = st_read(path)
    if meta.get("format") != "punguza-ids" or "tokens" not in t:
        fail(f"'{path}': not a punguza ids file (format "
             f"'{meta.get('format')}')")
    toks = t["tokens"].reshape(-1)
    if "vocab_size" in meta and int(meta["vocab_size"]) != V:
        fail(f"'{path}': made for a vocabulary of {meta['vocab_size']}, "
             f"the student has {V}")
    if toks.numel() and (int(toks.min()) < 0 or int(toks.max()) >= V):
        fail(f"'{path}': token ids outside 0..{V - 1}")
    return toks, meta


def write_ids(path, stream, V, n_docs, sources, cfg):
    st_write(path, {"tokens": stream.to(torch.int32)},
             {"format": "punguza-ids", "version": "1",
              "vocab_size": V, "documents": n_docs, "mode": "lines",
              "bos": cfg.get("bos_token_id", -1),
              "eos": cfg.get("eos_token_id", -1),
              "sources": json.dumps(sources, separators=(",", ":"))})


# Files of a model directory that a checkpoint or result writes itself (or
# never carries over).
OWN_FILES = {"config.json", "model.safetensors", "model.safetensors.index.json",
             "optimizer.safetensors", "pytorch_model.bin", "model.gguf",
             "punguza.json", "heal_state.json", "heal_log.tsv"}
LOG_HEADER = ("step\ttokens\tlr\tloss\tkl\tce\tgrad_norm\theldout_bpb\t"
              "heldout_kl\theldout_top1\telapsed_s\n")
SETTINGS = ("steps", "batch", "ctx", "lr", "warmup", "min_lr_ratio", "beta1",
            "beta2", "eps", "weight_decay", "clip", "temperature",
            "kd_weight", "seed", "whole_text")


def write_out(out, files_dir, cfg, model, dtype, files):
    """Writes the directory OUT as `punguza heal` does: complete in a
    temporary beside it, then put in its place (so OUT always holds a
    complete checkpoint). Copies files_dir's other files (tokenizer,
    vocab_map.json, generation config, ...), writes config.json (its
    torch_dtype set), model.safetensors, and files {name: bytes}."""
    parent = os.path.dirname(os.path.abspath(out)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(os.path.abspath(out))
                           + ".tmp-", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        for f in sorted(os.listdir(files_dir)):
            src = os.path.join(files_dir, f)
            if f in OWN_FILES or f in files or f.startswith(".") \
                    or not os.path.isfile(src) \
                    or (f.startswith("model-") and f.endswith(".safetensors")):
                continue
            shutil.copy2(src, os.path.join(tmp, f))
        c = dict(cfg)
        c["torch_dtype"] = {torch.float32: "float32",
                            torch.bfloat16: "bfloat16",
                            torch.float16: "float16"}[dtype]
        with open(os.path.join(tmp, "config.json"), "w") as fp:
            json.dump(c, fp, indent=2)
            fp.write("\n")
        st_write(os.path.join(tmp, "model.safetensors"),
                 {k: v.detach().cpu().to(dtype)
                  for k, v in model.hf_state_dict().items()})
        for name, data in files.items():
            if callable(data):
                data(os.path.join(tmp, name))
            else:
                with open(os.path.join(tmp, name), "wb") as fp:
                    fp.write(data)
        old = None
        if os.path.exists(out):
            old = tempfile.mkdtemp(prefix=os.path.basename(
                os.path.abspath(out)) + ".old-", dir=parent)
            os.rmdir(old)
            os.replace(out, old)
        os.replace(tmp, out)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def optimizer_tensors(opt, named):
    sd, step = {}, 0
    for name, p, _ in named:
        st = opt.state.get(p)
        if not st:
            continue
        sd[name + ".exp_avg"] = st["exp_avg"].detach().float().cpu()
        sd[name + ".exp_avg_sq"] = st["exp_avg_sq"].detach().float().cpu()
        step = int(st["step"])
    return sd, step


def load_optimizer(opt, named, path):
    """punguza's AdamW state file (core/adamw.h): "<param>.exp_avg" and
    ".exp_avg_sq" (F32) for every unique tensor, "step" in the metadata."""
    t, meta = st_read(path)
    step = int(meta.get("step", "0"))
    for name, p, _ in named:
        a, b = t.get(name + ".exp_avg"), t.get(name + ".exp_avg_sq")
        if a is None or b is None:
            fail(f"'{path}': no moments for '{name}'")
        if list(a.shape) != list(p.shape) or list(b.shape) != list(p.shape):
            fail(f"'{path}': '{name}' moments have shape {list(a.shape)}, "
                 f"the parameter {list(p.shape)}")
        opt.state[p] = {"step": torch.tensor(float(step)),
                        "exp_avg": a.float().to(p.device).clone(),
                        "exp_avg_sq": b.float().to(p.device).clone()}
    return step


# ---------------------------------------------------------------- the loss


def distill_sums(s, t, y, temperature, w):
    """Sums over scored rows (y >= 0) of loss_row, kl, ce and top-1
    agreement; s, t (n, V) f32 logits (t None when w == 0)."""
    keep = y >= 0
    s, y = s[keep], y[keep]
    zero = s.new_zeros(())
    if s.shape[0] == 0:
        return zero + 0 * s.sum(), zero, zero, zero
    ce = F.cross_entropy(s, y, reduction="none")
    if t is not None:
        t = t[keep]
        logp = F.log_softmax(t / temperature, dim=-1)
        logq = F.log_softmax(s / temperature, dim=-1)
        kl = (logp.exp() * (logp - logq)).sum(-1)
        top1 = (s.argmax(-1) == t.argmax(-1)).float().sum()
    else:
        kl = torch.zeros_like(ce)
        top1 = zero
    loss = w * temperature * temperature * kl + (1 - w) * ce
    return loss.sum(), kl.detach().sum(), ce.detach().sum(), top1.detach()

# ---------------------------------------------------------------- main


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="heal.py", description="Distil a pruned student from its "
        "teacher, as `punguza heal` does, on one or many processes "
        "(torchrun). See the module docstring (`pydoc heal.py`).")
    p.add_argument("--teacher", help="the original model directory "
                   "(not needed with --kd-weight 0)")
    p.add_argument("--student", help="the cut (punguza prune -o); not "
                   "needed with --resume")
    p.add_argument("-o", "--out", required=True, help="output directory: "
                   "checkpoints, then the result")
    p.add_argument("--resume", action="store_true",
                   help="continue the checkpoint in OUT (written by heal.py "
                   "or by punguza heal): its settings, weights and AdamW "
                   "moments")
    p.add_argument("--force", action="store_true",
                   help="replace a non-empty OUT")
    src = p.add_argument_group("data (one of)")
    src.add_argument("--corpus", action="append", default=[],
                     help="text file, one document per line (repeatable)")
    src.add_argument("--ids", help="pre-tokenized stream (punguza-ids)")
    src.add_argument("--batches", help="fixed batches, replayed in order")
    p.add_argument("--punguza", help="the punguza binary (for --corpus)")
    p.add_argument("--vocab-map", help="the cut's vocab_map.json (default: "
                   "the student's or OUT's)")
    p.add_argument("--write-ids", metavar="FILE",
                   help="write the tokenized --corpus as an ids file and exit")
    p.add_argument("--dump-batches", metavar="FILE",
                   help="also write the batches this run reads")
    p.add_argument("--steps", type=int, default=0,
                   help="optimizer steps (default 600)")
    p.add_argument("--tokens", type=int, default=0,
                   help="train on this many tokens: steps = tokens / (batch*ctx)")
    p.add_argument("--batch", type=int, default=16,
                   help="sequences per optimizer step, all ranks together")
    p.add_argument("--micro-batch", type=int, default=0,
                   help="sequences per forward on one rank (gradient "
                   "accumulation; default batch / ranks)")
    p.add_argument("--ctx", type=int, default=128, help="tokens per sequence")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=-1,
                   help="warm-up steps (default 5%% of the steps, 1..100)")
    p.add_argument("--min-lr-ratio", type=float, default=0.1)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.95)
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--kd-weight", type=float, default=None,
                   help="1 pure KL (default with a teacher), 0 pure CE")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--whole-text", action="store_true",
                   help="the ids file holds whole files (punguza heal "
                   "--whole-text --plan-torch); not with --corpus")
    p.add_argument("--dtype", choices=("f32", "bf16", "f16"), default="f32",
                   help="the result's weights (checkpoints are f32)")
    p.add_argument("--ckpt-every", type=int, default=500,
                   help="checkpoint cadence in steps (500)")
    p.add_argument("--stop-at", type=int, default=0, metavar="STEP",
                   help="write a checkpoint after STEP and exit (--resume "
                   "continues it, here or in punguza heal)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads per process (default torch's)")
    p.add_argument("--device", default="",
                   help="cpu or cuda (default cuda when available)")
    p.add_argument("--log-every", type=int, default=1)
    a = p.parse_args(argv)
    if sum(bool(x) for x in (a.corpus, a.ids, a.batches)) != 1 \
            and not a.write_ids:
        p.error("give exactly one of --corpus, --ids, --batches")
    if a.kd_weight is None:
        a.kd_weight = 1.0 if a.teacher else 0.0
    if not 0 <= a.kd_weight <= 1:
        p.error("--kd-weight must be in [0, 1]")
    if a.temperature <= 0:
        p.error("--temperature must be > 0")
    if a.ctx < 2 or a.batch < 1:
        p.error("--ctx must be >= 2 and --batch >= 1")
    if a.steps and a.tokens:
        p.error("give --steps or --tokens, not both")
    if not a.student and not a.resume:
        p.error("--student is needed (unless --resume)")
    if a.whole_text and a.corpus:
        p.error("--whole-text: tokenize with `punguza heal --whole-text "
                "--plan-torch DIR` and pass --ids DIR/train.ids")
    return a


def read_json(path):
    with open(path) as fp:
        return json.load(fp)


def main(argv=None):
    global RANK, WORLD
    a = parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available()
                                       else "cpu"))
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        RANK, WORLD = dist.get_rank(), dist.get_world_size()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    torch.manual_seed(a.seed)

    # --- where the student comes from: the cut, or OUT's checkpoint
    state, start, elapsed_base = None, 0, 0.0
    if a.resume:
        sp = os.path.join(a.out, "heal_state.json")
        if not os.path.exists(sp):
            fail(f"'{a.out}' holds no heal checkpoint (no heal_state.json): "
                 f"nothing to resume")
        state = read_json(sp)
        if state.get("format") != "punguza-heal-state":
            fail(f"'{sp}': not a punguza heal state")
        if state.get("done"):
            warn(f"'{a.out}' is a finished heal: nothing to do")
            return 0
        hs = state["recipe"]["heal"]
        for k in SETTINGS:
            if k in hs:
                setattr(a, k, type(getattr(a, k))(hs[k]))
        start = int(state["step"])
        elapsed_base = float(state.get("elapsed", 0))
        model_dir = a.out
    else:
        if os.path.isdir(a.out) and os.listdir(a.out) and not a.force:
            fail(f"'{a.out}' exists and is not empty (--force replaces it, "
                 f"--resume continues it)", 2)
        model_dir = a.student
    student, scfg = load_model(model_dir)
    V = student.g["V"]

    # --- the teacher, read through the cut's vocabulary map
    teacher = keep = None
    vm = a.vocab_map or next(
        (os.path.join(d, "vocab_map.json") for d in (model_dir, a.student)
         if d and os.path.exists(os.path.join(d, "vocab_map.json"))), None)
    if a.kd_weight > 0:
        if not a.teacher:
            fail("--teacher is needed for distillation (kd weight "
                 f"{a.kd_weight})", 2)
        teacher, _ = load_model(a.teacher)
        teacher.eval().requires_grad_(False)
        if vm:
            keep = read_json(vm)["keep"]
            if len(keep) != V or max(keep) >= teacher.g["V"] or min(keep) < 0:
                fail(f"'{vm}': its keep list does not fit the student "
                     f"({len(keep)} ids for V {V}) and the teacher "
                     f"(V {teacher.g['V']})")
            keep = torch.tensor(keep, dtype=torch.int64, device=device)
        elif teacher.g["V"] != V:
            fail(f"no vocab_map.json (--vocab-map) but the student's "
                 f"vocabulary ({V}) differs from the teacher's "
                 f"({teacher.g['V']})")
        teacher.to(device)

    # --- data
    stream = fixed = None
    if a.batches:
        bt, _ = st_read(a.batches)
        fixed = (bt["tokens"].long(), bt["targets"].long())
        if fixed[0].dim() != 3 or fixed[0].shape != fixed[1].shape:
            fail(f"'{a.batches}': tokens and targets must be "
                 f"[steps, batch, ctx]")
        a.steps = min(a.steps, fixed[0].shape[0]) if a.steps \
            else fixed[0].shape[0]
        a.batch, a.ctx = fixed[0].shape[1], fixed[0].shape[2]
        if int(fixed[0].min()) < 0 or int(fixed[0].max()) >= V \
                or int(fixed[1].max()) >= V:
            fail(f"'{a.batches}': ids outside 0..{V - 1}")
        sources = [{"name": os.path.basename(a.batches),
                    "bytes": os.path.getsize(a.batches),
                    "checksum": fnv1a64(a.batches)}]
    elif a.ids:
        stream, meta = load_ids(a.ids, V)
        if (meta.get("mode", "lines") == "whole") != a.whole_text:
            fail(f"'{a.ids}' holds {meta.get('mode', 'lines')} documents; "
                 f"the heal wants {'whole' if a.whole_text else 'lines'} "
                 f"(--whole-text)")
        sources = json.loads(meta.get("sources", "[]"))
    else:
        files = a.corpus
        stream, n_docs = tokenize_corpus(files, model_dir, scfg,
                                         find_punguza(a.punguza))
        sources = [{"name": os.path.basename(f), "bytes": os.path.getsize(f),
                    "checksum": fnv1a64(f)} for f in files]
        if a.write_ids:
            if RANK == 0:
                write_ids(a.write_ids, stream, V, n_docs, sources, scfg)
                warn(f"wrote {stream.numel()} tokens of {n_docs} documents "
                     f"to '{a.write_ids}'")
            return 0
    if state is not None:
        had = [(d["name"], d["checksum"])
               for d in state["recipe"]["heal"].get("data", [])]
        got = [(d["name"], d["checksum"]) for d in sources]
        if [c for _, c in had] != [c for _, c in got]:
            fail(f"'{a.out}' was healed on {had}; this data is {got}")
    if a.tokens and state is None:
        a.steps = max(1, -(-a.tokens // (a.batch * a.ctx)))
    if not a.steps:
        a.steps = 600
    if a.warmup < 0:
        a.warmup = min(100, max(1, a.steps // 20))
    if a.batch % WORLD:
        fail(f"batch {a.batch} is not a multiple of the {WORLD} processes", 2)
    per_rank = a.batch // WORLD
    micro = a.micro_batch or per_rank
    if per_rank % micro:
        fail(f"--micro-batch {micro} does not divide the {per_rank} "
             f"sequences of each process", 2)
    sampler = Sampler(stream, a.ctx, a.seed) if stream is not None else None

    # --- the recipe and log that travel with the weights
    if state is not None:
        recipe = state["recipe"]
    elif a.student and os.path.exists(os.path.join(a.student, "punguza.json")):
        recipe = read_json(os.path.join(a.student, "punguza.json"))
    else:
        recipe = None
    log_lines = [LOG_HEADER]
    if state is not None and os.path.exists(os.path.join(a.out, "heal_log.tsv")):
        with open(os.path.join(a.out, "heal_log.tsv")) as fp:
            for ln in fp.readlines()[1:]:
                f0 = ln.split("\t", 1)[0]
                if f0.isdigit() and int(f0) <= start:
                    log_lines.append(ln)

    # --- optimizer
    student.to(device)
    named = student.unique_params()
    groups = [{"params": [p for _, p, nrm in named if not nrm],
               "weight_decay": a.weight_decay},
              {"params": [p for _, p, nrm in named if nrm],
               "weight_decay": 0.0}]
    kw = dict(lr=a.lr, betas=(a.beta1, a.beta2), eps=a.eps)
    try:
        opt = torch.optim.AdamW(groups, foreach=False, **kw)
    except TypeError:  # a torch without the foreach argument
        opt = torch.optim.AdamW(groups, **kw)
    if state is not None:
        op = os.path.join(a.out, "optimizer.safetensors")
        got = load_optimizer(opt, named, op)
        if got != start:
            fail(f"'{op}': {got} optimizer steps, but the state says "
                 f"step {start}")
        warn(f"resuming '{a.out}' at step {start} of {a.steps}")

    model = student
    if distributed:
        model = nn.parallel.DistributedDataParallel(
            student, device_ids=[device.index] if device.type == "cuda"
            else None)
    n_params = sum(p.numel() for _, p, _ in named)
    warn(f"{WORLD} process(es) on {device.type}, student {n_params:,} "
         f"parameters, {a.steps} steps x {a.batch} x {a.ctx} tokens"
         + (f", stream {stream.numel():,} tokens" if stream is not None
            else ""))

    def heal_section():
        h = {k: getattr(a, k) for k in SETTINGS}
        # threads: OpenBLAS threads of a punguza heal run; 0 = none recorded
        h.update({"pool": 0, "threads": 0,
                  "data": sources})
        return h

    t_run = time.time()

    def checkpoint(step, done):
        rec = dict(recipe) if recipe is not None else {
            "format": "punguza-recipe", "version": 1}
        rec["heal"] = heal_section()
        el = elapsed_base + time.time() - t_run
        st = {"format": "punguza-heal-state", "step": step, "done": done,
              "elapsed": round(el, 3), "recipe": rec,
              "writer": {"program": "heal.py", "processes": WORLD,
                         "device": device.type, "torch": torch.__version__}}
        files = {"heal_log.tsv": "".join(log_lines).encode(),
                 "heal_state.json":
                 (json.dumps(st, indent=1) + "\n").encode()}
        if recipe is not None:
            files["punguza.json"] = (json.dumps(rec, indent=1) + "\n").encode()
        if vm and not os.path.exists(os.path.join(model_dir, "vocab_map.json")):
            with open(vm, "rb") as fp:
                files["vocab_map.json"] = fp.read()
        if not done:
            sd, ostep = optimizer_tensors(opt, named)
            files["optimizer.safetensors"] = \
                lambda path: st_write(path, sd, {"step": ostep})
        dtype = {"f32": torch.float32, "bf16": torch.bfloat16,
                 "f16": torch.float16}[a.dtype] if done else torch.float32
        write_out(a.out, model_dir if os.path.isdir(model_dir) else a.out,
                  scfg, student, dtype, files)

    # --- the loop
    if RANK == 0:
        print("step\tlr\tloss\tkl\tce\ttop1\tgnorm\ttokens_per_s", flush=True)
    dumped_t, dumped_y = [], []
    tokens_done = 0
    last = min(a.steps, a.stop_at) if a.stop_at > start else a.steps
    # Ctrl-C / SIGTERM (a preempted job): finish the step, write a
    # checkpoint, exit 130 / 143, as punguza heal does
    stop = [0]

    def on_signal(signum, frame):
        stop[0] = signum
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    stopped = 0
    for step in range(start, last):
        t0 = time.time()
        lr = lr_at(step + 1, a)
        for g in opt.param_groups:
            g["lr"] = lr
        if fixed is not None:
            x = fixed[0][step, RANK * per_rank:(RANK + 1) * per_rank]
            y = fixed[1][step, RANK * per_rank:(RANK + 1) * per_rank]
        else:
            x, y = sampler.rows(step, a.batch, RANK * per_rank, per_rank)
        if a.dump_batches:
            dumped_t.append(x)
            dumped_y.append(y)
        x, y = x.to(device), y.to(device)
        cnt = torch.tensor([float((y >= 0).sum())], dtype=torch.float64,
                           device=device)
        if distributed:
            dist.all_reduce(cnt)
        n_global = max(1.0, float(cnt[0]))
        stats = torch.zeros(4, dtype=torch.float64, device=device)
        opt.zero_grad(set_to_none=True)
        n_micro = per_rank // micro
        for k in range(n_micro):
            xs = x[k * micro:(k + 1) * micro]
            ys = y[k * micro:(k + 1) * micro]
            tl = None
            if teacher is not None:
                with torch.no_grad():
                    tl = teacher(keep[xs] if keep is not None else xs)
                    if keep is not None:
                        tl = tl.index_select(-1, keep)
                    tl = tl.reshape(-1, tl.shape[-1]).float()
            sync = distributed and k < n_micro - 1
            with (model.no_sync() if sync else _null()):
                s = model(xs).reshape(-1, V).float()
                loss, kl, ce, top1 = distill_sums(s, tl, ys.reshape(-1),
                                                  a.temperature, a.kd_weight)
                # DDP averages gradients over the ranks: this scale makes
                # the result the mean over every scored row of the step.
                (loss * (WORLD / n_global)).backward()
            stats += torch.stack([loss.detach().double(), kl.double(),
                                  ce.double(), top1.double()])
        if distributed:
            dist.all_reduce(stats)
        params = [p for _, p, _ in named]
        if a.clip > 0:
            gnorm = float(torch.nn.utils.clip_grad_norm_(params, a.clip))
        else:
            gnorm = float(torch.norm(torch.stack(
                [p.grad.norm() for p in params if p.grad is not None])))
        opt.step()
        tokens_done += a.batch * a.ctx
        s1 = step + 1
        m = [float(v) / n_global for v in stats]
        log_lines.append("%d\t%d\t%.6e\t%.6f\t%.6f\t%.6f\t%.6f\t\t\t\t%.1f\n" % (
            s1, s1 * a.batch * a.ctx, lr, m[0], m[1], m[2], gnorm,
            elapsed_base + time.time() - t_run))
        if RANK == 0 and (s1 % a.log_every == 0 or s1 == a.steps):
            print("%d\t%.9g\t%.9g\t%.9g\t%.9g\t%.6f\t%.9g\t%.1f" % (
                s1, lr, m[0], m[1], m[2], m[3] if teacher is not None else 0,
                gnorm, a.batch * a.ctx / max(time.time() - t0, 1e-9)),
                flush=True)
        flag = stop[0]
        if distributed:  # every rank stops after the same step
            f = torch.tensor([float(flag)], device=device)
            dist.all_reduce(f, op=dist.ReduceOp.MAX)
            flag = int(f[0])
        if flag and s1 < last:
            stopped, last = flag, s1
            break
        if a.ckpt_every and s1 % a.ckpt_every == 0 and s1 < a.steps:
            if RANK == 0:
                checkpoint(s1, False)
            if distributed:
                dist.barrier()
    elapsed = time.time() - t_run

    if a.dump_batches:
        t_all, y_all = torch.stack(dumped_t), torch.stack(dumped_y)
        if distributed:
            gt = [torch.zeros_like(t_all) for _ in range(WORLD)]
            gy = [torch.zeros_like(y_all) for _ in range(WORLD)]
            dist.all_gather(gt, t_all)
            dist.all_gather(gy, y_all)
            t_all, y_all = torch.cat(gt, 1), torch.cat(gy, 1)
        if RANK == 0:
            st_write(a.dump_batches, {"tokens": t_all.to(torch.int32),
                                      "targets": y_all.to(torch.int32)},
                     {"format": "punguza-batches", "version": "1"})
    if RANK == 0:
        student.cpu()
        checkpoint(last, last == a.steps)
        warn(f"{last - start} steps, {tokens_done:,} tokens in "
             f"{elapsed:.1f} s ({tokens_done / max(elapsed, 1e-9):,.0f} "
             f"tokens/s, {WORLD} process(es)); wrote '{a.out}'")
        if stopped:
            warn(f"stopped after step {last} of {a.steps}; checkpoint in "
                 f"'{a.out}' (--resume continues it, here or in punguza "
                 f"heal)")
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return 128 + stopped if stopped else 0


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    sys.exit(main())
