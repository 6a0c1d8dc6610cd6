/** Token healing: which prompt tokens are taken back, and how greedy decoding spells them again. */
import * as path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { cursorContext } from "../../engine/completion/cursorContext";
import { detectFimFormat } from "../../engine/completion/fimFormat";
import { buildFimPrompt } from "../../engine/completion/fimPrompt";
import { TokenCache } from "../../engine/completion/tokenCache";
import { HealingGreedy, healPrompt } from "../../engine/completion/tokenHealing";
import { loadTokenizer, type Tokenizer } from "../../engine/tokenizer/tokenizer";
import { sharedTestdata } from "../helpers/paths";
import { deepseekVocabPath } from "./helpers/fimModel";

let tok: Tokenizer;
let spm: Tokenizer;

beforeAll(async () => {
  tok = await loadTokenizer(deepseekVocabPath);
  spm = await loadTokenizer(path.join(sharedTestdata, "vocab", "ggml-vocab-llama-spm.gguf"));
});

/** Byte-level BPE spelling of ASCII text (space -> Ġ). */
const id = (t: Tokenizer, text: string): number => {
  const found = t.tokenId(text.replaceAll(" ", "\u0120"));
  if (found === undefined) throw new Error(`no token ${JSON.stringify(text)}`);
  return found;
};

/** The taken-back bytes as text. */
const droppedText = (dropped: string): string => Buffer.from(dropped, "latin1").toString("utf8");

function heal(t: Tokenizer, text: string) {
  const ids = t.tokenize(text);
  const h = healPrompt(t, ids, 0);
  return { ids, ...h, text: droppedText(h.dropped) };
}

/** Logits that rank `ids` first to last above everything else. */
function logitsFavouring(t: Tokenizer, ...ids: number[]): Float32Array {
  const l = new Float32Array(t.nTokens);
  ids.forEach((x, i) => (l[x] = 100 - i));
  return l;
}

describe("which tokens are taken back", () => {
  test("a word cut by the cursor: the piece before the cursor and the one a longer token spans", () => {
    const h = heal(tok, "    retu");
    expect(h.ids).toEqual([id(tok, "   "), id(tok, " ret"), tok.tokenId("u")]);
    expect(h.tokens).toEqual([id(tok, "   ")]);
    expect(h.text).toBe(" retu");
    expect(h.droppedTokens).toBe(2);
  });

  test("an indentation-only line is taken back whole, so the model may split it as code does (`   `, ` return`)", () => {
    const h = heal(tok, "    ");
    expect(h.tokens).toEqual([]);
    expect(h.text).toBe("    ");
  });

  test("a trailing space is taken back, the start of the next word's token", () => {
    expect(heal(tok, "  return ").text).toBe(" ");
    expect(heal(tok, "const x = ").text).toBe(" = ");
  });

  test("an opening bracket is taken back, since `()` and friends are single tokens", () => {
    expect(heal(tok, "foo(").text).toBe("(");
  });

  test("a piece no longer token starts with stays in the prompt", () => {
    const h = heal(tok, "x = 12");
    expect(h.droppedTokens).toBe(0);
    expect(h.tokens).toEqual(h.ids);
  });

  test("nothing before the tail is taken back, so only the prompt's tail changes from keystroke to keystroke", () => {
    const ids = tok.tokenize("    retu");
    const h = healPrompt(tok, ids, 2);
    expect(h.tokens).toEqual(ids.slice(0, 2));
    expect(droppedText(h.dropped)).toBe("u");
  });

  test("typing through a word leaves the healed prompt as it was, so the KV cache keeps all of it", () => {
    const fim = detectFimFormat(tok);
    const cache = new TokenCache(tok);
    const doc = ["def f(x):", "    ", "", "f(1)"];
    const healed = ["    r", "    re", "    ret", "    retu"].map((line) => {
      const lines = [...doc];
      lines[1] = line;
      const p = buildFimPrompt(tok, cache, fim, cursorContext(lines, { line: 1, character: line.length }), [], { maxTokens: 200, extraTokens: 0 });
      return healPrompt(tok, p.tokens, p.tailStart);
    });
    for (const h of healed) expect(h.tokens).toEqual(healed[0].tokens);
    expect(healed.map((h) => droppedText(h.dropped))).toEqual([" r", " re", " ret", " retu"]);
  });

  test("marker tokens are never taken back", () => {
    const fim = detectFimFormat(tok);
    const p = buildFimPrompt(tok, new TokenCache(tok), fim, cursorContext(["x = 1", ""], { line: 1, character: 0 }), [], { maxTokens: 100, extraTokens: 0 });
    expect(p.tokens[p.tokens.length - 1]).toBe(fim.mid);
    const h = healPrompt(tok, p.tokens, 0);
    expect(h.tokens).toEqual(p.tokens);
    expect(h.dropped).toBe("");
  });

  test("kept tokens and taken-back bytes together are the prompt, in either vocabulary", () => {
    for (const t of [tok, spm]) {
      for (const text of ["    retu", "  return x", "foo.ba", "import { a", "\t\tif (x", "// héllo wö", "café", "    "]) {
        const ids = t.tokenize(text);
        const h = healPrompt(t, ids, 0);
        const pieces = (xs: number[]) => Buffer.concat(xs.map((x) => t.tokenToPiece(x)));
        const kept = pieces(h.tokens);
        const all = pieces(ids);
        expect(Buffer.concat([kept, Buffer.from(h.dropped, "latin1")]).equals(all)).toBe(true);
      }
    }
  });

  test("SentencePiece pieces carry their space, as the model saw them", () => {
    const h = heal(spm, "    retu");
    expect(h.tokens.map((x) => spm.tokenText(x))).toEqual(["▁▁▁▁"]);
    expect(h.text).toBe(" retu");
  });
});

