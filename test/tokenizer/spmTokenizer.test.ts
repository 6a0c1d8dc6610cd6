import { describe, expect, it } from "vitest";
import { TokenType } from "../../engine/tokenizer/vocab";
import { makeSpm } from "./helpers";

describe("SentencePiece tokenizer", () => {
  const tok = makeSpm([
    ["▁", -1],
    ["▁h", -3],
    ["he", -2],
    ["ll", -2.5],
    ["llo", -4],
    ["hello", -5],
    ["▁hello", -6],
    ["▁▁", -3],
    ["h", -10],
    ["e", -10],
    ["l", -10],
    ["o", -10],
    ["w", -10],
  ]);
  const id = (t: string) => tok.tokenId(t)!;

  it("merges the highest-scoring pair first and prefixes a space", () => {
    // " hello" -> ▁ h e l l o; he(-2) then ll(-2.5) then llo, hello, ▁hello.
    expect(tok.tokenize("hello")).toEqual([id("▁hello")]);
  });

  it("breaks score ties by taking the leftmost pair", () => {
    const t = makeSpm([["ab", -1], ["bc", -1], ["a", -5], ["b", -5], ["c", -5], ["▁", -5]], { addSpacePrefix: false });
    expect(t.tokenize("abc")).toEqual([t.tokenId("ab"), t.tokenId("c")]);
  });

  it("falls back to byte tokens for characters it lacks", () => {
    // "é" is C3 A9; "🦙" is F0 9F A6 99.
    expect(tok.tokenize("wé🦙")).toEqual([id("▁"), id("w"), 3 + 0xc3, 3 + 0xa9, 3 + 0xf0, 3 + 0x9f, 3 + 0xa6, 3 + 0x99]);
  });

  it("honours tokenizer.ggml.add_space_prefix = false", () => {
    const t = makeSpm([["he", -1], ["h", -2], ["e", -2]], { addSpacePrefix: false });
    expect(t.tokenize("he")).toEqual([t.tokenId("he")]);
  });

  it("adds BOS only when asked and when the vocabulary wants it", () => {
    expect(tok.tokenize("hello", { addSpecial: true })).toEqual([1, id("▁hello")]);
    const noBos = makeSpm([["▁", -1]], { addBos: false });
    expect(noBos.tokenize(" ", { addSpecial: true })).toEqual([noBos.tokenId("▁"), noBos.tokenId("▁")]);
    const eos = makeSpm([["▁", -1]], { addEos: true });
    expect(eos.tokenize("", { addSpecial: true })).toEqual([1, 2]);
  });

  it("gives nothing for empty text", () => {
    expect(tok.tokenize("")).toEqual([]);
  });

  it("spells malformed UTF-8 input with byte tokens, cutting by the lead byte's length", () => {
    // E4 announces 3 bytes, so it swallows "ab"; FF stands alone.
    const bytes = Uint8Array.of(0x68, 0xe4, 0x61, 0x62, 0xff);
    expect(tok.tokenize(bytes)).toEqual([id("▁h"), 3 + 0xe4, 3 + 0x61, 3 + 0x62, 3 + 0xff]);
  });

  it("treats control-token text as plain text unless parseSpecial", () => {
    expect(tok.tokenize("<s>")).not.toContain(1);
    expect(tok.tokenize("<s>hello", { parseSpecial: true })).toEqual([1, id("▁hello")]);
  });

  it("always splits out user-defined tokens, with a space prefix after each as llama.cpp does", () => {
    const plain = makeSpm([["▁", -1], ["x", -1], ["<tag>", 0]]);
    const tag = plain.tokenId("<tag>")!;
    const types = plain.vocab.attrs.length;
    const tokenTypes = Array.from({ length: types }, (_, i) =>
      i === 0 ? TokenType.UNKNOWN : i < 3 ? TokenType.CONTROL : i < 259 ? TokenType.BYTE : i === tag ? TokenType.USER_DEFINED : TokenType.NORMAL,
    );
    const ud = makeSpm([["▁", -1], ["x", -1], ["<tag>", 0]], { tokenTypes });
    const [sp, x] = [ud.tokenId("▁")!, ud.tokenId("x")!];
    expect(ud.tokenize("x<tag>x")).toEqual([sp, x, tag, sp, x]);
    // As a normal token, the text is left to the merges (which cannot build it here).
    expect(plain.tokenize("x<tag>x")).not.toContain(tag);
  });

  it("decodes with the leading space removed, as llama.cpp does", () => {
    expect(tok.detokenize(tok.tokenize("hello"))).toBe("hello");
    expect(tok.detokenize(tok.tokenize(" hello"))).toBe(" hello");
    expect(tok.detokenize(tok.tokenize("wé🦙"))).toBe("wé🦙");
    // With BOS first, llama.cpp keeps the space.
    expect(tok.detokenize(tok.tokenize("hello", { addSpecial: true }), { removeSpecial: true })).toBe(" hello");
  });
});
