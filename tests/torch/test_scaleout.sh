#!/bin/sh
# The scale-out path (assets/torch/heal.py) against `punguza heal`: same
# data, same math, checkpoints that cross over both ways, and a 2-process
# torchrun (gloo, loopback) whose student punguza loads and that beats the
# cut on held-out text. Needs Debian's python3-torch (/usr/bin/python3);
# skipped with a message without it. Not part of `make check` (which needs
# no Python): run with `make check-torch`. About three minutes on 2 cores.
#
# Data: the shipped model is the teacher; the cut is `punguza prune
# assets/tiny-inkuba --width 0.5 --tie lm_head`; the training text is the
# first 3,000 lines of ../shared/data/corpus/swh_nt.txt that are not held
# out (every 20th line is: assets/tiny-inkuba/prepare_data.py), scored on
# assets/tiny-inkuba/heldout_swh.txt.
#
# Prints "N passed, N failed[, N skipped]"; exits 1 on a failure.
set -u
TEST_NAME=tests/torch/test_scaleout.sh
. tests/lib.sh
P=${PUNGUZA:-$BIN}
PY=${PUNGUZA_TORCH_PYTHON:-/usr/bin/python3}
HEAL=assets/torch/heal.py

# every check is listed on stdout as it is made
ok() { passed=$((passed + 1)); echo "ok    $*"; }
no() { failed=$((failed + 1)); echo "FAIL  $*"; }
skipped() { skipped=$((skipped + 1)); echo "skip  $*"; }

if ! [ -x "$PY" ] || ! "$PY" -c 'import torch' 2>/dev/null; then
	skipped "Debian's python3-torch is not installed ($PY cannot import" \
		"torch): apt-get install python3-torch"
	summary
	exit
fi
if ! [ -x "$P" ]; then
	no "no punguza binary at '$P' (make first)"
	summary
	exit
fi
if [ -x /usr/bin/torchrun ]; then
	TORCHRUN=/usr/bin/torchrun
else
	TORCHRUN="$PY -m torch.distributed.run"
fi
DATA=${PUNGUZA_SHARED_DATA:-../shared/data}
[ -d "$DATA/corpus" ] || DATA=../../shared/data
test_tmpdir scaleout
T=$TMP
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
RUN="$PY $HEAL --punguza $P --threads 1"

# max relative difference of columns 4-6 (loss, kl, ce) of two heal logs,
# steps present in both; prints it and exits 1 above the bound
cmp_logs() {
	"$PY" - "$1" "$2" "$3" <<'EOF'
import sys
def rows(p):
    out = {}
    for ln in open(p).read().splitlines()[1:]:
        f = ln.split("\t")
        if f[0].isdigit() and f[3]:
            out[int(f[0])] = [float(x) for x in f[3:6]]
    return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
steps = sorted(set(a) & set(b))
worst = max(abs(x - y) / max(abs(y), 1e-12)
            for s in steps for x, y in zip(a[s], b[s]))
print(f"{len(steps)} steps, max relative difference {worst:.2e}")
sys.exit(0 if steps and worst <= float(sys.argv[3]) else 1)
EOF
}

# --- set-up
if [ -f "$DATA/corpus/swh_nt.txt" ]; then
	awk 'NR % 20 != 0 && NF' "$DATA/corpus/swh_nt.txt" | head -n 3000 \
		>"$T/train.txt"
	have_bible=1
else
	cp assets/corpus/udhr_swh.txt "$T/train.txt"
	have_bible=0
fi
if ! "$P" prune assets/tiny-inkuba --width 0.5 --tie lm_head -o "$T/cut" \
	>"$T/prune.log" 2>&1; then
	no "punguza prune (see $T/prune.log)"
	cat "$T/prune.log"
	summary
	exit
fi
SET="--steps 10 --batch 4 --ctx 64 --seed 7"

# --- 1. the plan: the token file is the stream heal.py makes with
# `punguza tokenize` (the same ids punguza heal trains on)
if "$P" heal "$T/cut" --teacher assets/tiny-inkuba --corpus "$T/train.txt" \
	$SET -o "$T/t10" --plan-torch "$T/plan" --nproc 1 \
	>"$T/plan.cmd" 2>"$T/plan.log" &&
	$RUN --student "$T/cut" --corpus "$T/train.txt" -o "$T/unused" \
		--write-ids "$T/py.ids" 2>>"$T/plan.log" &&
	"$PY" - "$T/plan/train.ids" "$T/py.ids" <<EOF
