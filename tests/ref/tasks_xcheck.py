"""Cross-check of `punguza tasks` against PyTorch (llama_ref) + sentencepiece.

usage: /usr/bin/python3 tests/ref/tasks_xcheck.py MODEL_DIR N OUT.csv [DATA]
  MODEL_DIR  config.json + model.safetensors (F32/BF16/F16) +
             tokenizer.model
  N          rows per task x language (the first N, as `tasks --limit N`)
  DATA       default ../shared/data/competition/test_with_targets.csv
Writes the submission the documented rules give (tasks.h: label likelihood
as the mean log-prob of the tokens after the prompt/label common prefix;
greedy translation to EOS, a newline or 100 tokens), recomputing every
logit with a full forward pass (no KV cache); prints the label scores.
Compare: punguza tasks MODEL_DIR --data DATA --limit N -o c.csv; diff.
Prompts must fit the context (no truncation here). Run once by hand; not
part of `make check`.
"""
import sys, json, struct, csv, math
import numpy as np, torch, sentencepiece as spm
import os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_ref import Llama
d = sys.argv[1]
cfg = json.load(open(d + '/config.json'))
raw = open(d + '/model.safetensors', 'rb').read()
hl = struct.unpack('<Q', raw[:8])[0]
hdr = json.loads(raw[8:8 + hl])
sd = {}
for k, v in hdr.items():
    if k == '__metadata__': continue
    a, b = v['data_offsets']
    buf = raw[8 + hl + a:8 + hl + b]
    if v['dtype'] == 'BF16':
        x = (np.frombuffer(buf, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
    elif v['dtype'] == 'F16':
        x = np.frombuffer(buf, dtype=np.float16).astype(np.float32)
    else:
        x = np.frombuffer(buf, dtype=np.float32)
    sd[k] = torch.from_numpy(x.reshape(v['shape']).copy())
# A shared MLP stored once (model.mlp.* or one layer's copy): every layer
# reads it.
L = cfg['num_hidden_layers']
for n in ('gate_proj', 'up_proj', 'down_proj'):
    src = [k for k in [f'model.layers.{i}.mlp.{n}.weight' for i in range(L)]
           + [f'model.mlp.{n}.weight'] if k in sd]
    for i in range(L):
        k = f'model.layers.{i}.mlp.{n}.weight'
        if k not in sd and src:
            sd[k] = sd[src[-1]]
m = Llama(cfg); m.load_hf_state(sd); m.eval()
sp = spm.SentencePieceProcessor(model_file=d + '/tokenizer.model')
TPL = ("Below is an instruction that describes a task, paired with an input that provides further context. "
       "Write a response that appropriately completes the request.\n\n ### Instruction: {}\n{}\n\n ### Response: ")
LAB = {('sentiment', 'hau'): ['Kyakkyawa', 'Tsaka-tsaki', 'Korau'], ('sentiment', 'swa'): ['Chanya', 'Wastani', 'Hasi'],
       ('xnli', 'hau'): ['True', 'Neither', 'False'], ('xnli', 'swa'): ['True', 'Neither', 'False']}
data = sys.argv[4] if len(sys.argv) > 4 else '../shared/data/competition/test_with_targets.csv'
rows = list(csv.DictReader(open(data, newline='')))
cnt = {}; out = []
lim = int(sys.argv[2])
for r in rows:
    k = (r['task'], r['lang']); cnt[k] = cnt.get(k, 0) + 1
    if cnt[k] > lim: continue
    p = TPL.format(r['instruction'], r['input'])
    pid = [1] + sp.encode(p)
    with torch.no_grad():
        if r['task'] != 'mt':
            full = [[1] + sp.encode(p + l) for l in LAB[k]]
            P = len(pid)
            for f in full:
                j = 0
                while j < P and j < len(f) and f[j] == pid[j]: j += 1
                P = min(j, len(f) - 1)
            sc = []
            for f in full:
                lg = torch.log_softmax(m(torch.tensor([f]))[0].double(), -1)
                sc.append(sum(lg[j - 1, f[j]].item() for j in range(P, len(f))) / (len(f) - P))
            best = max(range(3), key=lambda c: (sc[c], -c))
            out.append((r['ID'], str(best), sc))
        else:
            ids = list(pid); gen = []
            for s in range(100):
                t = int(torch.argmax(m(torch.tensor([ids]))[0, -1]))
                if t == 2: break
                gen.append(t); ids.append(t)
                if t == sp.piece_to_id('<0x0A>'): break
            txt = sp.decode(gen).split('\n')[0].strip()
            out.append((r['ID'], txt, None))
w = csv.writer(open(sys.argv[3], 'w', newline=''), lineterminator='\n')
w.writerow(['ID', 'Response'])
for i, resp, sc in out:
    w.writerow([i, resp])
    if sc: print(i, resp, ['%.5f' % x for x in sc])
