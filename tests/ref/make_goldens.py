#!/usr/bin/python3
"""Makes the small random models and golden outputs the C tests compare with.

Run once from the project root with Debian's python3 (torch 1.13):

    /usr/bin/python3 tests/ref/make_goldens.py

For each model it writes tests/data/models/<name>/:
  config.json             Llama keys (auto_map -> vulavula for shared MLPs)
  pytorch_model.bin       torch.save(OrderedDict state_dict), or
  model.safetensors       llama_ref.save_safetensors (F32, or BF16)
  golden.txt              the token sequences and the skipped layers:
                              seq N id id ...      (twice: lengths 7 and 16)
                              skip K layer ...     (applied to the 2nd seq)
  golden.f32              little-endian f32 logits, (N, V) per block, in the
                          order: seq 1, seq 2, seq 2 with the skipped layers

and tests/data/models/eval_golden.txt: sliding-window NLL computed the way
Hugging Face's perplexity guide does, plus KL(ref||model) and top-1
agreement against a second model of the same vocabulary.

Logits come from llama_ref.Llama in float32 after load_hf_state() of the
exact tensors written (a BF16 model: the bf16-rounded weights in f32), so
"the last stored MLP copy wins" is PyTorch's own behaviour, not ours.
Weights are drawn with a larger spread than training inits (std 1/sqrt(in))
so logits are O(1) and the argmax is meaningful.
"""
import collections
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                   "models")


def make_config(V, d, f, L, h, kv=None, hd=None, tied=False, shared=False,
                theta=10000.0, eps=1e-5):
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": V, "hidden_size": d, "intermediate_size": f,
        "num_hidden_layers": L, "num_attention_heads": h,
        "num_key_value_heads": kv or h,
        "max_position_embeddings": 64,
        "rms_norm_eps": eps, "rope_theta": theta,
        "tie_word_embeddings": tied,
        "bos_token_id": 1, "eos_token_id": 2,
        "hidden_act": "silu", "torch_dtype": "float32",
    }
    if hd is not None:
        cfg["head_dim"] = hd
    if shared:
        cfg["auto_map"] = {"AutoModelForCausalLM":
                           "vulavulaslm.VulavulaLlamaForCausalLM"}
    return cfg


