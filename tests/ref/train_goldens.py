#!/usr/bin/python3
"""Golden files for the training engine (core/train, distill, adamw), made
with PyTorch autograd and torch.optim.AdamW on llama_ref.Llama.

Run once from the project root with Debian's python3 (torch 1.13):

    /usr/bin/python3 tests/ref/train_goldens.py

Writes tests/data/train/:

  grad_<name>/config.json, model.safetensors   a small random model
  grad_<name>/batch.txt      "B T" then B*T token ids
  grad_<name>/golden.safetensors
      logits (B*T, V)        the forward's output
      dlogits (B*T, V)       a fixed random d loss / d logits (the loss is
                             sum(logits * dlogits))
      grad.<param name>      d loss / d parameter, names as model_params
                             gives them (a shared MLP: model.mlp.*)
  distill.safetensors + distill.txt
      student, teacher (n, V) logits, targets in distill.txt ("-1" rows are
      not scored); for each case "case T w loss kl ce" and the tensor
      dlogits.<i> (d loss / d student)
  adamw/   model.safetensors + config.json (initial parameters),
           golden.safetensors: grad<k>.<name> for steps k = 1, 2 and the
           final <name>, <name>.exp_avg, <name>.exp_avg_sq after 2 steps;
           adamw.txt: lr betas eps weight_decay
  steps/   student/ and teacher/ models, steps.txt: the settings, the
           batches and, per step, the loss, kl, ce and gradient norm of a
           KD+CE run: forward, distill loss, backward, clip_grad_norm_,
           AdamW (norm weights without decay).

Loss of the distillation (core/distill.h): per scored row
w*T^2*KL(p_t || q_T) + (1-w)*CE, mean over rows with target >= 0.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402
from make_goldens import make_config, randomize  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                   "train")


def param_list(model):
    """(our name, parameter) in model_params' order."""
    g = model.g
    out = [("model.embed_tokens.weight", model.embed_tokens.weight)]
    for i, layer in enumerate(model.layers):
        p = "model.layers.%d." % i
        a = layer.self_attn
        out += [(p + "self_attn.q_proj.weight", a.q_proj.weight),
                (p + "self_attn.k_proj.weight", a.k_proj.weight),
                (p + "self_attn.v_proj.weight", a.v_proj.weight),
                (p + "self_attn.o_proj.weight", a.o_proj.weight),
                (p + "input_layernorm.weight", layer.input_layernorm.weight),
                (p + "post_attention_layernorm.weight",
                 layer.post_attention_layernorm.weight)]
        if not g["shared"]:
            out += [(p + "mlp.gate_proj.weight", layer.mlp.gate_proj.weight),
                    (p + "mlp.up_proj.weight", layer.mlp.up_proj.weight),
                    (p + "mlp.down_proj.weight", layer.mlp.down_proj.weight)]
    if g["shared"]:
        mlp = model.layers[0].mlp
        out += [("model.mlp.gate_proj.weight", mlp.gate_proj.weight),
                ("model.mlp.up_proj.weight", mlp.up_proj.weight),
                ("model.mlp.down_proj.weight", mlp.down_proj.weight)]
    out.append(("model.norm.weight", model.norm.weight))
    if not g["tied"]:
        out.append(("lm_head.weight", model.lm_head.weight))
    return out


def save_model(d, cfg, model):
    os.makedirs(d, exist_ok=True)
    llama_ref.save_safetensors(os.path.join(d, "model.safetensors"),
                               model.hf_state_dict())
    with open(os.path.join(d, "config.json"), "w") as fp:
        json.dump(cfg, fp, indent=2)
        fp.write("\n")


def new_model(cfg, gen, scale=1.0):
    m = llama_ref.Llama(cfg)
    randomize(m, gen)
    if scale != 1.0:
        with torch.no_grad():
            for n, p in m.named_parameters():
                if p.dim() == 2:
                    p.mul_(scale)
    return m


def tokens(gen, V, B, T):
    ids = torch.randint(0, V, (B, T), generator=gen)
    ids[:, 0] = 1
    ids[-1, 2] = ids[0, 1]  # a token repeated across sequences
    return ids


