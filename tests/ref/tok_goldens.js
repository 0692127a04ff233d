// tok_goldens.js — writes the tokenizer.json golden files of
// tests/test_tokenizer.c, ONCE, with the reference implementations.
//
//   mkdir -p /tmp/tokjs && cd /tmp/tokjs && npm install tokenizers @huggingface/tokenizers
//   cd /work/main && NODE_PATH=/tmp/tokjs/node_modules node tests/ref/tok_goldens.js
//
// The goldens come from `tokenizers` (Hugging Face's Rust library, Node
// binding); every id list is cross-checked with the pure-JavaScript
// `@huggingface/tokenizers` and disagreements are printed (not fatal).
// Truncation in the file (InkubaLM: 1024 tokens) is disabled: punguza's
// tok_encode never truncates.
//
// Outputs (tests/data/tok/golden/):
//   <name>.ids      one line per input line (files of more than 5000 lines:
//                   every other line, first line "#stride 2"): encode(line) with
//                   the post-processor (add_special_tokens = true),
//                   separated by spaces. Input lines are split on '\n' only.
//   hard_cases.dec  one JSON string per line: decode(ids, skip_special=false)
//   small_<t>.ids   ids for tests/data/tok/small_inputs.txt under the small
//                   hand-made tokenizer tests/data/tok/<t>.json (written by
//                   tests/data/tok/make_small.py), then a tab, then the JSON
//                   of decode(ids, false).
//   <t>.decfuzz     random id sequences and their decode (hex), for the
//                   InkubaLM tokenizer and small_llama_pairs.json
//   invalid_utf8.ids  ids of the byte strings in invalid_utf8.hex after
//                   Buffer.toString('utf8') (the WHATWG decoder: each maximal
//                   invalid subpart becomes U+FFFD), as a JS caller sees them.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const DATA = '../shared/data';
const TOKDIR = 'tests/data/tok';
const OUT = path.join(TOKDIR, 'golden');

let jsTok = null;
function loadJs(file) {
	try {
		const { Tokenizer: JsTok } = require('@huggingface/tokenizers');
		const dir = path.dirname(file);
		const cfgPath = path.join(dir, 'tokenizer_config.json');
		const cfg = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, 'utf8')) : {};
		return new JsTok(JSON.parse(fs.readFileSync(file, 'utf8')), cfg);
	} catch (err) {
		console.error(`(no JS cross-check for ${file}: ${err.message})`);
		return null;
	}
}

function readLines(file) {
	let s = fs.readFileSync(file, 'utf8');
	if (s.endsWith('\n')) s = s.slice(0, -1);
	return s.split('\n');
}

async function goldenFile(tok, name, lines, withDecode, stride = 1) {
	const out = stride > 1 ? [`#stride ${stride}`] : [], dec = [];
	lines = lines.filter((_, i) => i % stride === 0);
	let diff = 0;
	for (const line of lines) {
		const enc = await tok.encode(line);
		const ids = Array.from(enc.getIds());
		out.push(ids.join(' '));
		if (withDecode) dec.push(JSON.stringify(await tok.decode(ids, false)));
		if (jsTok) {
			const js = jsTok.encode(line).ids;
			if (js.join(' ') !== ids.join(' ')) {
				diff++;
				if (diff <= 3)
					console.error(`  ${name}: JS differs on ${JSON.stringify(line.slice(0, 60))}\n    rust ${ids.slice(0, 20).join(' ')}\n    js   ${js.slice(0, 20).join(' ')}`);
			}
		}
	}
	fs.writeFileSync(path.join(OUT, name + '.ids'), out.join('\n') + '\n');
	if (withDecode) fs.writeFileSync(path.join(OUT, name + '.dec'), dec.join('\n') + '\n');
	console.log(`${name}: ${lines.length} lines, JS cross-check ${lines.length - diff}/${lines.length} identical`);
}

// Random id sequences (a fixed LCG; many byte pieces and specials, odd
// lines with skip_special) and the reference's decode, as hex:
// "ids<TAB>skip<TAB>hex" per line.
async function decodeFuzz(tok, name) {
	const V = tok.getVocabSize(true);
	let seed = 7;
	const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
	const out = [];
	for (let i = 0; i < 1500; i++) {
		const n = Math.floor(rnd() * 12), ids = [];
		for (let j = 0; j < n; j++) {
			const r = rnd();
			ids.push(r < 0.4 ? (3 + Math.floor(rnd() * 256)) % V
				: r < 0.5 ? Math.floor(rnd() * 4) % V : Math.floor(rnd() * V));
		}
		const skip = i % 2 === 1;
		out.push(ids.join(' ') + '\t' + (skip ? 1 : 0) + '\t' +
			Buffer.from(await tok.decode(ids, skip)).toString('hex'));
	}
	fs.writeFileSync(path.join(OUT, name + '.decfuzz'), out.join('\n') + '\n');
	console.log(`${name}.decfuzz: ${out.length} lines`);
}

async function main() {
	fs.mkdirSync(OUT, { recursive: true });
	const real = path.join(DATA, 'inkubalm-0.4b/tokenizer.json');
	const tok = Tokenizer.fromFile(real);
	tok.disableTruncation();
	jsTok = loadJs(real);

	const inputs = [];
	for (const sub of ['corpus', 'corpus/aligned', 'corpus/udhr'])
		for (const f of fs.readdirSync(path.join(DATA, sub)).sort())
			if (f.endsWith('.txt') && !f.includes('vref'))
				inputs.push([f.replace(/\.txt$/, ''), path.join(DATA, sub, f)]);
	for (const [name, file] of inputs) {
		// The two Bibles (~8k lines each) keep every other line, so that
		// the goldens stay under ~2.5 MB; the test follows the stride.
		const lines = readLines(file);
		await goldenFile(tok, name, lines, false, lines.length > 5000 ? 2 : 1);
	}
	await goldenFile(tok, 'hard_cases', readLines(path.join(TOKDIR, 'hard_cases.txt')), true);
	await decodeFuzz(tok, 'inkubalm');
	const bad = readLines(path.join(TOKDIR, 'invalid_utf8.hex'))
		.map((h) => Buffer.from(h, 'hex').toString('utf8'));
	await goldenFile(tok, 'invalid_utf8', bad, false);

	// Small hand-made tokenizers: ids and decode of small_inputs.txt.
	const small = readLines(path.join(TOKDIR, 'small_inputs.txt'));
	for (const f of fs.readdirSync(TOKDIR).sort()) {
		if (!f.startsWith('small_') || !f.endsWith('.json')) continue;
		const t = Tokenizer.fromFile(path.join(TOKDIR, f));
		const out = [];
		for (const line of small) {
			const ids = Array.from((await t.encode(line)).getIds());
			out.push(ids.join(' ') + '\t' + JSON.stringify(await t.decode(ids, false)));
		}
		fs.writeFileSync(path.join(OUT, f.replace(/\.json$/, '.ids')), out.join('\n') + '\n');
		if (f === 'small_llama_pairs.json') await decodeFuzz(t, 'small_llama_pairs');
		console.log(`${f}: ${small.length} lines`);
	}
}

main().catch((err) => { console.error(err); process.exit(1); });
