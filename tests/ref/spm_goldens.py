#!/usr/bin/python3
# Produces the SentencePiece golden files of tests/test_spm.c, once, with
# Debian's SentencePiece (spm_train / spm_encode 0.1.97 and its Python
# binding).  Run from the project root:
#
#     /usr/bin/python3 tests/ref/spm_hard_cases.py   # hard_cases.txt
#     /usr/bin/python3 tests/ref/spm_goldens.py [--train]
#
#     # the writer's check: tests/test_spm writes a 2,000-piece subset of
#     # the InkubaLM model; SentencePiece must load it, and its ids on the
#     # hard cases become the golden the C test compares its own with.
#     SPM_WRITE_SUBSET=/tmp/subset.model build/tests/test_spm
#     /usr/bin/python3 tests/ref/spm_goldens.py --subset /tmp/subset.model
#
# --train (or a missing .model) retrains the two small models (Unigram with
# the default nmt_nfkc normalization; BPE with byte_fallback, split_digits
# and the identity normalization, to keep it small) on a fixed
# slice of ../shared/data/corpus (single thread; the files still differ
# from run to run, trainer_spec.input names a temporary file), plus a tiny
# Unigram "rules.model" with a custom rule table and a user-defined piece;
# their goldens are always regenerated.
#
# Golden format (tests/data/spm/golden/*.ids, binary, compact): for every
# input line (split on '\n' only, the '\n' not part of the text), a varint
# count n followed by n varint ids (LEB128, unsigned).  The ids are those of
# `spm_encode --model=M --output_format=id` for that line, and every line is
# cross-checked against the Python binding's encode() on the same bytes.
# For the hard cases, *.decoded holds the binding's decode() of those ids,
# one line per input line.
import os
import subprocess
import sys
import tempfile

import sentencepiece as spm

SHARED = "../shared/data"
OUT = "tests/data/spm"
GOLD = OUT + "/golden"
INKUBA = SHARED + "/inkubalm-8064/tokenizer.model"

CORPUS = sorted(
    [SHARED + "/corpus/" + f for f in os.listdir(SHARED + "/corpus")
     if f.endswith(".txt")]
    + [SHARED + "/corpus/aligned/" + f
       for f in os.listdir(SHARED + "/corpus/aligned")]
    + [SHARED + "/corpus/udhr/" + f
       for f in os.listdir(SHARED + "/corpus/udhr")])
HARD = OUT + "/hard_cases.txt"
# The sample the small models are checked on: 500 lines per language.
SAMPLE = [SHARED + "/corpus/aligned/%s_aligned.txt" % l
          for l in ("eng", "hau", "swh")]
SAMPLE_LINES = 500


def lines_of(path, limit=None):
    data = open(path, "rb").read()
    ls = data.split(b"\n")
    if ls and ls[-1] == b"":
        ls.pop()
    return ls if limit is None else ls[:limit]


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def golden(model, src, limit, dst):
    ls = lines_of(src, limit)
    text = b"".join(l + b"\n" for l in ls)
    r = subprocess.run(["spm_encode", "--model=" + model,
                        "--output_format=id"], input=text,
                       stdout=subprocess.PIPE, check=True)
    outl = r.stdout.split(b"\n")
    assert outl[-1] == b""
    outl.pop()
    assert len(outl) == len(ls), (src, len(outl), len(ls))
    sp = spm.SentencePieceProcessor(model_file=model)
    blob = bytearray()
    ntok = 0
    for line, o in zip(ls, outl):
        ids = [int(x) for x in o.split()]
        py = sp.encode(line)
        assert py == ids, (src, line, ids, py)
        blob += varint(len(ids))
        for i in ids:
            blob += varint(i)
        ntok += len(ids)
    with open(dst, "wb") as f:
        f.write(blob)
    print("%s: %d lines, %d ids, %d bytes" % (dst, len(ls), ntok, len(blob)))
    if src == HARD:
        # Decode goldens: SentencePiece's decode of each line's ids, one
        # line each (none of them holds a newline).
        dec = [sp.decode([int(x) for x in o.split()]).encode("utf-8")
               for o in outl]
        assert all(b"\n" not in d for d in dec)
        with open(dst[:-4] + ".decoded", "wb") as f:
            f.write(b"".join(d + b"\n" for d in dec))


def train():
    # Fixed training slice: the first 2,000 lines of each bible and the
    # English aligned lines after the 500 used as the test sample.
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as t:
        for path, a, b in ((SHARED + "/corpus/hau_bible.txt", 0, 2000),
                           (SHARED + "/corpus/swh_nt.txt", 0, 2000),
                           (SHARED + "/corpus/aligned/eng_aligned.txt",
                            500, 1496)):
            for l in lines_of(path)[a:b]:
                t.write(l + b"\n")
        name = t.name
    common = ["--input=" + name, "--vocab_size=1000", "--num_threads=1",
              "--minloglevel=2"]
    subprocess.run(["spm_train", "--model_prefix=" + OUT + "/unigram",
                    "--model_type=unigram"] + common, check=True)
    subprocess.run(["spm_train", "--model_prefix=" + OUT + "/bpe",
                    "--model_type=bpe", "--byte_fallback=true",
                    "--split_digits=true",
                    "--normalization_rule_name=identity"] + common, check=True)
    # A tiny Unigram model with a custom normalization rule table (a small
    # charsmap: A->a, B->b, full-width A->a, the fi ligature->"fi",
    # ideographic space and tab->space) and a user-defined piece "<x>";
    # also the fuzz target's seed.
    rules = name + ".tsv"
    with open(rules, "w") as f:
        f.write("41\t61\n42\t62\nFF21\t61\nFB01\t66 69\n3000\t20\n9\t20\n")
    with open(name + ".small", "wb") as f:
        f.write(b"".join(l + b"\n" for l in lines_of(SAMPLE[2])[:300]))
    subprocess.run(["spm_train", "--input=" + name + ".small",
                    "--model_prefix=" + OUT + "/rules",
                    "--model_type=unigram", "--vocab_size=200",
                    "--normalization_rule_tsv=" + rules,
                    "--user_defined_symbols=<x>", "--num_threads=1",
                    "--minloglevel=2"], check=True)
    for f in (name, rules, name + ".small"):
        os.unlink(f)
    for m in ("unigram", "bpe", "rules"):
        os.unlink(OUT + "/" + m + ".vocab")


def stem(path):
    return os.path.basename(path)[:-4]


def main():
    os.makedirs(GOLD, exist_ok=True)
    if "--subset" in sys.argv:
        path = sys.argv[sys.argv.index("--subset") + 1]
        sp = spm.SentencePieceProcessor(model_file=path)
        assert sp.vocab_size() == 2000, sp.vocab_size()
        golden(path, HARD, None, GOLD + "/subset2000.hard_cases.ids")
        return
    if ("--train" in sys.argv or not os.path.exists(OUT + "/unigram.model")
            or not os.path.exists(OUT + "/bpe.model")
            or not os.path.exists(OUT + "/rules.model")):
        train()
    for src in CORPUS + [HARD]:
        golden(INKUBA, src, None, GOLD + "/inkuba8064." + stem(src) + ".ids")
    for m in ("unigram", "bpe", "rules"):
        for src in SAMPLE if m != "rules" else SAMPLE[2:]:
            golden(OUT + "/" + m + ".model", src, SAMPLE_LINES,
                   GOLD + "/" + m + "." + stem(src) + ".ids")
        golden(OUT + "/" + m + ".model", HARD, None,
               GOLD + "/" + m + ".hard_cases.ids")


main()
