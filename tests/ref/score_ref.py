#!/usr/bin/python3
"""Independent reference scorer for core/score.c (DESIGN section 1.3).

Plain Python (no sklearn, no sacrebleu): macro-F1 and sentence chrF written
from the definition. Run once from the project root:

    /usr/bin/python3 tests/ref/score_ref.py

It reads ../shared/data/competition/ and writes

  tests/data/score/expected.json      the figures tests/test_score.c checks
  tests/data/score/mixed_overrides.csv
      ID,Response for the 600 classification rows, answers written in
      every accepted form (indices, "2.0", label words of both languages,
      English words, odd case and spacing) plus some wrong answers; the C
      test applies them over the baseline submission.

The baseline submission (the 900 test IDs) is built from
Output/*_prediction.csv the way the challenge's starter code did:
classification Response = argmax of the Log-Likelihood tensor (first
maximum), translation Response = the Response text. The C test builds the
same submission from the same files itself, so nothing large is committed.
(Output/submission_test.csv holds the 18 *dev* rows, not the test IDs; it
carries its own Targets column and is scored against itself.)
"""
import csv
import json
import os
import re
from collections import Counter

DATA = "../shared/data/competition"
OUT = "tests/data/score"

SENT = {"positive": 0, "chanya": 0, "kyakkyawa": 0,
        "neutral": 1, "wastani": 1, "tsaka-tsaki": 1,
        "negative": 2, "hasi": 2, "korau": 2}
XNLI = {"entailment": 0, "true": 0, "neutral": 1, "neither": 1,
        "contradiction": 2, "false": 2}


def read(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def task_lang(id_):
    s = id_.lower()
    if "sentiment" in s:
        t = "sentiment"
    elif "afrixnli_" in s:
        t = "xnli"
    elif "mt_eng-" in s:
        t = "mt"
    else:
        raise ValueError(id_)
    if s.endswith("hausa") or s.endswith("_hau") or s.endswith("-hau"):
        l = "hau"
    elif s.endswith("swahili") or s.endswith("_swa") or s.endswith("-swa"):
        l = "swa"
    else:
        raise ValueError(id_)
    return t, l


def parse_class(task, s):
    s = s.strip()
    if s in ("0", "1", "2", "0.0", "1.0", "2.0"):
        return int(s[0])
    words = SENT if task == "sentiment" else XNLI
    return words.get(s.lower(), -1)


def chrf(hyp, ref):
    h = hyp.replace(" ", "")
    r = ref.replace(" ", "")
    ps, rs = [], []
    for n in range(1, 7):
        hg = Counter(h[i:i + n] for i in range(len(h) - n + 1))
        rg = Counter(r[i:i + n] for i in range(len(r) - n + 1))
        m = sum(min(c, rg[g]) for g, c in hg.items())
        ps.append(m / max(sum(hg.values()), 1))
        rs.append(m / max(sum(rg.values()), 1))
    p = sum(ps) / 6
    rr = sum(rs) / 6
    return 5 * p * rr / (4 * p + rr) if p + rr > 0 else 0.0


def macro_f1(pairs):
    """pairs: (true, pred) with pred -1 for a wrong answer."""
    f = []
    for c in range(3):
        tp = sum(1 for t, p in pairs if t == c and p == c)
        fp = sum(1 for t, p in pairs if t != c and p == c)
        fn = sum(1 for t, p in pairs if t == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f.append(2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0)
    return sum(f) / 3


def score(refs, sub):
    """refs: list of dict(id, task, lang, split, target); sub: id -> resp."""
    out = {}
    for split in ("all", "public", "private"):
        rows = [r for r in refs if split == "all" or r["split"] == split]
        if not rows:
            continue
        part = {"n_rows": len(rows), "f1": {}, "chrf": {}, "confusion": {},
                "wrong": {}}
        task_scores, pooled_list = [], []
        for task in ("sentiment", "xnli"):
            part["f1"][task] = {}
            for lang in ("hau", "swa", "both"):
                sel = [r for r in rows if r["task"] == task and
                       (lang == "both" or r["lang"] == lang)]
                pairs = [(parse_class(task, r["target"]),
                          parse_class(task, sub[r["id"]])) for r in sel]
                part["f1"][task][lang] = macro_f1(pairs)
                if lang == "both":
                    conf = [[0] * 4 for _ in range(3)]
                    for t, p in pairs:
                        conf[t][3 if p < 0 else p] += 1
                    part["confusion"][task] = conf
                    part["wrong"][task] = sum(1 for _, p in pairs if p < 0)
                    if sel:
                        task_scores.append(part["f1"][task]["both"])
                        pooled_list.append(part["f1"][task]["both"])
        mt_all = []
        for lang in ("hau", "swa", "both"):
            sel = [r for r in rows if r["task"] == "mt" and
                   (lang == "both" or r["lang"] == lang)]
            vals = [chrf(sub[r["id"]], r["target"]) for r in sel]
            part["chrf"][lang] = sum(vals) / len(vals) if vals else 0.0
            if lang == "both":
                mt_all = vals
        if mt_all:
            task_scores.append(part["chrf"]["both"])
            pooled_list.extend(mt_all)
        part["lb_tasks"] = sum(task_scores) / len(task_scores)
        part["lb_pooled"] = sum(pooled_list) / len(pooled_list)
        out[split] = part
    return out


def argmax_tensor(s):
    nums = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?",
                                         s.split("[[", 1)[1].split("]]")[0])]
    return max(range(len(nums)), key=lambda i: (nums[i], -i))