import sys
sys.path.insert(0, "assets/torch")
import heal
a, ma = heal.st_read(sys.argv[1])
b, mb = heal.st_read(sys.argv[2])
assert ma["format"] == "punguza-ids" and ma["vocab_size"] == "4000", ma
import json
assert json.loads(ma["sources"]) == json.loads(mb["sources"]), (ma, mb)
assert a["tokens"].equal(b["tokens"]), "token streams differ"
print(f"{a['tokens'].numel()} tokens")
EOF
then
	ok "heal --plan-torch: train.ids = heal.py's stream via punguza tokenize"
else
	no "heal --plan-torch (see $T/plan.log)"
	cat "$T/plan.log"
fi
grep -q -- "--ids $T/plan/train.ids" "$T/plan.cmd" &&
	grep -q -- "--steps 10 --batch 4 --ctx 64" "$T/plan.cmd" &&
	[ -x "$T/plan/torchrun.sh" ] &&
	ok "the printed command names the ids file and the settings" ||
	no "the printed command: $(cat "$T/plan.cmd")"

# --- 2. same math: 10 steps of punguza heal and of heal.py (one process,
# the plan's ids, the plan's settings) give the same losses
"$P" heal "$T/cut" --teacher assets/tiny-inkuba --corpus "$T/train.txt" \
	$SET --threads 1 -o "$T/c10" >"$T/c10.log" 2>&1 ||
	no "punguza heal 10 steps (see $T/c10.log)"
$RUN --teacher assets/tiny-inkuba --student "$T/cut" --ids "$T/plan/train.ids" \
	$SET -o "$T/t10" >"$T/t10.out" 2>"$T/t10.log" ||
	no "heal.py 10 steps: $(tail -3 "$T/t10.log")"
if r=$(cmp_logs "$T/t10/heal_log.tsv" "$T/c10/heal_log.tsv" 1e-4); then
	ok "heal.py = punguza heal, loss/kl/ce: $r (bound 1e-4)"
else
	no "heal.py vs punguza heal: $r"
fi
# the same through --corpus (heal.py runs punguza tokenize itself)
$RUN --teacher assets/tiny-inkuba --student "$T/cut" --corpus "$T/train.txt" \
	$SET --stop-at 3 -o "$T/t3" >/dev/null 2>"$T/t3.log"
if r=$(cmp_logs "$T/t3/heal_log.tsv" "$T/c10/heal_log.tsv" 1e-4); then
	ok "heal.py --corpus = punguza heal: $r"
else
	no "heal.py --corpus vs punguza heal: $r $(tail -2 "$T/t3.log")"
fi

# the other geometry: per-layer MLP (no vulavula auto_map), GQA (4 of 8
# key/value heads), untied; heal.py stops at 3 and resumes its checkpoint
"$PY" - "$T/pl" <<'EOF' >"$T/pl.log" 2>&1
import json, os, shutil, sys
sys.path.insert(0, "assets/torch")
import heal, torch
src, dst = "assets/tiny-inkuba", sys.argv[1]
os.makedirs(dst)
for f in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json",
          "special_tokens_map.json"):
    shutil.copy(os.path.join(src, f), dst)
cfg = json.load(open(os.path.join(src, "config.json")))
m, _ = heal.load_model(src)
hd, kv = cfg["hidden_size"] // cfg["num_attention_heads"], 4
g = torch.Generator().manual_seed(0)
out = {}
for k, v in m.hf_state_dict().items():
    v = v.float().clone()
    if "k_proj" in k or "v_proj" in k:
        v = v[:kv * hd].clone()
    if ".mlp." in k:
        v = v + 0.01 * torch.randn(v.shape, generator=g)
    out[k] = v
