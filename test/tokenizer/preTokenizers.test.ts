import { describe, expect, it } from "vitest";
import { PreTokenizer, isSupportedPre } from "../../engine/tokenizer/preTokenizers";
import { SUPPORTED_BPE_PRE } from "../../engine/tokenizer/vocab";

// Pieces that stress the splitters: spaces before letters, digits, punctuation,
// contractions in both cases, CR/LF runs, non-ASCII whitespace, CJK, emoji.
const ALPHABET = [
  " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2028", "\x0b", "\x85",
  "a", "Z", "é", "ß", "λ", "я", "中", "文", "가", "あ", "🦙", "𝒜", "👍🏽",
  "0", "7", "42", "²", "½", "٣", "Ⅻ",
  "'", "'s", "'S", "'ll", "'Re", "'ve", "'d", "'t", "'M",
  ".", ",", "(", ")", "{", "}", "<", ">", "=", "+", "$", "^", "`", "|", "~", "_", "-", "/", "\\", "\"", "#", "!", "?",
  "…", "，", "。", "‘", "—", "\u200b", "\ufeff", "\ufffd", "\u0301",
];

function randomText(seed: number, length: number): string {
  let s = seed;
  let out = "";
  for (let i = 0; i < length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out += ALPHABET[s % ALPHABET.length];
  }
  return out;
}

describe("pre-tokenizers", () => {
  it("supports every pre name the vocabulary loader accepts", () => {
    for (const pre of SUPPORTED_BPE_PRE) expect(isSupportedPre(pre), pre).toBe(true);
  });

  for (const pre of ["gpt-2", "llama-bpe", "qwen2", "deepseek-coder", "deepseek-llm", "starcoder", "smollm", "default", "falcon"]) {
    it(`${pre}: hand-written splitters cut exactly where the regexes do`, () => {
      const fast = new PreTokenizer(pre);
      const slow = new PreTokenizer(pre, { regexOnly: true });
      for (let seed = 1; seed <= 400; seed++) {
        const text = randomText(seed, 1 + (seed % 40));
        const words = fast.split(text);
        expect(words, JSON.stringify(text)).toEqual(slow.split(text));
        expect(words.join("")).toBe(text);
      }
    });
  }

  it("llama3 splits digits in threes, contractions caselessly and keeps newlines with their spaces", () => {
    const p = new PreTokenizer("llama-bpe");
    expect(p.split("I'M 1234567 ok  \n\n  x")).toEqual(["I", "'M", " ", "123", "456", "7", " ok", "  \n\n", " ", " x"]);
  });

  it("gpt-2 keeps contractions case-sensitive and leaves the last space to the next word", () => {
    const p = new PreTokenizer("gpt-2");
    expect(p.split("it'S   done")).toEqual(["it", "'", "S", "  ", " done"]);
  });

  it("deepseek-coder cuts newlines, letters with one leading space, punctuation, and single digits", () => {
    const p = new PreTokenizer("deepseek-coder");
    expect(p.split("  int x = 10;\r\n")).toEqual([" ", " int", " x", " = ", "1", "0", ";", "\r", "\n"]);
  });

  it("qwen2 splits every digit", () => {
    expect(new PreTokenizer("qwen2").split("x=123")).toEqual(["x", "=", "1", "2", "3"]);
  });
});
