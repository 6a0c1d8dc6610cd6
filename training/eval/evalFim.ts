/**
 * Next-line exact match through the engine: at random cursor positions in
 * held-out files, the engine's own completion prompt (buildFimPrompt: prefix
 * lines, the lines after the cursor's line as suffix, the current line up to
 * the cursor after the middle marker, healed as the engine heals it) is
 * completed greedily (the engine's HealingGreedy step) up to the end of the
 * line, and the result is compared, trimmed, with the true rest of the
 * line.
 *
 *   node evalFim.js <model.gguf> <heldout.jsonl> [samples=200] [contextSize=2048] [seed=7] [all-samples.json]
 */
import * as fs from "node:fs";
import { buildFimPrompt } from "../../engine/completion/fimPrompt";
import { cursorContext, splitLines } from "../../engine/completion/cursorContext";
import { detectFimFormat } from "../../engine/completion/fimFormat";
import { TokenCache } from "../../engine/completion/tokenCache";
import { HealingGreedy, healPrompt } from "../../engine/completion/tokenHealing";
import { LocalModel } from "../../engine/model/localModel";
import { Tokenizer } from "../../engine/tokenizer/tokenizer";
import { readGgufHeader } from "../../engine/gguf/ggufReader";
import { seededRandom } from "../corpus/fimTransform";

interface HeldoutFile {
  pkg: string;
  path: string;
  lang: string;
  text: string;
}

const MAX_NEW_TOKENS = 48;

function pickCursor(files: HeldoutFile[], rand: () => number): { file: HeldoutFile; lines: string[]; line: number; character: number } {
  for (;;) {
    const file = files[Math.floor(rand() * files.length)];
    const lines = splitLines(file.text);
    const line = Math.floor(rand() * lines.length);
    const text = lines[line];
    const indent = text.length - text.trimStart().length;
    // A cursor somewhere after the indentation, with something left to type on the line.
    if (text.trim().length < 2) continue;
    const character = indent + Math.floor(rand() * (text.trimEnd().length - indent));
    return { file, lines, line, character };
  }
}

async function main(): Promise<void> {
  const [modelPath, heldoutPath, samplesArg = "200", ctxArg = "2048", seedArg = "7", dumpPath] = process.argv.slice(2);
  if (!modelPath || !heldoutPath) {
    console.error("usage: evalFim <model.gguf> <heldout.jsonl> [samples] [contextSize] [seed]");
    process.exit(2);
  }
  const samples = Number(samplesArg);
  const contextSize = Number(ctxArg);
  const files: HeldoutFile[] = fs
    .readFileSync(heldoutPath, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
  const tok = Tokenizer.fromGguf(await readGgufHeader(modelPath));
  const fim = detectFimFormat(tok);
  if (fim.name !== "deepseek-coder") throw new Error(`${modelPath}: FIM format "${fim.name}", expected deepseek-coder`);
  const model = await LocalModel.load(modelPath, { contextSize, threads: 2 });
  const cache = new TokenCache(tok);
  const rand = seededRandom(Number(seedArg));
  let exact = 0;
  let promptTokens = 0;
  let generated = 0;
  const t0 = Date.now();
  const all: { file: string; line: number; expected: string; got: string; stop: string }[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const { file, lines, line, character } = pickCursor(files, rand);
      const truth = lines[line].slice(character);
      // The hidden text is the rest of the line; the suffix starts with the next line.
      const ctx = cursorContext(lines.map((l, k) => (k === line ? l.slice(0, character) : l)), { line, character });
      const prompt = buildFimPrompt(tok, cache, fim, ctx, [], { maxTokens: contextSize - MAX_NEW_TOKENS, extraTokens: 0 });
      const healed = healPrompt(tok, prompt.tokens, prompt.tailStart);
      promptTokens += healed.tokens.length;
      model.truncate(0, 0);
      let result = await model.eval(0, healed.tokens);
      const greedy = new HealingGreedy(tok, healed);
      let steps = 0;
      let text = "";
      let stop = "length";
      // Tokens that spell the taken-back text count against the limit, as in the engine.
      while (steps < MAX_NEW_TOKENS) {
        const next = greedy.step(result.logits);
        if (next.eog) {
          stop = "eog";
          break;
        }
        steps++;
        text += next.text;
        if (text.includes("\n")) {
          stop = "newline";
          break;
        }
        result = await model.eval(0, [next.id]);
      }
      generated += steps;
      const got = text.split("\n")[0];
      const ok = got.trim() === truth.trim();
      if (ok) exact++;
      all.push({ file: `${file.pkg}/${file.path}`, line: line + 1, expected: truth, got, stop });
    }
  } finally {
    model.free();
  }
  const seconds = (Date.now() - t0) / 1000;
  if (dumpPath) fs.writeFileSync(dumpPath, JSON.stringify(all, null, 1) + "\n");
  const examples = all.slice(0, 12);
  console.log(
    JSON.stringify(
      {
        model: modelPath,
        samples,
        exactMatch: exact / samples,
        exact,
        meanPromptTokens: Math.round(promptTokens / samples),
        generatedTokens: generated,
        seconds,
        examples,
      },
      null,
      1,
    ),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