del cfg["auto_map"]
cfg.update(num_key_value_heads=kv, torch_dtype="float32")
json.dump(cfg, open(os.path.join(dst, "config.json"), "w"), indent=1)
heal.st_write(os.path.join(dst, "model.safetensors"), out)
EOF
PL="--steps 6 --batch 4 --ctx 64"
"$P" heal "$T/pl" --teacher assets/tiny-inkuba --corpus "$T/train.txt" $PL \
	--threads 1 -o "$T/plc" >>"$T/pl.log" 2>&1 &&
	$RUN --teacher assets/tiny-inkuba --student "$T/pl" --corpus "$T/train.txt" \
		$PL --stop-at 3 -o "$T/plt" >/dev/null 2>>"$T/pl.log" &&
	$RUN --teacher assets/tiny-inkuba --corpus "$T/train.txt" --resume \
		-o "$T/plt" >/dev/null 2>>"$T/pl.log" &&
	r=$(cmp_logs "$T/plt/heal_log.tsv" "$T/plc/heal_log.tsv" 1e-4) &&
	ok "per-layer MLP + GQA + untied, heal.py stop/resume = punguza heal: $r" ||
	no "per-layer MLP + GQA: ${r:-} $(tail -3 "$T/pl.log")"

# --- 3. DDP: 2 processes (gloo, loopback) read the same rows and give
# the same losses as one
# --redirects 1 --tee 1: torchrun 1.13's default crashes under Python 3.11
$TORCHRUN --standalone --nproc_per_node 2 --redirects 1 --tee 1 $HEAL \
	--punguza "$P" --threads 1 --teacher assets/tiny-inkuba --student "$T/cut" \
	--ids "$T/plan/train.ids" $SET -o "$T/d10" >"$T/d10.log" 2>&1 ||
	no "torchrun 2 processes, 10 steps: $(tail -5 "$T/d10.log")"
if r=$(cmp_logs "$T/d10/heal_log.tsv" "$T/c10/heal_log.tsv" 1e-4); then
	ok "torchrun x2 = punguza heal: $r"
else
	no "torchrun x2 vs punguza heal: $r"
fi

# a preempted torchrun (SIGTERM to the launcher): the ranks finish the
# step, rank 0 writes a checkpoint, and heal.py --resume finishes it
$TORCHRUN --standalone --nproc_per_node 2 --redirects 1 --tee 1 $HEAL \
	--punguza "$P" --threads 1 --teacher assets/tiny-inkuba --student "$T/cut" \
	--corpus "$T/train.txt" $SET -o "$T/pre" >"$T/pre.log" 2>&1 &
pid=$!
n=0
while [ "$(grep -c '^\[default0\]:[0-9]' "$T/pre.log" 2>/dev/null)" -lt 3 ] &&
	kill -0 "$pid" 2>/dev/null && [ "$n" -lt 3000 ]; do
	sleep 0.05
	n=$((n + 1))
done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
if grep -q '"done": false' "$T/pre/heal_state.json" 2>/dev/null; then
	at=$(sed -n 's/.*"step": \([0-9]*\).*/\1/p' "$T/pre/heal_state.json" | head -n 1)
	$RUN --teacher assets/tiny-inkuba --corpus "$T/train.txt" --resume \
		-o "$T/pre" >/dev/null 2>>"$T/pre.log" &&
		r=$(cmp_logs "$T/pre/heal_log.tsv" "$T/c10/heal_log.tsv" 1e-4) &&
		ok "torchrun x2 stopped by SIGTERM at step $at, resumed: $r" ||
		no "torchrun SIGTERM checkpoint -> heal.py --resume: ${r:-}" \
			"$(tail -3 "$T/pre.log")"
else
	skipped "torchrun finished before SIGTERM reached it"
fi

# --- 4. checkpoints cross over: heal.py stops at step 4, punguza heal
# --resume finishes; punguza heal is stopped (SIGINT), heal.py --resume
# finishes; both equal the uninterrupted run
$RUN --teacher assets/tiny-inkuba --student "$T/cut" --corpus "$T/train.txt" \
	$SET --stop-at 4 -o "$T/x1" >/dev/null 2>"$T/x1.log" &&
	"$P" heal "$T/cut" --teacher assets/tiny-inkuba --corpus "$T/train.txt" \
		--threads 1 -o "$T/x1" --resume >/dev/null 2>>"$T/x1.log" &&
	r=$(cmp_logs "$T/x1/heal_log.tsv" "$T/c10/heal_log.tsv" 1e-4) &&
	grep -q '"done": true' "$T/x1/heal_state.json" &&
	ok "heal.py checkpoint at 4 -> punguza heal --resume: $r" ||
	no "heal.py checkpoint -> punguza heal --resume: ${r:-} $(tail -3 "$T/x1.log")"