def write_batch(path, ids):
    B, T = ids.shape
    with open(path, "w") as fp:
        fp.write("%d %d\n" % (B, T))
        for row in ids.tolist():
            fp.write(" ".join(map(str, row)) + "\n")


def grad_case(name, cfg, B, T, gen):
    d = os.path.join(OUT, "grad_" + name)
    m = new_model(cfg, gen)
    save_model(d, cfg, m)
    ids = tokens(gen, m.g["V"], B, T)
    write_batch(os.path.join(d, "batch.txt"), ids)
    logits = m(ids)  # (B, T, V)
    dl = torch.randn(logits.shape, generator=gen)
    (logits * dl).sum().backward()
    V = m.g["V"]
    out = {"logits": logits.detach().reshape(B * T, V),
           "dlogits": dl.reshape(B * T, V)}
    for n, p in param_list(m):
        out["grad." + n] = p.grad.detach().clone()
    llama_ref.save_safetensors(os.path.join(d, "golden.safetensors"), out)


def distill_ref(s, t, y, T, w):
    """The distill.h loss in float64 autograd; returns loss, kl, ce, ds."""
    s = s.double().clone().requires_grad_(True)
    t = t.double()
    mask = y >= 0
    n = int(mask.sum())
    lq = F.log_softmax(s / T, -1)
    lp = F.log_softmax(t / T, -1)
    kl = (lp.exp() * (lp - lq)).sum(-1)[mask].sum() / n
    ce = -F.log_softmax(s, -1)[mask].gather(
        1, y[mask][:, None]).sum() / n
    loss = w * T * T * kl + (1 - w) * ce
    loss.backward()
    return loss.item(), kl.item(), ce.item(), s.grad.float()


def distill_case(gen):
    n, V = 7, 23
    s = torch.randn(n, V, generator=gen) * 3
    t = torch.randn(n, V, generator=gen) * 3
    y = torch.randint(0, V, (n,), generator=gen)
    y[2] = -1
    y[5] = -1
    out = {"student": s, "teacher": t}
    lines = ["targets %d %s" % (n, " ".join(map(str, y.tolist())))]
    k = 0
    for T in (1.0, 2.0):
        for w in (0.0, 0.5, 1.0):
            loss, kl, ce, ds = distill_ref(s, t, y, T, w)
            out["dlogits.%d" % k] = ds
            lines.append("case %g %g %.12g %.12g %.12g" % (T, w, loss, kl, ce))
            k += 1
    llama_ref.save_safetensors(os.path.join(OUT, "distill.safetensors"), out)
    with open(os.path.join(OUT, "distill.txt"), "w") as fp:
        fp.write("\n".join(lines) + "\n")


def groups(model, wd):
    decay, no = [], []
    for n, p in param_list(model):
        (no if p.dim() == 1 else decay).append(p)
    return [{"params": decay, "weight_decay": wd},
            {"params": no, "weight_decay": 0.0}]


def adamw_case(gen):
    d = os.path.join(OUT, "adamw")
    cfg = make_config(24, 16, 20, 2, 2, shared=True)
    m = new_model(cfg, gen)
    save_model(d, cfg, m)
    lr, b1, b2, eps, wd = 1e-2, 0.9, 0.95, 1e-8, 0.1
    opt = torch.optim.AdamW(groups(m, wd), lr=lr, betas=(b1, b2), eps=eps,
                            foreach=False)
    out = {}
    for k in (1, 2):
        for n, p in param_list(m):
            g = torch.randn(p.shape, generator=gen) * (0.1 if k == 1 else 2)
            p.grad = g
            out["grad%d.%s" % (k, n)] = g
        opt.step()
    for n, p in param_list(m):
        st = opt.state[p]
        out[n] = p.detach().clone()
        out[n + ".exp_avg"] = st["exp_avg"].clone()
        out[n + ".exp_avg_sq"] = st["exp_avg_sq"].clone()
    llama_ref.save_safetensors(os.path.join(d, "golden.safetensors"), out)
    with open(os.path.join(d, "adamw.txt"), "w") as fp:
        fp.write("%r %r %r %r %r\n" % (lr, b1, b2, eps, wd))


