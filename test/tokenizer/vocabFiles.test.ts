import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadTokenizer, type Tokenizer } from "../../engine/tokenizer/tokenizer";

const VOCAB_DIR = path.resolve(__dirname, "../../../shared/testdata/vocab");

interface Case {
  text: string;
  ids: number[];
}

/** The .inp/.out pairs made by llama.cpp's tokenizer test (add_special=false, parse_special=false). */
function readCases(file: string): Case[] {
  const inputs = readFileSync(path.join(VOCAB_DIR, file + ".inp"), "utf8").split("\n__ggml_vocab_test__\n");
  // The file ends with one more separator line, which leaves an empty last element.
  if (inputs[inputs.length - 1] === "") inputs.pop();
  const outputs = readFileSync(path.join(VOCAB_DIR, file + ".out"), "utf8").split("\n");
  if (outputs[outputs.length - 1] === "") outputs.pop();
  if (inputs.length !== outputs.length) throw new Error(`${file}: ${inputs.length} inputs but ${outputs.length} outputs`);
  return inputs.map((text, i) => {
    const line = outputs[i].trim();
    return { text, ids: line === "" ? [] : line.split(/\s+/).map(Number) };
  });
}

for (const file of ["ggml-vocab-llama-spm.gguf", "ggml-vocab-deepseek-coder.gguf"]) {
  describe(file, () => {
    let tok: Tokenizer;
    const cases = readCases(file);
    beforeAll(async () => {
      tok = await loadTokenizer(path.join(VOCAB_DIR, file));
    });

    it("has llama.cpp's test strings", () => {
      expect(cases.length).toBeGreaterThan(30);
    });

    it.each(cases.map((c, i) => [i, JSON.stringify(c.text), c] as const))(
      "case %i %s gives llama.cpp's ids",
      (_i, _label, c) => {
        expect(tok.tokenize(c.text)).toEqual(c.ids);
      },
    );

    it("decodes every case back to its input where the tokens spell it", () => {
      let roundTrips = 0;
      for (const c of cases) {
        const back = tok.detokenize(c.ids);
        // SentencePiece drops the leading space it added; text that starts with a
        // space loses nothing. A few inputs hold characters the ids cannot spell
        // exactly; those must still decode to the same text twice over.
        if (back === c.text) roundTrips++;
        else expect(tok.detokenize(tok.tokenize(back))).toBe(back);
      }
      expect(roundTrips).toBeGreaterThanOrEqual(cases.length - 3);
    });
  });
}
