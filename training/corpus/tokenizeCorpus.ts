/**
 * Turns the gathered corpus into the token ids the trainer reads, with the
 * project's own tokenizer and DeepSeek-Coder's vocabulary.
 *
 *   train.u16.xz          training stream: each file cut into pieces; about half
 *                         the pieces in FIM order (fimTransform.ts), the rest
 *                         as plain text, <BOS> before a run, <EOS> at a file's end;
 *                         a stream whose xz would pass MAX_PART_XZ_BYTES is cut
 *                         into train.part1.u16.xz, train.part2.u16.xz, ... instead,
 *                         to be read one after another
 *   val.u16.xz            held-out packages as plain text, for perplexity
 *   check-sequences.json  a few held-out token sequences whose logits the
 *                         trainer returns, to check the export
 *   tokens.json           counts
 *
 * Usage (after bundling with esbuild):
 *   node tokenizeCorpus.js <corpus dir with train.jsonl, heldout.jsonl> <vocab.gguf> <out dir> <max train tokens> [max val tokens]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import { loadTokenizer, type Tokenizer } from "../../engine/tokenizer/tokenizer";
import { fimSplit, seededRandom, splitPieces, type FimSplit } from "./fimTransform";

interface CorpusFile {
  pkg: string;
  path: string;
  lang: string;
  text: string;
}

const FIM_RATE = 0.5;
// Each file must travel to the training machine; parts keep every file under this.
const MAX_PART_XZ_BYTES = 30_000_000;
// Tokens a part starts from (71M tokens of code came to 29.4 MB with XZ_ARGS). Fewer, larger parts
// compress better (one dictionary sees more); a part that still comes out too large means one more part.
const PART_TOKENS_GUESS = 75_000_000;
// LZMA2 at its strongest, a dictionary that holds a whole part, and literals aligned to the 16-bit ids.
const XZ_ARGS = ["-T1", "--lzma2=preset=9e,dict=256MiB,lc=1,lp=1,pb=1", "-c"];

async function readJsonl(file: string): Promise<CorpusFile[]> {
  const out: CorpusFile[] = [];
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim()) out.push(JSON.parse(line));
  return out;
}

function shuffle<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

class IdStream {
  private buf = new Uint16Array(1 << 20);
  length = 0;

  push(ids: ArrayLike<number>): void {
    if (this.length + ids.length > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.length + ids.length) size *= 2;
      const grown = new Uint16Array(size);
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id < 0 || id > 0xffff) throw new Error(`token id ${id} does not fit in 16 bits`);
      this.buf[this.length + i] = id;
    }
    this.length += ids.length;
  }

  bytes(): Uint8Array {
    const view = this.buf.subarray(0, this.length);
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength); // little-endian on x86 and Arm
  }
}

function writeXz(file: string, bytes: Uint8Array): number {
  const r = spawnSync("xz", XZ_ARGS, { input: bytes, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`xz failed for ${file}: ${r.stderr?.toString() ?? r.error}`);
  fs.writeFileSync(file, r.stdout);
  return r.stdout.length;
}

/**
 * The training stream as train.u16.xz, or cut into equal parts at token
 * boundaries where one file would be too large; the trainer concatenates the
 * parts in order. Earlier outputs of either kind are removed first.
 */
function writeTrainStream(outDir: string, ids: Uint8Array): { file: string; tokens: number; xzBytes: number }[] {
  for (const f of fs.readdirSync(outDir)) if (/^train(\.part\d+)?\.u16\.xz$/.test(f)) fs.rmSync(path.join(outDir, f));
  const tokens = ids.length / 2;
  for (let parts = Math.max(1, Math.ceil(tokens / PART_TOKENS_GUESS)); ; parts++) {
    const written: { file: string; tokens: number; xzBytes: number }[] = [];
    const per = Math.ceil(tokens / parts);
    for (let p = 0; p < parts; p++) {
      const slice = ids.subarray(2 * p * per, 2 * Math.min(tokens, (p + 1) * per));
      const file = parts === 1 ? "train.u16.xz" : `train.part${p + 1}.u16.xz`;
      const xzBytes = writeXz(path.join(outDir, file), slice);
      written.push({ file, tokens: slice.length / 2, xzBytes });
      if (xzBytes > MAX_PART_XZ_BYTES) break;
    }
    const over = written.find((w) => w.xzBytes > MAX_PART_XZ_BYTES);
    if (!over) return written;
    console.error(`${over.file}: ${over.xzBytes} bytes of xz is over ${MAX_PART_XZ_BYTES}; cutting the stream into ${parts + 1} parts`);
    for (const w of written) fs.rmSync(path.join(outDir, w.file));
  }
}

/** The middle tokenized in two parts at the cursor, as the prompt holds the line up to the cursor. */
function middleTokens(tok: Tokenizer, split: FimSplit): number[] {
  return [...tok.tokenize(split.middle.slice(0, split.cursor)), ...tok.tokenize(split.middle.slice(split.cursor))];
}

