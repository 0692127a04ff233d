// tok_ref_speed.js — the reference side of bench_tok: load time and encode
// throughput of Hugging Face `tokenizers` (Rust, Node binding) and of the
// pure-JS `@huggingface/tokenizers` on the same text, line by line.
//
//   NODE_PATH=/tmp/tokjs/node_modules node tests/bench/tok_ref_speed.js [DATA_DIR]
'use strict';
const fs = require('fs');
const path = require('path');

const DATA = process.argv[2] || '../shared/data';
const FILES = [
	'corpus/hau_bible.txt', 'corpus/swh_nt.txt',
	'corpus/aligned/eng_aligned.txt', 'corpus/aligned/hau_aligned.txt',
	'corpus/aligned/swh_aligned.txt', 'corpus/udhr/udhr_eng.txt',
	'corpus/udhr/udhr_hau.txt', 'corpus/udhr/udhr_swh.txt',
];
const TOK = path.join(DATA, 'inkubalm-0.4b/tokenizer.json');

async function main() {
	let bytes = 0;
	const lines = [];
	for (const f of FILES) {
		const buf = fs.readFileSync(path.join(DATA, f));
		bytes += buf.length;
		let s = buf.toString('utf8');
		if (s.endsWith('\n')) s = s.slice(0, -1);
		lines.push(...s.split('\n'));
	}
	const { Tokenizer } = require('tokenizers');
	let t0 = process.hrtime.bigint();
	const tok = Tokenizer.fromFile(TOK);
	const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
	tok.disableTruncation();
	// CPU seconds of the whole process (the machine may be shared; the
	// Rust side may use several threads): user + system.
	const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
	let best = Infinity, bestCpu = Infinity, tokens = 0;
	for (let rep = 0; rep < 2; rep++) {
		tokens = 0;
		t0 = process.hrtime.bigint();
		const c0 = cpu();
		for (const l of lines)
			tokens += (await tok.encode(l, null, { addSpecialTokens: false })).getIds().length;
		best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
		bestCpu = Math.min(bestCpu, cpu() - c0);
	}
	console.log(`tokenizers (Rust/Node) load: ${loadMs.toFixed(1)} ms wall; encode (line by line, ` +
		`${bytes} bytes, ${tokens} tokens): ${(bytes / 1e6 / bestCpu).toFixed(2)} MB/s CPU, ` +
		`${(bytes / 1e6 / best).toFixed(2)} MB/s wall (best of 2)`);
	const batch = [];
	for (let i = 0; i < lines.length; i += 1000) batch.push(lines.slice(i, i + 1000));
	t0 = process.hrtime.bigint();
	let c0 = cpu();
	for (const b of batch) await tok.encodeBatch(b, { addSpecialTokens: false });
	const bt = Number(process.hrtime.bigint() - t0) / 1e9, bc = cpu() - c0;
	console.log(`tokenizers (Rust/Node) encodeBatch of 1000 lines: ${(bytes / 1e6 / bc).toFixed(2)} MB/s CPU, ` +
		`${(bytes / 1e6 / bt).toFixed(2)} MB/s wall`);

	const { Tokenizer: JsTok } = require('@huggingface/tokenizers');
	t0 = process.hrtime.bigint();
	const js = new JsTok(JSON.parse(fs.readFileSync(TOK, 'utf8')), {});
	const jsLoad = Number(process.hrtime.bigint() - t0) / 1e6;
	t0 = process.hrtime.bigint();
	c0 = cpu();
	tokens = 0;
	for (const l of lines) tokens += js.encode(l, { add_special_tokens: false }).ids.length;
	const jt = Number(process.hrtime.bigint() - t0) / 1e9, jc = cpu() - c0;
	console.log(`@huggingface/tokenizers (pure JS) load: ${jsLoad.toFixed(1)} ms wall; encode: ` +
		`${(bytes / 1e6 / jc).toFixed(2)} MB/s CPU, ${(bytes / 1e6 / jt).toFixed(2)} MB/s wall (${tokens} tokens)`);
}

main().catch((err) => { console.error(err); process.exit(1); });
