import { describe, expect, it } from "vitest";
import { BYTE_TO_CHAR, byteEncode } from "../../engine/tokenizer/byteUnicode";
import { Tokenizer } from "../../engine/tokenizer/tokenizer";
import { TokenType } from "../../engine/tokenizer/vocab";
import { bl } from "./helpers";

/** A byte-level BPE vocabulary: the 256 byte characters, then merges and their results. */
function makeBpe(merges: string[], pre = "gpt-2", extra: string[] = [], extraTypes: number[] = []) {
  const tokens = [...BYTE_TO_CHAR];
  for (const m of merges) {
    const joined = m.replace(" ", "");
    if (!tokens.includes(joined)) tokens.push(joined);
  }
  const types = tokens.map(() => TokenType.NORMAL);
  tokens.push(...extra);
  types.push(...extraTypes);
  return Tokenizer.fromSpec({ model: "gpt2", pre, tokens, tokenTypes: types, merges, addBos: false });
}

describe("byte-level BPE tokenizer", () => {
  const m = (l: string, r: string) => `${bl(l)} ${bl(r)}`;
  const tok = makeBpe([m("h", "e"), m("l", "l"), m("he", "ll"), m("hell", "o"), m(" ", "w"), m("o", "r"), m(" w", "or")]);
  const id = (t: string) => tok.tokenId(bl(t))!;

  it("applies merges by rank within each pre-tokenized word", () => {
    expect(tok.tokenize("hello world")).toEqual([id("hello"), id(" wor"), id("l"), id("d")]);
  });

  it("spells the byte-to-unicode table as GPT-2 does", () => {
    expect(byteEncode(" \n\t")).toBe("\u0120\u010A\u0109");
    expect(byteEncode("é")).toBe("\u00C3\u00A9");
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
  });

  it("breaks rank ties at the leftmost pair", () => {
    // "a a" merges into "aa" twice over "aaa": the leftmost pair goes first.
    const t = makeBpe(["a a"]);
    expect(t.tokenize("aaa")).toEqual([t.tokenId("aa"), t.tokenId("a")]);
  });

  it("turns malformed UTF-8 input into U+FFFD, one per bad byte", () => {
    const fffd = byteEncode("\uFFFD");
    const ids = tok.tokenize(Uint8Array.of(0x68, 0xff, 0xfe));
    expect(ids).toEqual([id("h"), ...[...fffd].map((c) => tok.tokenId(c)!), ...[...fffd].map((c) => tok.tokenId(c)!)]);
  });

  it("rejects an unknown pre-tokenizer with a message naming it", () => {
    expect(() => makeBpe([], "no-such-pre")).toThrow(/tokenizer\.ggml\.pre "no-such-pre" is not a supported pre-tokenizer/);
  });

  it("falls back to the default pre-tokenizer when the name is missing, and says so", () => {
    const t = Tokenizer.fromSpec({ model: "gpt2", tokens: [...BYTE_TO_CHAR], merges: [] });
    expect(t.warnings.join("\n")).toMatch(/pre is missing; using the "default" pre-tokenizer/);
  });

  it("recognises FIM markers only with parseSpecial, and finds their ids by text", () => {
    const t = makeBpe([], "deepseek-coder", ["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"], [4, 4, 4]);
    const pre = t.special.fimPre!;
    expect(t.tokenText(pre)).toBe("<｜fim▁begin｜>");
    expect(t.tokenText(t.special.fimSuf!)).toBe("<｜fim▁hole｜>");
    expect(t.tokenText(t.special.fimMid!)).toBe("<｜fim▁end｜>");
    expect(t.tokenize("x<｜fim▁begin｜>y")).not.toContain(pre);
    expect(t.tokenize("x<｜fim▁begin｜>y", { parseSpecial: true })).toEqual([t.tokenId("x"), pre, t.tokenId("y")]);
  });

  it("cleans spaces before punctuation on decode for gpt-2 style vocabularies", () => {
    const ids = tok.tokenize("hi , there .");
    expect(tok.detokenize(ids)).toBe("hi, there.");
  });

  it("keeps text exactly on decode for deepseek-coder style vocabularies", () => {
    const t = makeBpe([], "deepseek-coder");
    expect(t.detokenize(t.tokenize("hi , there ."))).toBe("hi , there .");
  });
});
