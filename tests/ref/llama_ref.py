"""A plain-PyTorch reference of the InkubaLM/Llama family (no transformers).

Follows Hugging Face's LlamaForCausalLM definition: RMSNorm with the variance
in fp32, rotary embeddings in the rotate_half layout (dim i pairs with
i + head_dim/2), causal attention with optional grouped key/value heads,
SwiGLU MLP down(silu(gate(x)) * up(x)), final norm, lm_head (optionally tied).

InkubaLM's custom code builds ONE MLP shared by every layer; with
shared_mlp=True this module does the same, and state_dict()/load_hf_state()
speak the checkpoint's naming (model.layers.{i}.mlp.* stored for every layer,
the last layer's copy winning on load).

Used by tests/ref/make_goldens.py (golden logits for the C forward pass) and
assets/tiny-inkuba/train.py (the shipped model).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def geometry(cfg):
    d = cfg["hidden_size"]
    h = cfg["num_attention_heads"]
    return dict(
        V=cfg["vocab_size"], d=d, f=cfg["intermediate_size"],
        L=cfg["num_hidden_layers"], h=h,
        kv=cfg.get("num_key_value_heads", h),
        hd=cfg.get("head_dim", d // h),
        theta=cfg.get("rope_theta", 10000.0),
        eps=cfg.get("rms_norm_eps", 1e-6),
        tied=cfg.get("tie_word_embeddings", False),
        shared="vulavula" in str(cfg.get("auto_map", "")).lower(),
    )


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        x = x.float()
        var = x.pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(var + self.eps)
        return self.weight * x.to(dt)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(T, hd, theta, device=None):
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64,
                                        device=device).float() / hd))
    t = torch.arange(T, device=device).float()
    freqs = torch.outer(t, inv)
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

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.h // self.kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        mask = torch.full((T, T), float("-inf"), device=x.device).triu(1)
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

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
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

    def forward(self, ids, skip_layers=()):
        """ids: (B, T) int64 -> logits (B, T, V) float32."""
        T = ids.shape[1]
        cos, sin = rope_cos_sin(T, self.g["hd"], self.g["theta"], ids.device)
        x = self.embed_tokens(ids)
        for i, layer in enumerate(self.layers):
            if i not in skip_layers:
                x = layer(x, cos, sin)
        return self.lm_head(self.norm(x))

    def hf_state_dict(self):
        """Tensors under Hugging Face names; the shared MLP is stored once per
        layer (as InkubaLM's checkpoint does); a tied lm_head is omitted."""
        sd = {"model.embed_tokens.weight": self.embed_tokens.weight}
        for i, layer in enumerate(self.layers):
            p = f"model.layers.{i}."
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                sd[p + f"self_attn.{n}.weight"] = getattr(layer.self_attn, n).weight
            for n in ("gate_proj", "up_proj", "down_proj"):
                sd[p + f"mlp.{n}.weight"] = getattr(layer.mlp, n).weight
            sd[p + "input_layernorm.weight"] = layer.input_layernorm.weight
            sd[p + "post_attention_layernorm.weight"] = layer.post_attention_layernorm.weight
        sd["model.norm.weight"] = self.norm.weight
        if not self.g["tied"]:
            sd["lm_head.weight"] = self.lm_head.weight
        return {k: v.detach().contiguous() for k, v in sd.items()}

    def load_hf_state(self, sd):
        """Loads Hugging Face names; for a shared MLP the last layer's copy
        wins, exactly as PyTorch's load into one shared module does."""
        with torch.no_grad():
            self.embed_tokens.weight.copy_(sd["model.embed_tokens.weight"])
            for i, layer in enumerate(self.layers):
                p = f"model.layers.{i}."
                for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                    getattr(layer.self_attn, n).weight.copy_(sd[p + f"self_attn.{n}.weight"])
                for n in ("gate_proj", "up_proj", "down_proj"):
                    getattr(layer.mlp, n).weight.copy_(sd[p + f"mlp.{n}.weight"])
                layer.input_layernorm.weight.copy_(sd[p + "input_layernorm.weight"])
                layer.post_attention_layernorm.weight.copy_(sd[p + "post_attention_layernorm.weight"])
            self.norm.weight.copy_(sd["model.norm.weight"])
            if not self.g["tied"]:
                self.lm_head.weight.copy_(sd["lm_head.weight"])


def save_safetensors(path, tensors):
    """Writes the safetensors format by hand: u64 little-endian header length,
    JSON header {name: {dtype, shape, data_offsets}}, then the raw data."""
    import json
    import struct
    names = sorted(tensors)
    header, blobs, off = {}, [], 0
    dtypes = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    for n in names:
        t = tensors[n].contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype != torch.float32 \
            else t.numpy().tobytes()
        header[n] = {"dtype": dtypes[t.dtype], "shape": list(t.shape),
                     "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as fp:
        fp.write(struct.pack("<Q", len(h)))
        fp.write(h)
        for b in blobs:
            fp.write(b)