def distill_torch(s, t, y, T, w):
    """The same loss in float32 autograd (what a PyTorch heal loop does)."""
    mask = y >= 0
    n = mask.sum()
    lq = F.log_softmax(s / T, -1)
    lp = F.log_softmax(t / T, -1)
    kl = (lp.exp() * (lp - lq)).sum(-1)[mask].sum() / n
    ce = F.cross_entropy(s[mask], y[mask])
    return w * T * T * kl + (1 - w) * ce, kl, ce


def steps_case(gen):
    d = os.path.join(OUT, "steps")
    V = 64
    scfg = make_config(V, 32, 48, 2, 4, shared=True)
    tcfg = make_config(V, 48, 64, 2, 4, kv=2, tied=True)
    student = new_model(scfg, gen, scale=0.5)
    teacher = new_model(tcfg, gen)
    save_model(os.path.join(d, "student"), scfg, student)
    save_model(os.path.join(d, "teacher"), tcfg, teacher)
    teacher.eval()
    B, T, n_batches, n_steps = 2, 8, 4, 20
    batches = [tokens(gen, V, B, T) for _ in range(n_batches)]
    temp, w, clip = 2.0, 0.5, 0.9
    lr, b1, b2, eps, wd = 3e-3, 0.9, 0.95, 1e-8, 0.1
    opt = torch.optim.AdamW(groups(student, wd), lr=lr, betas=(b1, b2),
                            eps=eps, foreach=False)
    lines = ["settings %d %d %d %d %r %r %r %r %r %r %r %r" %
             (B, T, n_batches, n_steps, temp, w, clip, lr, b1, b2, eps, wd)]
    for ids in batches:
        lines.append("batch " + " ".join(map(str, ids.reshape(-1).tolist())))
    for k in range(n_steps):
        ids = batches[k % n_batches]
        y = torch.full((B, T), -1, dtype=torch.int64)
        y[:, :-1] = ids[:, 1:]
        y[1, 3] = -1  # an unscored row inside a sequence
        with torch.no_grad():
            tl = teacher(ids).reshape(B * T, V)
        sl = student(ids).reshape(B * T, V)
        opt.zero_grad()
        loss, kl, ce = distill_torch(sl, tl, y.reshape(-1), temp, w)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(student.parameters(), clip)
        opt.step()
        lines.append("step %d %.9g %.9g %.9g %.9g" %
                     (k, loss.item(), kl.item(), ce.item(), norm.item()))
    with open(os.path.join(d, "steps.txt"), "w") as fp:
        fp.write("\n".join(lines) + "\n")


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(20261204)
    os.makedirs(OUT, exist_ok=True)
    # shared MLP, untied (InkubaLM's layout)
    grad_case("shared_untied", make_config(64, 32, 48, 2, 4, shared=True),
              2, 7, gen)
    # per-layer MLPs, tied, GQA (4 heads on 2 kv heads)
    grad_case("tied_gqa", make_config(80, 48, 64, 2, 4, kv=2, tied=True),
              3, 5, gen)
    # odd sizes: d 72, 3 heads of 24, per layer, untied, eps 1e-6
    grad_case("odd72", make_config(50, 72, 40, 2, 3, eps=1e-6), 2, 6, gen)
    # shared and tied, one kv head, explicit head_dim 12, theta 500
    grad_case("mqa_shared_tied",
              make_config(40, 40, 56, 3, 5, kv=1, hd=12, tied=True,
                          shared=True, theta=500.0), 2, 9, gen)
    # eight heads of 6 (tiny-inkuba has 8 heads), B 4, T 12
    grad_case("heads8", make_config(64, 48, 64, 2, 8, shared=True), 4, 12,
              gen)
    distill_case(gen)
    adamw_case(gen)
    steps_case(gen)
    total = 0
    for root, _, files in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print("wrote %s (%d bytes)" % (OUT, total))


if __name__ == "__main__":
    main()