def baseline_submission():
    sub = {}
    for lang in ("hau", "swa"):
        for task in ("sent", "xnli", "mt"):
            for r in read(f"{DATA}/Output/{lang}_{task}_prediction.csv"):
                if task == "mt":
                    sub[r["ID"]] = r["Response"]
                else:
                    sub[r["ID"]] = str(argmax_tensor(r["Log-Likelihood"]))
    return sub


WORDS = {
    ("sentiment", "hau"): ["Kyakkyawa", "Tsaka-tsaki", "Korau"],
    ("sentiment", "swa"): ["Chanya", "Wastani", "Hasi"],
    ("xnli", "hau"): ["True", "Neither", "False"],
    ("xnli", "swa"): ["true", "NEITHER", "False"],
}
ENGLISH = {"sentiment": ["positive", "neutral", "negative"],
           "xnli": ["entailment", "neutral", "contradiction"]}


def mixed_overrides(refs, base):
    """Every accepted answer form, and wrong answers, over the
    classification rows (the predicted class from the ID's hex)."""
    rows = sorted((r for r in refs if r["task"] != "mt"),
                  key=lambda r: r["id"])
    out = []
    for k, r in enumerate(rows):
        c = int(r["id"][3:11], 16) % 3
        form = k % 6
        if form == 0:
            s = str(c)
        elif form == 1:
            s = WORDS[(r["task"], r["lang"])][c]
        elif form == 2:
            s = " " + ENGLISH[r["task"]][c].upper() + "\t"
        elif form == 3:
            s = f"{c}.0"
        elif form == 4:
            s = WORDS[(r["task"], r["lang"])][c].lower() + "\n"
        else:
            # wrong answers: raw text, another task's word, an index out
            # of range, a quoted comma
            s = ["maybe", "Chanya" if r["task"] == "xnli" else "True",
                 "3", "1, 2", ""][(k // 6) % 5]
        out.append((r["id"], s))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    twt = [dict(id=r["ID"], task=r["task"], lang=r["lang"],
                split=r["split"], target=r["target"])
           for r in read(f"{DATA}/test_with_targets.csv")]
    for r in twt:  # the columns and the ID agree
        assert task_lang(r["id"]) == (r["task"], r["lang"]), r["id"]
    org = []
    for name, split in (("pubRef", "public"), ("priRef", "private")):
        for r in read(f"{DATA}/Notebooks/{name}.csv"):
            t, l = task_lang(r["ID"])
            org.append(dict(id=r["ID"], task=t, lang=l, split=split,
                            target=r["Targets"]))
    base = baseline_submission()
    assert set(base) == {r["id"] for r in twt}

    over = mixed_overrides(twt, base)
    mixed = dict(base)
    mixed.update(over)
    with open(f"{OUT}/mixed_overrides.csv", "w", encoding="utf-8",
              newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["ID", "Response"])
        w.writerows(over)

    dev_rows = read(f"{DATA}/Output/submission_test.csv")
    dev_refs = []
    for r in dev_rows:
        t, l = task_lang(r["ID"])
        dev_refs.append(dict(id=r["ID"], task=t, lang=l, split="",
                             target=r["Targets"]))
    dev_sub = {r["ID"]: r["Response"] for r in dev_rows}

    # sentence-level chrF of the first MT rows, for a direct check
    mt = sorted((r for r in twt if r["task"] == "mt"), key=lambda r: r["id"])
    rows = [{"id": r["id"], "chrf": chrf(base[r["id"]], r["target"])}
            for r in mt[:40]]

    exp = {
        "baseline_vs_test_with_targets": score(twt, base),
        "baseline_vs_organisers": score(org, base),
        "mixed_vs_test_with_targets": score(twt, mixed),
        "dev_submission_test": score(dev_refs, dev_sub),
        "chrf_rows": rows,
    }
    with open(f"{OUT}/expected.json", "w", encoding="utf-8") as f:
        json.dump(exp, f, indent=1, ensure_ascii=False)
        f.write("\n")
    b = exp["baseline_vs_test_with_targets"]["all"]
    print("baseline: LB(a) %.6f LB(b) %.6f" % (b["lb_tasks"], b["lb_pooled"]))
    m = exp["mixed_vs_test_with_targets"]["all"]
    print("mixed:    LB(a) %.6f LB(b) %.6f wrong %s" %
          (m["lb_tasks"], m["lb_pooled"], m["wrong"]))


if __name__ == "__main__":
    main()
