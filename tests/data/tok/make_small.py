#!/usr/bin/python3
# Makes the small hand-made tokenizer.json files of tests/test_tokenizer.c
# (run once from tests/data/tok; the goldens come from tests/ref/tok_goldens.js).
import json, collections

def train(text, n_merges, base):
    words = collections.Counter(text.split())
    seqs = {w: list(w) for w in words}
    vocab = list(base)
    for ch in sorted(set(text) - set(" ")):
        if ch not in vocab:
            vocab.append(ch)
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, s in seqs.items():
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += words[w]
        if not pairs:
            break
        (a, b), c = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if c < 2:
            break
        merges.append((a, b))
        if a + b not in vocab:
            vocab.append(a + b)
        for w, s in seqs.items():
            i, out = 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b); i += 2
                else:
                    out.append(s[i]); i += 1
            seqs[w] = out
    return vocab, merges

CORPUS = ("the quick brown fox jumps over the lazy dog " * 3 +
          "kuku kwa kuku na kwa kaka hello there the then these those " * 2 +
          "aaaa bbbb abab abab spaces tabs here at start end in text sep " +
          "fine full ecole unicode specials")
SPECIALS = ["<unk>", "<s>", "</s>"]
BYTES = ["<0x%02X>" % i for i in range(256)]

def tok(name, model, normalizer, pre, post, decoder, added):
    t = {"version": "1.0", "truncation": None, "padding": None,
         "added_tokens": added, "normalizer": normalizer,
         "pre_tokenizer": pre, "post_processor": post, "decoder": decoder,
         "model": model}
    with open(name, "w", encoding="utf-8") as f:
        json.dump(t, f, ensure_ascii=False, indent=1)

def added_tok(i, content, special=True, lstrip=False, rstrip=False,
              normalized=False, single_word=False):
    return {"id": i, "content": content, "single_word": single_word,
            "lstrip": lstrip, "rstrip": rstrip, "normalized": normalized,
            "special": special}

def template(first, last=None):
    single = [{"SpecialToken": {"id": first, "type_id": 0}},
              {"Sequence": {"id": "A", "type_id": 0}}]
    st = {first: {"id": first, "ids": [1], "tokens": [first]}}
    if last:
        single.append({"SpecialToken": {"id": last, "type_id": 0}})
        st[last] = {"id": last, "ids": [2], "tokens": [last]}
    return {"type": "TemplateProcessing", "single": single, "pair": single,
            "special_tokens": st}

llama_dec = {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}

# 1. Llama-like: pairs-form merges, byte fallback, added tokens lstrip/rstrip.
sp_corpus = "\u2581" + CORPUS.replace(" ", " \u2581")
v, m = train(sp_corpus, 120, SPECIALS + BYTES)
# a second merge producing an existing piece, as InkubaLM has ("▁k u", "▁ ku")
if "\u2581ku" in v and "ku" in v:
    m.append(("\u2581", "ku")) if ("\u2581", "ku") not in m else None
else:
    v += ["ku", "\u2581ku"]; m += [("k", "u"), ("\u2581k", "u"), ("\u2581", "ku")]
for extra in ["\u2581", "<", ">", "m", "a", "s", "k"]:
    if extra not in v: v.append(extra)
v = list(dict.fromkeys(v))
vocab = {p: i for i, p in enumerate(v)}
mask_id = len(vocab)
tok("small_llama_pairs.json",
    {"type": "BPE", "dropout": None, "unk_token": "<unk>",
     "continuing_subword_prefix": None, "end_of_word_suffix": None,
     "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
     "vocab": vocab, "merges": [[a, b] for a, b in m]},
    {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    None, template("<s>", "</s>"), llama_dec,
    [added_tok(0, "<unk>"), added_tok(1, "<s>"), added_tok(2, "</s>"),
     added_tok(mask_id, "<mask>", special=False, lstrip=True, rstrip=True)])

# 2. NFKC + Lowercase, Metaspace pre-tokenizer (always, split), strings merges,
#    no byte fallback, unk not fused, a normalized single-word added token.
v, m = train(CORPUS.lower(), 80, ["<unk>", "<s>", "</s>", "\u2581"])
v2 = list(v)
words = set()
for w in CORPUS.lower().split():
    words.add("\u2581" + w)
# merge '▁' with word starts
extra = []
for ch in sorted(set(CORPUS.lower()) - {" "}):
    p = "\u2581" + ch
    if p not in v2:
        v2.append(p); extra.append(("\u2581", ch))
vocab = {p: i for i, p in enumerate(v2)}
tok("small_nfkc_metaspace.json",
    {"type": "BPE", "dropout": None, "unk_token": "<unk>",
     "continuing_subword_prefix": None, "end_of_word_suffix": None,
     "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
     "vocab": vocab, "merges": ["%s %s" % (a, b) for a, b in extra + m]},
    {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]},
    {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
     "split": True},
    template("<s>"),
    {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
     "split": True},
    [added_tok(0, "<unk>"), added_tok(1, "<s>"), added_tok(2, "</s>"),
     added_tok(len(vocab), "hello", special=False, normalized=True,
               single_word=True)])

