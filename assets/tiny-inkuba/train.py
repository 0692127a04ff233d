"""Trains and exports punguza's shipped model, tiny-inkuba.

usage: /usr/bin/python3 train.py --work WORK --out OUT [--steps N] ...

WORK holds prepare_data.py's {train,valid}_{swh,hau}.txt and the tokenizer
tok.model from make_tokenizer.sh; OUT (assets/tiny-inkuba) receives
config.json, generation_config.json, tokenizer.model, tokenizer_config.json,
special_tokens_map.json, model.safetensors (bf16) and train_log.tsv;
--golden DIR writes the C forward's golden logits there.

The model is tests/ref/llama_ref.py's Llama: InkubaLM's architecture
(DESIGN §1.1) scaled down, one MLP shared by the 8 layers.

Data: every line is encoded as BOS + pieces + EOS; the lines (Swahili and
Hausa, in file order) are concatenated into one token stream.  A training
sequence is the CTX + 1 tokens of the stream that start at the BOS of a
random line (so position 0 always holds BOS, as in evaluation and
generation); it may run on into the following lines.  Loss = mean
next-token cross entropy over the CTX targets.  Validation: the validation
lines, each as BOS + pieces + EOS on its own (no packing), every target
scored; the exported weights are those of the evaluation with the lowest
validation loss (mean of the two languages).  The card's held-out text is
not read here.

Export: bf16 safetensors with InkubaLM's tensor names, except that the
shared MLP is stored once, under the last layer's names
(model.layers.{L-1}.mlp.*) — the copy InkubaLM's loader keeps — because
eight identical copies would not fit the 12 MB budget.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "ref"))
import llama_ref  # noqa: E402

import sentencepiece as spm  # noqa: E402


def make_config(vocab):
    """InkubaLM's config.json keys (../shared/data/inkubalm-0.4b), scaled."""
    return {
        "_name_or_path": "punguza/tiny-inkuba",
        "architectures": ["LlamaForCausalLM"],
        "auto_map": {
            "AutoModelForCausalLM": "vulavulaslm.VulavulaLlamaForCausalLM"
        },
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": 256,
        "initializer_range": 0.02,
        "intermediate_size": 704,
        "max_position_embeddings": 512,
        "model_type": "llama",
        "num_attention_heads": 8,
        "num_hidden_layers": 8,
        "num_key_value_heads": 8,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.40.1",
        "use_cache": True,
        "vocab_size": vocab,
    }


def design_param_count(c):
    """DESIGN §1.2: V*d*(2 - tied) + L*(4*d*d + 2*d) + 3*d*f + d."""
    V, d, f, L = (c["vocab_size"], c["hidden_size"], c["intermediate_size"],
                  c["num_hidden_layers"])
    return V * d * (2 - c["tie_word_embeddings"]) + L * (4 * d * d + 2 * d) \
        + 3 * d * f + d


def read_lines(path):
    with open(path, encoding="utf-8") as fp:
        return [ln for ln in fp.read().split("\n") if ln]


def encode_lines(sp, lines):
    return [[1] + sp.encode(ln) + [2] for ln in lines]


def dropout_layer_forward(p):
    """Layer.forward with dropout on both residual branches (training only;
    the architecture at inference is exactly llama_ref's)."""
    def forward(self, x, cos, sin):
        a = self.self_attn(self.input_layernorm(x), cos, sin)
        x = x + F.dropout(a, p, self.training)
        m = self.mlp(self.post_attention_layernorm(x))
        return x + F.dropout(m, p, self.training)
    return forward


def init_weights(model, cfg, gen):
    std = cfg["initializer_range"]
    L = cfg["num_hidden_layers"]
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                continue  # RMSNorm weights stay 1
            p.normal_(0.0, std, generator=gen)
            # GPT-2 style: shrink the residual output projections.
            if name.endswith("o_proj.weight") or \
                    name.endswith("down_proj.weight"):
                p.mul_(1.0 / math.sqrt(2 * L))


@torch.no_grad()
def eval_loss(model, seqs, ctx, batch=32):
    """Mean NLL per target token over lines encoded as BOS..EOS."""
    model.eval()
    seqs = [s[:ctx + 1] for s in seqs]
    seqs.sort(key=len)
    tot, n = 0.0, 0
    for i in range(0, len(seqs), batch):
        chunk = seqs[i:i + batch]
        T = max(len(s) for s in chunk)
        ids = torch.zeros(len(chunk), T, dtype=torch.long)
        tgt = torch.full((len(chunk), T - 1), -100, dtype=torch.long)
        for j, s in enumerate(chunk):
            ids[j, :len(s)] = torch.tensor(s)
            tgt[j, :len(s) - 1] = torch.tensor(s[1:])
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                               tgt.reshape(-1), ignore_index=-100,
                               reduction="sum")
        tot += loss.item()
        n += int((tgt != -100).sum())
    model.train()
    return tot / n


