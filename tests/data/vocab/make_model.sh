#!/bin/sh
# Trains tests/data/vocab/idprefix.model ONCE with Debian's spm_train: a
# 1000-piece SentencePiece BPE model made like assets/tiny-inkuba's
# (byte_fallback, split_digits, identity normalization, add_dummy_prefix,
# no whitespace cleanup), for vocab_spm_to_hf_json's test.
#   sh tests/data/vocab/make_model.sh   (from the repository root)
set -eu
D=$(mktemp -d)
cat ../shared/data/corpus/aligned/swh_aligned.txt \
    ../shared/data/corpus/aligned/hau_aligned.txt > "$D/train.txt"
(cd "$D" && spm_train --input=train.txt --model_prefix=tok --model_type=bpe \
	--vocab_size=1000 --byte_fallback=true --split_digits=true \
	--character_coverage=1.0 --normalization_rule_name=identity \
	--add_dummy_prefix=true --remove_extra_whitespaces=false \
	--unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 --num_threads=1 \
	--random_seed=1 >/dev/null 2>&1)
cp "$D/tok.model" tests/data/vocab/idprefix.model
rm -rf "$D"