describe("greedy decoding of a healed prompt", () => {
  test("the first token must spell the taken-back text; the completion is what comes after it", () => {
    const g = new HealingGreedy(tok, healPrompt(tok, tok.tokenize("    retu"), 0));
    expect(g.healing).toBe(true);
    // `foo` scores higher but does not start with ` retu`.
    const first = g.step(logitsFavouring(tok, id(tok, "foo"), id(tok, " return")));
    expect(first).toEqual({ id: id(tok, " return"), eog: false, text: "rn" });
    expect(g.healing).toBe(false);
  });

  test("a token that is only the start of the taken-back text constrains the next step to the rest", () => {
    const g = new HealingGreedy(tok, healPrompt(tok, tok.tokenize("    retu"), 0));
    expect(g.step(logitsFavouring(tok, id(tok, " re"), id(tok, " return")))).toEqual({ id: id(tok, " re"), eog: false, text: "" });
    expect(g.healing).toBe(true);
    // ` return` no longer fits; `urn` does not start with `tu`.
    expect(g.step(logitsFavouring(tok, id(tok, " return"), id(tok, "urn"), id(tok, "tu")))).toEqual({ id: id(tok, "tu"), eog: false, text: "" });
    expect(g.healing).toBe(false);
    expect(g.step(logitsFavouring(tok, id(tok, "rn"))).text).toBe("rn");
  });

  test("generation cannot end before the taken-back text is spelled again, and may after it", () => {
    const g = new HealingGreedy(tok, healPrompt(tok, tok.tokenize("foo("), 0));
    const eos = tok.special.eos!;
    const paren = tok.tokenId("()")!;
    expect(g.step(logitsFavouring(tok, eos, paren))).toEqual({ id: paren, eog: false, text: ")" });
    expect(g.step(logitsFavouring(tok, eos, paren))).toEqual({ id: eos, eog: true, text: "" });
  });

  test("without healing it is plain argmax", () => {
    const g = new HealingGreedy(tok, { dropped: "" });
    expect(g.healing).toBe(false);
    expect(g.step(logitsFavouring(tok, id(tok, "foo"))).id).toBe(id(tok, "foo"));
  });

  test("taken-back text is compared as bytes: a character may be spelled again across byte-level tokens", () => {
    const h = healPrompt(tok, tok.tokenize("é"), 0);
    expect(droppedText(h.dropped)).toBe("é");
    const g = new HealingGreedy(tok, h);
    // Byte-level BPE spells the bytes 0xC3 and 0xA9 as the characters U+00C3 and U+00A9.
    const [lead, trail] = [0xc3, 0xa9].map((b) => tok.tokenId(String.fromCharCode(b))!);
    expect(g.step(logitsFavouring(tok, lead)).text).toBe("");
    expect(g.healing).toBe(true);
    // Only the second byte of `é` fits now.
    expect(g.step(logitsFavouring(tok, id(tok, "foo"), trail))).toEqual({ id: trail, eog: false, text: "" });
    expect(g.healing).toBe(false);
    expect(g.step(logitsFavouring(tok, tok.tokenId("s")!)).text).toBe("s");
  });

  test("a token that spells the taken-back character and more gives the rest as text", () => {
    const g = new HealingGreedy(tok, healPrompt(tok, tok.tokenize("é"), 0));
    const es = tok.tokenize("és");
    expect(es).toHaveLength(1);
    expect(g.step(logitsFavouring(tok, es[0]))).toEqual({ id: es[0], eog: false, text: "s" });
  });

  test("works on a vocabulary without byte-level pieces (SentencePiece)", () => {
    const g = new HealingGreedy(spm, healPrompt(spm, spm.tokenize("    retu"), 0));
    const ret = spm.tokenId("▁return")!;
    expect(g.step(logitsFavouring(spm, spm.tokenId("▁foo")!, ret))).toEqual({ id: ret, eog: false, text: "rn" });
  });
});
