// vocab_check.js — checks, ONCE and by hand, a tokenizer.json that
// `punguza vocab -o OUTDIR` wrote against the reference implementation.
//
//   mkdir -p /tmp/tokjs && cd /tmp/tokjs && npm install tokenizers
//   cd /work/main
//   C=../shared/data/corpus
//   ./build/punguza vocab ../shared/data/inkubalm-0.4b \
//       --corpus $C/*.txt $C/aligned/*.txt $C/udhr/*.txt --keep 8064 -o /tmp/vocab-out
//   NODE_PATH=/tmp/tokjs/node_modules node tests/ref/vocab_check.js \
//       /tmp/vocab-out/tokenizer.json ./build/punguza FILE...
//
// For each FILE, every line (split on '\n') is encoded by Hugging Face
// `tokenizers` (Tokenizer.fromFile: which also proves the file loads; add
// special tokens, truncation off) and by `punguza tokenize` with the same
// tokenizer.json; prints "lines identical / lines total" per file and
// exits 1 on any difference. Also checks that every merge names pieces of
// the vocabulary (the reference would refuse the file otherwise).
//
// With GOLDEN_DIR=dir set, also writes the reference's ids of each FILE as
// dir/<basename without .txt>.ids (one line per input line, ids separated
// by spaces, BOS included): tests/data/vocab/golden/udhr_{swh,hau}.ids
// were written so, for the 8,064-piece tokenizer of the command above
// (tests/test_vocab.c rebuilds it and compares).
'use strict';
const fs = require('fs');
const { execFileSync } = require('child_process');
const { Tokenizer } = require('tokenizers');

async function main() {
	const [json, punguza, ...files] = process.argv.slice(2);
	if (!json || !punguza || !files.length) {
		console.error('usage: vocab_check.js tokenizer.json punguza FILE...');
		process.exit(2);
	}
	const j = JSON.parse(fs.readFileSync(json, 'utf8'));
	const vocab = j.model.vocab;
	let badMerges = 0;
	for (const m of j.model.merges) {
		const [a, b] = Array.isArray(m) ? m : m.split(' ');
		if (!(a in vocab) || !(b in vocab) || !((a + b) in vocab))
			badMerges++;
	}
	console.log(`${json}: ${Object.keys(vocab).length} pieces, ` +
		    `${j.model.merges.length} merges, ${badMerges} naming a missing piece`);
	const tok = Tokenizer.fromFile(json);
	tok.setTruncation(1 << 30);
	tok.disableTruncation();
	let fail = badMerges > 0;
	let allSame = 0, allTotal = 0;
	for (const f of files) {
		const text = fs.readFileSync(f, 'utf8');
		const lines = text.split('\n');
		if (lines.length && lines[lines.length - 1] === '')
			lines.pop();
		const ours = execFileSync(punguza, ['tokenize', json],
					  { input: lines.join('\n') + '\n',
					    maxBuffer: 1 << 30 }).toString()
			.split('\n');
		let same = 0;
		const gold = [];
		for (let i = 0; i < lines.length; i++) {
			const enc = await tok.encode(lines[i]);
			const ref = Array.from(enc.getIds()).join(' ');
			gold.push(ref);
			if (ref === ours[i])
				same++;
			else if (same + 3 > i)
				console.log(`${f}:${i + 1}: ref ${ref.slice(0, 80)}` +
					    ` ours ${(ours[i] || '').slice(0, 80)}`);
		}
		console.log(`${f}: ${same} / ${lines.length} lines identical`);
		if (process.env.GOLDEN_DIR) {
			const base = f.split('/').pop().replace(/\.txt$/, '');
			fs.writeFileSync(`${process.env.GOLDEN_DIR}/${base}.ids`,
					 gold.join('\n') + '\n');
		}
		allSame += same;
		allTotal += lines.length;
		if (same !== lines.length)
			fail = true;
	}
	console.log(`all: ${allSame} / ${allTotal} lines identical`);
	process.exit(fail ? 1 : 0);
}
main();
