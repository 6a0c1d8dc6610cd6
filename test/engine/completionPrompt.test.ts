/** The completion prompt: its layout, its budgets, and the extra-context ring buffer. */
import { beforeAll, describe, expect, test } from "vitest";
import { cursorContext, splitLines } from "../../engine/completion/cursorContext";
import { ExtraContext } from "../../engine/completion/extraContext";
import { detectFimFormat, type FimFormat } from "../../engine/completion/fimFormat";
import { buildFimPrompt } from "../../engine/completion/fimPrompt";
import { TokenCache } from "../../engine/completion/tokenCache";
import { loadTokenizer, type Tokenizer } from "../../engine/tokenizer/tokenizer";
import { deepseekVocabPath, storiesModelPath } from "./helpers/fimModel";

let tok: Tokenizer;
let fim: FimFormat;

beforeAll(async () => {
  tok = await loadTokenizer(deepseekVocabPath);
  fim = detectFimFormat(tok);
});

const doc = ["import os", "", "def main():", "    path = os.getcwd()", "    print(pa)", "", "main()"];

describe("FIM format", () => {
  test("finds DeepSeek-Coder's markers in its vocabulary", () => {
    expect(fim.name).toBe("deepseek-coder");
    expect(tok.tokenText(fim.pre!)).toBe("<｜fim▁begin｜>");
    expect(tok.tokenText(fim.suf!)).toBe("<｜fim▁hole｜>");
    expect(tok.tokenText(fim.mid!)).toBe("<｜fim▁end｜>");
  });

  test("a vocabulary without FIM markers gets prefix-only continuation", async () => {
    expect(detectFimFormat(await loadTokenizer(storiesModelPath)).name).toBe("none");
  });
});