# 3. Metaspace prepend_scheme first, split false, NFD + Strip, fuse_unk,
#    ignore_merges, no post-processor, decoder Sequence[Metaspace].
v, m = train(sp_corpus, 60, ["<unk>", "<s>", "</s>", "<sep>"])
for w in ["\u2581the", "\u2581hello"]:
    if w not in v: v.append(w)
vocab = {p: i for i, p in enumerate(v)}
tok("small_first_ignore.json",
    {"type": "BPE", "dropout": None, "unk_token": "<unk>",
     "continuing_subword_prefix": None, "end_of_word_suffix": None,
     "fuse_unk": True, "byte_fallback": False, "ignore_merges": True,
     "vocab": vocab, "merges": ["%s %s" % (a, b) for a, b in m]},
    {"type": "Sequence", "normalizers": [
        {"type": "Strip", "strip_left": True, "strip_right": True},
        {"type": "NFD"}]},
    {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
     "split": False},
    None,
    {"type": "Sequence", "decoders": [
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
         "split": False}]},
    [added_tok(0, "<unk>"), added_tok(1, "<s>"), added_tok(2, "</s>"),
     added_tok(3, "<sep>")])

# 4. WhitespaceSplit, NFC, no decoder (HF joins tokens with ' ').
v, m = train(CORPUS, 50, ["<unk>"])
vocab = {p: i for i, p in enumerate(v)}
tok("small_wsplit.json",
    {"type": "BPE", "dropout": None, "unk_token": "<unk>",
     "continuing_subword_prefix": None, "end_of_word_suffix": None,
     "fuse_unk": False, "byte_fallback": False,
     "vocab": vocab, "merges": ["%s %s" % (a, b) for a, b in m]},
    {"type": "NFC"}, {"type": "WhitespaceSplit"}, None, None,
    [added_tok(0, "<unk>")])

# 5./6. Split on a String pattern: MergedWithNext and Contiguous.
for name, beh in [("small_split_next.json", "MergedWithNext"),
                  ("small_split_contig.json", "Contiguous")]:
    tok(name,
        {"type": "BPE", "dropout": None, "unk_token": "<unk>",
         "continuing_subword_prefix": None, "end_of_word_suffix": None,
         "fuse_unk": True, "byte_fallback": False,
         "vocab": dict(vocab, **{" ": len(vocab)}),
         "merges": ["%s %s" % (a, b) for a, b in m]},
        None,
        {"type": "Split", "pattern": {"String": " "}, "behavior": beh,
         "invert": False},
        None, None, [added_tok(0, "<unk>")])

# Error cases.
base = json.load(open("small_wsplit.json", encoding="utf-8"))
def bad(name, mutate):
    t = json.loads(json.dumps(base)); mutate(t)
    with open(name, "w", encoding="utf-8") as f:
        json.dump(t, f, ensure_ascii=False)
bad("bad_normalizer.json", lambda t: t.__setitem__("normalizer",
    {"type": "BertNormalizer", "clean_text": True}))
bad("bad_regex.json", lambda t: t.__setitem__("normalizer",
    {"type": "Replace", "pattern": {"Regex": " +"}, "content": " "}))
bad("bad_model.json", lambda t: t["model"].__setitem__("type", "WordPiece"))
bad("bad_pretok.json", lambda t: t.__setitem__("pre_tokenizer",
    {"type": "ByteLevel", "add_prefix_space": False}))
bad("bad_prefix.json", lambda t: t["model"].__setitem__(
    "continuing_subword_prefix", "##"))
bad("bad_merge_missing.json", lambda t: t["model"]["merges"].append("q zz"))
bad("bad_merge_result.json", lambda t: t["model"]["merges"].append("x y"))
bad("bad_dropout.json", lambda t: t["model"].__setitem__("dropout", 0.1))
with open("small_wsplit.json", encoding="utf-8") as f:
    s = f.read()
with open("bad_truncated.json", "w", encoding="utf-8") as f:
    f.write(s[: len(s) // 2])
with open("bad_malformed.json", "w", encoding="utf-8") as f:
    f.write(s.replace('"merges"', '"merges" "oops"', 1))
