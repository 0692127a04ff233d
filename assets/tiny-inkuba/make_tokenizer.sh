#!/bin/sh
# Trains the tiny model's tokenizer with Debian's spm_train (sentencepiece).
#   usage: make_tokenizer.sh WORK_DIR
# Reads WORK_DIR/train_all.txt = the training lines of the split
# (prepare_data.py: Swahili then Hausa, held-out and validation lines
# excluded) and writes WORK_DIR/tok.model and tok.vocab.  Runs inside
# WORK_DIR with relative names because spm_train records --input and
# --model_prefix in the model: this way the output is byte-identical
# wherever it is rebuilt.
#
# Layout (InkubaLM's): 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then the
# learned pieces.  character_coverage=1.0 keeps all 87 characters of the
# corpus as pieces (ɓ ɗ ƙ ’ ...) and required_chars guarantees the hooked
# letters and ’ whatever the coverage.  ƴ/Ƴ do not occur in the corpus at all
# and cannot be required (spm_train's BPE trainer aborts on a required
# character of frequency 0): they are encoded with byte pieces.
# identity normalisation + add_dummy_prefix + no whitespace cleanup = exactly what a tokenizer.json with normalizer
# Sequence[Prepend "▁", Replace " " -> "▁"] does.
set -eu
cd "$1"
spm_train \
	--input=train_all.txt \
	--model_prefix=tok \
	--model_type=bpe \
	--vocab_size=4000 \
	--byte_fallback=true \
	--split_digits=true \
	--character_coverage=1.0 \
	--required_chars="ɓɗƙƁƊƘ’" \
	--normalization_rule_name=identity \
	--add_dummy_prefix=true \
	--remove_extra_whitespaces=false \
	--unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
	--max_sentence_length=16384 \
	--num_threads=1 \
	--random_seed=1
