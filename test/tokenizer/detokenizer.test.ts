import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadTokenizer, type Tokenizer } from "../../engine/tokenizer/tokenizer";
import { encodeUtf8 } from "../../engine/tokenizer/utf8";

const VOCAB_DIR = path.resolve(__dirname, "../../../shared/testdata/vocab");
const TEXT = "fn main() {\r\n\tlet s = \"héllo 世界 🦙👩‍💻\";\n    println!(\"{}\", s); // ✓\n}\n";

for (const file of ["ggml-vocab-llama-spm.gguf", "ggml-vocab-deepseek-coder.gguf"]) {
  describe(`${file}: streaming detokenization`, () => {
    let tok: Tokenizer;
    beforeAll(async () => {
      tok = await loadTokenizer(path.join(VOCAB_DIR, file));
    });

    it("emits only whole characters, token by token, and adds up to the full text", () => {
      const ids = tok.tokenize(TEXT);
      const stream = tok.createStreamDecoder({ stripLeadingSpace: true });
      let text = "";
      for (const id of ids) {
        const part = stream.push(id);
        expect(part).not.toMatch(/\uFFFD/);
        text += part;
      }
      text += stream.flush();
      expect(text).toBe(TEXT);
      expect(text).toBe(tok.detokenize(ids));
    });

    it("holds back a character split at any byte boundary until it is complete", () => {
      const bytes = encodeUtf8(TEXT);
      for (let cut1 = 0; cut1 <= bytes.length; cut1++) {
        const stream = tok.createStreamDecoder();
        const a = stream.pushBytes(bytes.subarray(0, cut1));
        const b = stream.pushBytes(bytes.subarray(cut1));
        expect(a + b + stream.flush()).toBe(TEXT);
        expect(a).not.toMatch(/\uFFFD/);
        // What came out first is a prefix of the text made of whole characters.
        expect(TEXT.startsWith(a)).toBe(true);
      }
    });

    it("emits U+FFFD for a sequence that can never complete", () => {
      const stream = tok.createStreamDecoder();
      expect(stream.pushBytes(Uint8Array.of(0xe4, 0xb8))).toBe("");
      expect(stream.pushBytes(Uint8Array.of(0x41))).toBe("\uFFFDA");
      expect(stream.pushBytes(Uint8Array.of(0xf0, 0x9f))).toBe("");
      expect(stream.flush()).toBe("\uFFFD");
    });

    it("renders control tokens as nothing unless asked", () => {
      const bos = tok.special.bos!;
      expect(tok.tokenToPiece(bos)).toHaveLength(0);
      expect(new TextDecoder().decode(tok.tokenToPiece(bos, { special: true }))).toBe(tok.tokenText(bos));
      expect(tok.detokenize([bos], { unparseSpecial: true })).toBe(tok.tokenText(bos));
    });

    it("round-trips bytes, including malformed UTF-8, through byte-exact decoding where the vocabulary can spell them", () => {
      const bytes = Uint8Array.of(0x61, 0xe4, 0x62, 0x0a, 0xff);
      const ids = tok.tokenize(bytes);
      const back = tok.detokenizeBytes(ids);
      if (tok.kind === "spm") expect(Array.from(back)).toEqual(Array.from(bytes));
      else expect(new TextDecoder().decode(back)).toBe("a\uFFFDb\n\uFFFD");
    });
  });
}

describe("tokenizer facade", () => {
  it("finds the FIM and end-of-turn ids of DeepSeek-Coder", async () => {
    const tok = await loadTokenizer(path.join(VOCAB_DIR, "ggml-vocab-deepseek-coder.gguf"));
    expect(tok.tokenText(tok.special.fimPre!)).toBe("<｜fim▁begin｜>");
    expect(tok.tokenText(tok.special.fimSuf!)).toBe("<｜fim▁hole｜>");
    expect(tok.tokenText(tok.special.fimMid!)).toBe("<｜fim▁end｜>");
    expect(tok.tokenText(tok.special.bos!)).toBe("<｜begin▁of▁sentence｜>");
    expect(tok.isEog(tok.special.eos!)).toBe(true);
    expect(tok.tokenize("x", { addSpecial: true })[0]).toBe(tok.special.bos);
  });

  it("reports a missing file by name", async () => {
    await expect(loadTokenizer("/nonexistent/model.gguf")).rejects.toThrow(/nonexistent\/model\.gguf/);
  });
});