def randomize(model, gen):
    """Wide random weights: std 1/sqrt(fan_in), embeddings std 1 (when
    untied; tied ones are the lm_head too, so 1/sqrt(d) keeps the logits
    O(1)), norms around 1."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif "embed" in name:
                std = 1.0 / math.sqrt(p.shape[1]) if model.g["tied"] else 1.0
                p.copy_(torch.randn(p.shape, generator=gen) * std)
            else:
                p.copy_(torch.randn(p.shape, generator=gen)
                        / math.sqrt(p.shape[1]))


def write_golden(dirname, model, V, L, gen):
    seqs = []
    for n in (7, 16):
        ids = torch.randint(0, V, (n,), generator=gen)
        ids[0] = 1
        seqs.append(ids)
    skip = (1,) if L >= 3 else (0,)
    blocks = []
    with torch.no_grad():
        for ids in seqs:
            blocks.append(model(ids[None])[0])
        blocks.append(model(seqs[1][None], skip_layers=skip)[0])
    with open(os.path.join(dirname, "golden.txt"), "w") as fp:
        for ids in seqs:
            fp.write("seq %d %s\n" % (len(ids),
                                      " ".join(str(int(i)) for i in ids)))
        fp.write("skip %d %s\n" % (len(skip), " ".join(map(str, skip))))
    with open(os.path.join(dirname, "golden.f32"), "wb") as fp:
        for b in blocks:
            fp.write(b.contiguous().float().numpy().astype("<f4").tobytes())
    return seqs


def build(name, cfg, fmt, gen, dtype=torch.float32, differ=False,
          mlp_names="layers", write_cfg=None):
    """fmt: 'bin' or 'safetensors'. differ: the shared MLP's stored copies
    of layers 0..L-2 are replaced by other random values. mlp_names:
    'layers' (a copy per layer, as InkubaLM stores it) or 'model.mlp'
    (one set, and the config.json written without auto_map)."""
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    for old in ("pytorch_model.bin", "model.safetensors"):
        if os.path.exists(os.path.join(d, old)):
            os.remove(os.path.join(d, old))
    src = llama_ref.Llama(cfg)
    randomize(src, gen)
    sd = src.hf_state_dict()
    g = src.g
    if g["shared"]:
        # Separate storages per layer, like InkubaLM's checkpoint.
        for k in list(sd):
            if ".mlp." in k:
                sd[k] = sd[k].clone()
        if differ:
            for i in range(g["L"] - 1):
                for n in ("gate_proj", "up_proj", "down_proj"):
                    k = "model.layers.%d.mlp.%s.weight" % (i, n)
                    sd[k] = torch.randn(sd[k].shape, generator=gen) * 0.1
        if mlp_names == "model.mlp":
            last = g["L"] - 1
            for n in ("gate_proj", "up_proj", "down_proj"):
                sd["model.mlp.%s.weight" % n] = \
                    sd["model.layers.%d.mlp.%s.weight" % (last, n)]
                for i in range(g["L"]):
                    del sd["model.layers.%d.mlp.%s.weight" % (i, n)]
    sd = collections.OrderedDict((k, v.to(dtype).contiguous())
                                 for k, v in sd.items())
    if fmt == "bin":
        torch.save(sd, os.path.join(d, "pytorch_model.bin"))
    else:
        llama_ref.save_safetensors(os.path.join(d, "model.safetensors"), sd)
    with open(os.path.join(d, "config.json"), "w") as fp:
        json.dump(write_cfg or cfg, fp, indent=2)
        fp.write("\n")
    # The reference: a fresh model loading exactly the stored values (f32).
    ref = llama_ref.Llama(cfg)
    f32 = {k: v.float() for k, v in sd.items()}
    if mlp_names == "model.mlp":
        for i in range(g["L"]):
            for n in ("gate_proj", "up_proj", "down_proj"):
                f32["model.layers.%d.mlp.%s.weight" % (i, n)] = \
                    f32["model.mlp.%s.weight" % n]
    ref.load_hf_state(f32)
    ref.eval()
    write_golden(d, ref, g["V"], g["L"], gen)
    return ref


def hf_sliding(model, ids, C, S, ref=None):
    """Hugging Face's perplexity guide (sliding window), with sum reduction:
    returns (nll_sum, scored, kl_sum, top1_hits)."""
    N = len(ids)
    prev_end, nll, cnt, kl, top = 0, 0.0, 0, 0.0, 0
    with torch.no_grad():
        for begin in range(0, N, S):
            end = min(begin + C, N)
            trg_len = end - prev_end
            x = ids[begin:end][None]
            target = x.clone()
            target[:, :-trg_len] = -100
            logits = model(x)[0].double()
            lg, tg = logits[:-1], target[0, 1:]
            nll += F.cross_entropy(lg, tg, ignore_index=-100,
                                   reduction="sum").item()
            mask = tg != -100
            cnt += int(mask.sum())
            if ref is not None:
                rl = ref(x)[0].double()[:-1][mask]
                ml = lg[mask]
                lp_r = F.log_softmax(rl, -1)
                lp_m = F.log_softmax(ml, -1)
                kl += (lp_r.exp() * (lp_r - lp_m)).sum().item()
                top += int((rl.argmax(-1) == ml.argmax(-1)).sum())
            prev_end = end
            if end == N:
                break
    return nll, cnt, kl, top


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20261127)
    os.makedirs(OUT, exist_ok=True)
    # 1. InkubaLM-like: shared MLP stored per layer, untied, PyTorch .bin.
    m1 = build("shared_untied",
               make_config(96, 32, 88, 3, 4, shared=True), "bin", gen)
    # 2. Shared MLP whose stored copies differ: the last one must win.
    m2 = build("shared_differ",
               make_config(96, 32, 64, 3, 2, shared=True, theta=500.0),
               "safetensors", gen, differ=True)
    # 3. Tied embeddings with grouped-query attention (4 heads, 2 kv).
    build("tied_gqa", make_config(128, 48, 128, 2, 4, kv=2, tied=True,
                                  theta=500000.0), "bin", gen)
    # 4. Odd sizes: d=72, 3 heads of 24, per-layer MLPs, eps 1e-6.
    build("odd72", make_config(80, 72, 64, 2, 3, eps=1e-6), "safetensors",
          gen)
    # 5. BF16 safetensors, shared and tied, one kv head, explicit head_dim.
    build("bf16_mqa", make_config(64, 40, 96, 2, 5, kv=1, hd=12, tied=True,
                                  shared=True), "safetensors", gen,
          dtype=torch.bfloat16)
    # 6. One shared set named model.mlp.*, config without auto_map: the
    #    loader must detect the shared MLP from the tensors.
    c6 = make_config(64, 32, 64, 2, 2, shared=True)
    c6w = dict(c6)
    del c6w["auto_map"]
    build("mlp_named", c6, "safetensors", gen, mlp_names="model.mlp",
          write_cfg=c6w)

    # 7. Long positions (RoPE angles up to 999 rad, head_dim 64): golden
    #    logits for the last 8 of 1000 tokens only (long.txt: "seq N ids",
    #    "from K"; long.f32: rows K..N-1).
    c7 = make_config(32, 64, 32, 1, 1, theta=10000.0)
    c7["max_position_embeddings"] = 1024
    m7 = build("long_rope", c7, "safetensors", gen)
    ids7 = torch.randint(0, 32, (1000,), generator=gen)
    ids7[0] = 1
    d7 = os.path.join(OUT, "long_rope")
    with torch.no_grad():
        lg7 = m7(ids7[None])[0][-8:]
    with open(os.path.join(d7, "long.txt"), "w") as fp:
        fp.write("seq %d %s\nfrom %d\n" % (
            len(ids7), " ".join(str(int(i)) for i in ids7), 1000 - 8))
    with open(os.path.join(d7, "long.f32"), "wb") as fp:
        fp.write(lg7.contiguous().numpy().astype("<f4").tobytes())

    # Sliding-window evaluation of model 1 (reference: model 2, same V).
    ids = torch.randint(0, 96, (40,), generator=gen)
    ids[0] = 1
    with open(os.path.join(OUT, "eval_golden.txt"), "w") as fp:
        fp.write("# model shared_untied, ref shared_differ; "
                 "C S nll_sum scored kl_sum top1_hits\n")
        fp.write("tokens %d %s\n" % (len(ids),
                                     " ".join(str(int(i)) for i in ids)))
        for C, S in ((16, 8), (16, 16), (40, 40), (64, 64), (12, 5)):
            nll, cnt, kl, top = hf_sliding(m1, ids, C, S, ref=m2)
            fp.write("window %d %d %.10f %d %.10f %d\n"
                     % (C, S, nll, cnt, kl, top))
    total = 0
    for root, _, files in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print("wrote %s (%d bytes)" % (OUT, total))


if __name__ == "__main__":
    main()