"$P" heal "$T/cut" --teacher assets/tiny-inkuba --corpus "$T/train.txt" \
	$SET --threads 1 -o "$T/x2" >"$T/x2.log" 2>&1 &
pid=$!
n=0
while [ "$(cat "$T/x2/heal_log.tsv" 2>/dev/null | grep -c .)" -lt 4 ] &&
	kill -0 "$pid" 2>/dev/null && [ "$n" -lt 600 ]; do
	sleep 0.05
	n=$((n + 1))
done
kill -INT "$pid" 2>/dev/null
wait "$pid"
if grep -q '"done": false' "$T/x2/heal_state.json" 2>/dev/null; then
	at=$(sed -n 's/.*"step": \([0-9]*\).*/\1/p' "$T/x2/heal_state.json" | head -n 1)
	$RUN --teacher assets/tiny-inkuba --corpus "$T/train.txt" --resume \
		-o "$T/x2" >/dev/null 2>>"$T/x2.log" &&
		r=$(cmp_logs "$T/x2/heal_log.tsv" "$T/c10/heal_log.tsv" 1e-4) &&
		ok "punguza heal checkpoint at $at (optimizer.safetensors) ->" \
			"heal.py --resume: $r" ||
		no "punguza heal checkpoint -> heal.py --resume: ${r:-}" \
			"$(tail -3 "$T/x2.log")"
else
	skipped "punguza heal finished before it could be interrupted"
fi

# --- 5. a longer 2-process heal: punguza loads the student, and it beats
# the cut on held-out text
HELD=assets/tiny-inkuba/heldout_swh.txt
LONG="--steps 30 --batch 8 --ctx 128 --lr 2e-3 --seed 1"
if [ "$have_bible" = 0 ]; then
	skipped "no $DATA/corpus/swh_nt.txt: the held-out comparison needs" \
		"the Bible text"
elif $TORCHRUN --standalone --nproc_per_node 2 --redirects 1 --tee 1 $HEAL \
	--punguza "$P" --threads 1 --teacher assets/tiny-inkuba \
	--student "$T/cut" --corpus "$T/train.txt" $LONG --dtype bf16 \
	-o "$T/healed" >"$T/long.log" 2>&1; then
	tps=$(sed -n 's/.*tokens in .* s (\([0-9,]*\) tokens\/s.*/\1/p' "$T/long.log")
	"$P" info "$T/healed" >"$T/info.log" 2>&1 &&
		ok "punguza info reads the torchrun result (bf16, $tps tokens/s over 2 processes)" ||
		no "punguza info: $(tail -3 "$T/info.log")"
	"$PY" - "$T/healed" <<'EOF' && ok "the result is a transformers-style directory: per-layer MLP, no lm_head (tied), torch_dtype" || no "the result's files"
import json, sys
sys.path.insert(0, "assets/torch")
import heal
d = sys.argv[1]
t, _ = heal.st_read(d + "/model.safetensors")
c = json.load(open(d + "/config.json"))
assert c["torch_dtype"] == "bfloat16" and c["tie_word_embeddings"], c
assert "lm_head.weight" not in t
for i in range(c["num_hidden_layers"]):
    for n in ("gate_proj", "up_proj", "down_proj"):
        w = t[f"model.layers.{i}.mlp.{n}.weight"]
        assert w.equal(t[f"model.layers.0.mlp.{n}.weight"]), (i, n)
assert all(v.dtype == heal.torch.bfloat16 for v in t.values())
EOF
	before=$("$P" eval "$T/cut" --text "$HELD" --lines --json 2>/dev/null |
		sed -n 's/.*"bits_per_byte":\([0-9.]*\).*/\1/p')
	after=$("$P" eval "$T/healed" --text "$HELD" --lines --json 2>/dev/null |
		sed -n 's/.*"bits_per_byte":\([0-9.]*\).*/\1/p')
	if [ -n "$before" ] && [ -n "$after" ] &&
		awk -v a="$after" -v b="$before" 'BEGIN { exit !(a < b) }'; then
		ok "held-out bits per byte (punguza eval --lines): cut $before ->" \
			"healed $after"
	else
		no "held-out bits per byte: cut '$before', healed '$after'"
	fi
else
	no "torchrun x2, 30 steps: $(tail -5 "$T/long.log")"
fi
summary
