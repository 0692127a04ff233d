"""Fixed train / held-out split of the tiny model's corpus.

usage: prepare_data.py CORPUS_DIR OUT_DIR WORK_DIR

Training files (../shared/data/corpus, see its SOURCE.md):
  swh_nt.txt               Swahili NT (bible-corpus)
  aligned/swh_aligned.txt  Swahili, Biblica Toleo Wazi Neno (another translation)
  hau_bible.txt            Hausa NT (Biblica Open Hausa Contemporary Bible)
aligned/hau_aligned.txt is the first 1496 lines of hau_bible.txt and is NOT
read again.  The UDHR files and ../shared/data/competition are never used.

Split: line index i (0-based, counting every line of the file, empty ones
too) is held out when i % 20 == 19 (the evaluation text of the model card)
and used for validation when i % 20 == 9 (checkpoint selection during
training, so the held-out text never influences the model); the rest is
training text.  Empty lines are dropped everywhere.
Writes OUT_DIR/heldout_{swh,hau}.txt (committed) and
WORK_DIR/{train,valid}_{swh,hau}.txt, WORK_DIR/train_all.txt (the
tokenizer's input: training lines only, Swahili then Hausa).  Deterministic: same input, same bytes out.
"""
import os
import sys

FILES = [("swh", "swh_nt.txt"), ("swh", "aligned/swh_aligned.txt"),
         ("hau", "hau_bible.txt")]


def main():
    corpus, out, work = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    train = {"swh": [], "hau": []}
    held = {"swh": [], "hau": []}
    valid = {"swh": [], "hau": []}
    for lang, name in FILES:
        with open(os.path.join(corpus, name), encoding="utf-8") as fp:
            lines = fp.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for i, line in enumerate(lines):
            line = line.strip()
            if not line:
                continue
            part = held if i % 20 == 19 else valid if i % 20 == 9 else train
            part[lang].append(line)
    for lang in ("swh", "hau"):
        with open(os.path.join(out, f"heldout_{lang}.txt"), "w",
                  encoding="utf-8", newline="\n") as fp:
            fp.write("\n".join(held[lang]) + "\n")
        with open(os.path.join(work, f"train_{lang}.txt"), "w",
                  encoding="utf-8", newline="\n") as fp:
            fp.write("\n".join(train[lang]) + "\n")
        with open(os.path.join(work, f"valid_{lang}.txt"), "w",
                  encoding="utf-8", newline="\n") as fp:
            fp.write("\n".join(valid[lang]) + "\n")
        print(f"{lang}: {len(train[lang])} training lines, "
              f"{len(valid[lang])} validation, {len(held[lang])} held out",
              file=sys.stderr)
    with open(os.path.join(work, "train_all.txt"), "w", encoding="utf-8",
              newline="\n") as fp:
        fp.write("\n".join(train["swh"] + train["hau"]) + "\n")


if __name__ == "__main__":
    main()