def lr_at(step, a, progress):
    """Linear warmup over a.warmup steps, then cosine decay to
    lr * min_lr_frac as progress (0..1, see main) goes to 1."""
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    w = a.warmup / max(1, a.steps)
    t = (progress - w) / max(1e-9, 1 - w)
    lo = a.lr * a.min_lr_frac
    return lo + 0.5 * (a.lr - lo) * (1 + math.cos(math.pi * min(1.0, t)))


def bf16_round(sd):
    return {k: v.to(torch.bfloat16) for k, v in sd.items()}


def export(model, cfg, sp_path, out, L):
    sd = bf16_round(model.hf_state_dict())
    for i in range(L - 1):  # shared MLP: keep only the last layer's names
        for n in ("gate_proj", "up_proj", "down_proj"):
            del sd[f"model.layers.{i}.mlp.{n}.weight"]
    llama_ref.save_safetensors(os.path.join(out, "model.safetensors"), sd)
    with open(os.path.join(out, "config.json"), "w") as fp:
        json.dump(cfg, fp, indent=2)
        fp.write("\n")
    with open(os.path.join(out, "generation_config.json"), "w") as fp:
        json.dump({"_from_model_config": True, "bos_token_id": 1,
                   "eos_token_id": 2, "transformers_version": "4.40.1"},
                  fp, indent=2)
        fp.write("\n")
    with open(sp_path, "rb") as src, \
            open(os.path.join(out, "tokenizer.model"), "wb") as dst:
        dst.write(src.read())
    tok = {"content": None, "lstrip": False, "normalized": False,
           "rstrip": False, "single_word": False}
    special = {}
    for key, s in (("bos_token", "<s>"), ("eos_token", "</s>"),
                   ("unk_token", "<unk>")):
        special[key] = dict(tok, content=s)
    with open(os.path.join(out, "special_tokens_map.json"), "w") as fp:
        json.dump(special, fp, indent=2)
        fp.write("\n")
    added = {str(i): dict(tok, content=s, special=True)
             for i, s in enumerate(("<unk>", "<s>", "</s>"))}
    tc = {
        "add_bos_token": True,
        "add_eos_token": False,
        "add_prefix_space": True,
        "added_tokens_decoder": added,
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "</s>",
        "legacy": True,
        "model_max_length": cfg["max_position_embeddings"],
        "pad_token": None,
        "sp_model_kwargs": {},
        "spaces_between_special_tokens": False,
        "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>",
        "use_default_system_prompt": False,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w") as fp:
        json.dump(tc, fp, indent=2, ensure_ascii=False)
        fp.write("\n")
    return sd


GOLDEN_PROMPTS = [
    ("swh", "Watu wote wamezaliwa huru"),
    ("hau", "Dukkan ’yan Adam an haife su"),
]


@torch.no_grad()
def write_golden(cfg, sd_bf16, sp, gdir):
    """f32 forward of the bf16-rounded weights, every position, for the
    two prompts (BOS first).  logits_golden.bin: the prompts' (T, V)
    float32 little-endian matrices one after the other;
    logits_golden.json: ids, shapes and byte offsets."""
    os.makedirs(gdir, exist_ok=True)
    m = llama_ref.Llama(cfg)
    full = {k: v.float() for k, v in sd_bf16.items()}
    L = cfg["num_hidden_layers"]
    for i in range(L - 1):
        for n in ("gate_proj", "up_proj", "down_proj"):
            k = f"model.layers.{i}.mlp.{n}.weight"
            full[k] = full[f"model.layers.{L - 1}.mlp.{n}.weight"]
    m.load_hf_state(full)
    m.eval()
    meta = {"model": "assets/tiny-inkuba", "dtype": "float32",
            "byte_order": "little", "layout": "row-major (T, V) per prompt",
            "prompts": []}
    off = 0
    blobs = []
    for lang, text in GOLDEN_PROMPTS:
        ids = [1] + sp.encode(text)
        logits = m(torch.tensor([ids]))[0].float().contiguous()
        raw = logits.numpy().astype("<f4").tobytes()
        meta["prompts"].append({
            "lang": lang, "text": text, "ids": ids,
            "shape": list(logits.shape), "offset": off,
            "argmax": logits.argmax(-1).tolist()})
        blobs.append(raw)
        off += len(raw)
    with open(os.path.join(gdir, "logits_golden.bin"), "wb") as fp:
        for b in blobs:
            fp.write(b)
    with open(os.path.join(gdir, "logits_golden.json"), "w") as fp:
        json.dump(meta, fp, indent=1, ensure_ascii=False)
        fp.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--golden", default=None)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--max-minutes", type=float, default=0,
                    help="time budget: the schedule's progress is "
                    "max(step/steps, elapsed/budget); training ends at 1")
    ap.add_argument("--replay", default=None,
                    help="schedule.tsv of an earlier run: replay its "
                    "per-step progress (exact rerun of a time-budgeted run)")
    ap.add_argument("--smoke-seconds", type=float, default=0,
                    help="train this long, print the step time, export nothing")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    sp_path = os.path.join(a.work, "tok.model")
    sp = spm.SentencePieceProcessor(model_file=sp_path)
    cfg = make_config(sp.get_piece_size())
    L = cfg["num_hidden_layers"]
    setattr(llama_ref.Layer, "forward", dropout_layer_forward(a.dropout))

    train = []
    for lang in ("swh", "hau"):
        train += encode_lines(sp, read_lines(
            os.path.join(a.work, f"train_{lang}.txt")))
    valid = {lang: encode_lines(sp, read_lines(
        os.path.join(a.work, f"valid_{lang}.txt"))) for lang in ("swh", "hau")}
    starts, stream = [], []
    for s in train:
        starts.append(len(stream))
        stream += s
    stream = torch.tensor(stream, dtype=torch.long)
    starts = torch.tensor([s for s in starts if s + a.ctx + 1 <= len(stream)])
    print(f"train tokens {len(stream)} in {len(train)} lines; "
          f"valid lines {sum(len(v) for v in valid.values())}", flush=True)

    model = llama_ref.Llama(cfg)
    init_weights(model, cfg, gen)
    n_unique = sum(p.numel() for p in model.parameters())
    assert n_unique == design_param_count(cfg), (n_unique, cfg)
    print(f"parameters {n_unique} (DESIGN §1.2 formula)", flush=True)

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)

    log = None
    if not a.smoke_seconds:
        log = open(os.path.join(a.out, "train_log.tsv"), "w")
        log.write("step\ttokens\tlr\ttrain_loss\tvalid_swh\tvalid_hau\t"
                  "elapsed_s\n")
    best, best_state, best_step = float("inf"), None, -1
    t0 = time.time()
    run_loss, run_n = 0.0, 0
    offs = torch.arange(a.ctx + 1)
    model.train()
    budget = a.max_minutes * 60

    replay = None
    if a.replay:
        with open(a.replay) as fp:
            replay = [float(ln.split("\t")[1]) for ln in fp.read().split("\n")[1:]
                      if ln]
    sched = []

    def progress(step):
        if replay is not None:
            return replay[step] if step < len(replay) else 1.0
        p = step / a.steps
        if budget:
            p = max(p, (time.time() - t0) / budget)
        return min(1.0, p)

    step = 0
    while True:
        prog = progress(step)
        done = prog >= 1.0
        sched.append(prog)
        if step % a.eval_every == 0 or done:
            if not a.smoke_seconds:
                vs = eval_loss(model, valid["swh"], a.ctx)
                vh = eval_loss(model, valid["hau"], a.ctx)
                tl = run_loss / run_n if run_n else float("nan")
                el = time.time() - t0
                log.write(f"{step}\t{step * a.batch * a.ctx}\t"
                          f"{lr_at(step, a, prog):.6g}\t{tl:.4f}\t{vs:.4f}\t"
                          f"{vh:.4f}\t{el:.0f}\n")
                log.flush()
                print(f"step {step} train {tl:.4f} valid swh {vs:.4f} "
                      f"hau {vh:.4f} ({el:.0f}s)", flush=True)
                run_loss, run_n = 0.0, 0
                if (vs + vh) / 2 < best:
                    best, best_step = (vs + vh) / 2, step
                    best_state = {k: v.detach().clone()
                                  for k, v in model.state_dict().items()}
        if done:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a, prog)
        pick = torch.randint(len(starts), (a.batch,), generator=gen)
        seq = stream[starts[pick][:, None] + offs[None, :]]
        logits = model(seq[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                               seq[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        run_loss += loss.item()
        run_n += 1
        step += 1
        if a.smoke_seconds and time.time() - t0 > a.smoke_seconds:
            dt = (time.time() - t0) / step
            ev = time.time()
            eval_loss(model, valid["swh"], a.ctx)
            eval_loss(model, valid["hau"], a.ctx)
            print(f"smoke: {step} steps, {dt:.3f} s/step, "
                  f"validation pass {time.time() - ev:.1f} s, "
                  f"last loss {loss.item():.3f}", flush=True)
            return
    log.close()
    if not a.replay:
        with open(os.path.join(a.out, "schedule.tsv"), "w") as fp:
            fp.write("step\tprogress\n")
            for i, pr in enumerate(sched):
                fp.write(f"{i}\t{pr!r}\n")
    a.steps_done = step
    print(f"best validation {best:.4f} at step {best_step} of {step}; "
          f"training took {time.time() - t0:.0f}s", flush=True)
    model.load_state_dict(best_state)
    model.eval()
    sd = export(model, cfg, sp_path, a.out, L)
    if a.golden:
        write_golden(cfg, sd, sp, a.golden)
    with open(os.path.join(a.out, "train_summary.json"), "w") as fp:
        json.dump({"best_step": best_step, "best_valid_loss": best,
                   "steps_done": step, "params": n_unique,
                   "train_seconds": round(time.time() - t0),
                   "args": vars(a)}, fp, indent=1)
        fp.write("\n")


if __name__ == "__main__":
    main()