describe("prompt layout", () => {
  test("puts prefix lines, then the suffix, then the current line after the middle marker", () => {
    const ctx = cursorContext(doc, { line: 4, character: 12 });
    expect(ctx).toMatchObject({ linePrefix: "    print(pa", lineSuffix: ")", suffix: "\nmain()" });
    const p = buildFimPrompt(tok, new TokenCache(tok), fim, ctx, [], { maxTokens: 1000, extraTokens: 0 });
    const text = tok.detokenize(p.tokens, { unparseSpecial: true });
    expect(p.tokens[0]).toBe(tok.special.bos);
    expect(p.tokens[1]).toBe(fim.pre);
    const pre = p.tokens.indexOf(fim.pre!);
    const suf = p.tokens.indexOf(fim.suf!);
    const mid = p.tokens.indexOf(fim.mid!);
    expect(pre).toBeLessThan(suf);
    expect(suf).toBeLessThan(mid);
    expect(tok.detokenize(p.tokens.slice(pre + 1, suf))).toBe("import os\n\ndef main():\n    path = os.getcwd()\n");
    expect(tok.detokenize(p.tokens.slice(suf + 1, mid))).toBe(")\n\nmain()");
    expect(tok.detokenize(p.tokens.slice(mid + 1))).toBe("    print(pa");
    expect(p.tailStart).toBe(mid + 1);
    expect(text).toBe("<｜begin▁of▁sentence｜><｜fim▁begin｜>import os\n\ndef main():\n    path = os.getcwd()\n<｜fim▁hole｜>)\n\nmain()<｜fim▁end｜>    print(pa");
  });

  test("typing on the current line changes only the tokens after the middle marker", () => {
    const cache = new TokenCache(tok);
    const a = buildFimPrompt(tok, cache, fim, cursorContext(doc, { line: 4, character: 12 }), [], { maxTokens: 1000, extraTokens: 0 });
    const typed = [...doc];
    typed[4] = "    print(pat)";
    const b = buildFimPrompt(tok, cache, fim, cursorContext(typed, { line: 4, character: 13 }), [], { maxTokens: 1000, extraTokens: 0 });
    expect(b.tokens.slice(0, a.tailStart)).toEqual(a.tokens.slice(0, a.tailStart));
    expect(b.tailStart).toBe(a.tailStart);
  });

  test("without FIM markers it is BOS, prefix lines and the current line only", async () => {
    const spm = await loadTokenizer(storiesModelPath);
    const none = detectFimFormat(spm);
    const p = buildFimPrompt(spm, new TokenCache(spm), none, cursorContext(doc, { line: 4, character: 12 }), [], { maxTokens: 1000, extraTokens: 0 });
    expect(p.fim).toBe(false);
    expect(p.tokens[0]).toBe(spm.special.bos);
    const prefix = spm.tokenize("import os\n\ndef main():\n    path = os.getcwd()\n");
    expect(p.tokens).toEqual([spm.special.bos, ...prefix, ...spm.tokenize("    print(pa")]);
  });

  test("drops prefix lines from the head, in steps, when the prompt is over budget", () => {
    const long = Array.from({ length: 100 }, (_, i) => `x${i} = ${i}`).concat(["y = "]);
    const ctx = cursorContext(long, { line: 100, character: 4 });
    const p = buildFimPrompt(tok, new TokenCache(tok), fim, ctx, [], { maxTokens: 200, extraTokens: 0, dropStep: 16 });
    expect(p.tokens.length).toBeLessThanOrEqual(200);
    expect(p.prefixStartLine % 16).toBe(0);
    expect(p.prefixStartLine).toBeGreaterThan(0);
    const pre = p.tokens.indexOf(fim.pre!);
    expect(tok.detokenize(p.tokens.slice(pre + 1, pre + 6))).toMatch(new RegExp(`^x${p.prefixStartLine} =`));
  });

  test("extra context comes first, within its token budget", () => {
    const chunks = [
      { name: "util.py", text: "def helper():\n    return 42\n" },
      { name: "big.py", text: "z = 1\n".repeat(200) },
    ];
    const ctx = cursorContext(doc, { line: 4, character: 12 });
    const p = buildFimPrompt(tok, new TokenCache(tok), fim, ctx, chunks, { maxTokens: 1000, extraTokens: 100 });
    expect(p.extraChunks).toBe(1);
    const pre = p.tokens.indexOf(fim.pre!);
    expect(tok.detokenize(p.tokens.slice(1, pre))).toBe("util.py\ndef helper():\n    return 42\n\n\n");
  });

  test("the first prefix line moves in steps of 16 as lines are added", () => {
    const lines = splitLines("a\n".repeat(300));
    expect(cursorContext(lines, { line: 200, character: 0 }, { maxPrefixLines: 128 }).prefixStartLine).toBe(80);
    expect(cursorContext(lines, { line: 201, character: 0 }, { maxPrefixLines: 128 }).prefixStartLine).toBe(80);
    expect(cursorContext(lines, { line: 209, character: 0 }, { maxPrefixLines: 128 }).prefixStartLine).toBe(96);
  });
});

describe("extra context ring buffer", () => {
  const body = (tag: string) => Array.from({ length: 10 }, (_, i) => `${tag}_${i} = ${i}`).join("\n");

  test("drops near-duplicates of a chunk it holds and keeps within capacity", () => {
    const ring = new ExtraContext({ capacity: 3 });
    ring.add("file:///a.py", 0, body("a"));
    ring.add("file:///a.py", 0, body("a") + "\nextra = 1");
    expect(ring.size).toBe(1);
    ring.add("file:///b.py", 0, body("b"));
    ring.add("file:///c.py", 0, body("c"));
    ring.add("file:///d.py", 0, body("d"));
    expect(ring.size).toBe(3);
    const picked = ring.select("file:///x.py", 1e9, () => 1).map((c) => c.uri);
    expect(picked).toEqual(["file:///b.py", "file:///c.py", "file:///d.py"]);
  });

  test("selects chunks of other documents only, newest that fit, oldest first", () => {
    const ring = new ExtraContext();
    ring.add("file:///a.py", 0, body("a"));
    ring.add("file:///b.py", 0, body("b"));
    ring.add("file:///c.py", 0, body("c"));
    expect(ring.select("file:///c.py", 2, () => 1).map((c) => c.uri)).toEqual(["file:///a.py", "file:///b.py"]);
    expect(ring.select("file:///a.py", 1, () => 1).map((c) => c.uri)).toEqual(["file:///c.py"]);
  });
});