function fileTokens(tok: Tokenizer, f: CorpusFile, rand: () => number, stats: Record<string, number>): number[] {
  const { bos, eos, fimPre, fimSuf, fimMid } = tok.special;
  const out: number[] = [];
  const pieces = splitPieces(f.text, rand, 1200, 6000);
  let inRun = false;
  for (const piece of pieces) {
    const split = rand() < FIM_RATE ? fimSplit(piece, rand) : undefined;
    if (split) {
      if (inRun) inRun = false;
      out.push(bos!, fimPre!, ...tok.tokenize(split.prefix), fimSuf!, ...tok.tokenize(split.suffix), fimMid!, ...middleTokens(tok, split), eos!);
      stats[`fim_${split.mode}`] = (stats[`fim_${split.mode}`] ?? 0) + 1;
    } else {
      if (!inRun) out.push(bos!);
      inRun = true;
      out.push(...tok.tokenize(piece));
      stats.plain = (stats.plain ?? 0) + 1;
    }
  }
  if (inRun) out.push(eos!);
  return out;
}

async function main(): Promise<void> {
  const [corpusDir, vocabPath, outDir, maxTrainArg, maxValArg] = process.argv.slice(2);
  if (!corpusDir || !vocabPath || !outDir || !maxTrainArg) {
    console.error("usage: tokenizeCorpus <corpus dir> <vocab.gguf> <out dir> <max train tokens> [max val tokens]");
    process.exit(2);
  }
  const maxTrain = Number(maxTrainArg);
  const maxVal = Number(maxValArg ?? 2_000_000);
  fs.mkdirSync(outDir, { recursive: true });
  const tok = await loadTokenizer(vocabPath);
  const { bos, eos, fimPre, fimSuf, fimMid } = tok.special;
  for (const [k, v] of Object.entries({ bos, eos, fimPre, fimSuf, fimMid })) {
    if (v === undefined) throw new Error(`${vocabPath}: the vocabulary has no ${k} token`);
  }
  const rand = seededRandom(20241125);

  // Training stream: files in a seeded random order until the token budget.
  const train = shuffle(await readJsonl(path.join(corpusDir, "train.jsonl")), rand);
  const stream = new IdStream();
  const stats: Record<string, number> = {};
  const byLang: Record<string, { files: number; tokens: number }> = {};
  const t0 = Date.now();
  let used = 0;
  for (const f of train) {
    if (stream.length >= maxTrain) break;
    const ids = fileTokens(tok, f, rand, stats);
    stream.push(ids);
    used++;
    const l = (byLang[f.lang] ??= { files: 0, tokens: 0 });
    l.files++;
    l.tokens += ids.length;
    if (used % 2000 === 0) console.error(`${used} files, ${(stream.length / 1e6).toFixed(1)}M tokens, ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  }
  const trainParts = writeTrainStream(outDir, stream.bytes());
  const trainXz = trainParts.reduce((sum, p) => sum + p.xzBytes, 0);

  // Held-out stream: plain files, in a seeded order, for perplexity.
  const heldout = shuffle(await readJsonl(path.join(corpusDir, "heldout.jsonl")), seededRandom(7));
  const val = new IdStream();
  let valFiles = 0;
  for (const f of heldout) {
    if (val.length >= maxVal) break;
    val.push([bos!, ...tok.tokenize(f.text), eos!]);
    valFiles++;
  }
  const valXz = writeXz(path.join(outDir, "val.u16.xz"), val.bytes());

  // Check sequences: the start of a held-out file of each language, and one FIM prompt.
  const positions = [0, 1, 2, 7, 31, 64, 100, 127];
  const sequences: { name: string; tokens: number[]; positions: number[] }[] = [];
  for (const lang of ["ts", "js", "py"]) {
    const f = heldout.find((h) => h.lang === lang && h.text.length > 2000);
    if (!f) continue;
    sequences.push({ name: `${lang}:${f.pkg}/${f.path}`, tokens: [bos!, ...tok.tokenize(f.text)].slice(0, 128), positions });
  }
  const fimSource = heldout.find((h) => h.lang === "ts" && h.text.length > 3000) ?? heldout[0];
  const split = fimSplit(fimSource.text.slice(0, 1500), seededRandom(3))!;
  const fimPrompt = [bos!, fimPre!, ...tok.tokenize(split.prefix), fimSuf!, ...tok.tokenize(split.suffix), fimMid!, ...middleTokens(tok, split)].slice(0, 128);
  sequences.push({ name: `fim:${fimSource.pkg}/${fimSource.path}`, tokens: fimPrompt, positions: positions.filter((p) => p < fimPrompt.length) });
  fs.writeFileSync(path.join(outDir, "check-sequences.json"), JSON.stringify({ sequences }) + "\n");

  const summary = {
    trainFiles: used,
    trainFilesAvailable: train.length,
    trainTokens: stream.length,
    trainXzBytes: trainXz,
    trainParts,
    valFiles,
    valTokens: val.length,
    valXzBytes: valXz,
    byLang,
    pieces: stats,
    seconds: (Date.now() - t0) / 1000,
  };
  fs.writeFileSync(path.join(outDir, "tokens.json"), JSON.stringify(summary, null, 1) + "\n");
  console.log(JSON.stringify(summary, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
