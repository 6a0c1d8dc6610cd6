import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadTokenizer, type Tokenizer } from "../../engine/tokenizer/tokenizer";
import reference from "./fixtures/referenceCases.json";

// Source code, CRLF, tabs, long space runs, emoji, CJK, marker texts...: ids made
// by llama.cpp itself (fixtures/makeReferenceCases.mjs), plain and with special
// tokens parsed.
const VOCAB_DIR = path.resolve(__dirname, "../../../shared/testdata/vocab");

interface RefCase {
  text: string;
  plain: number[];
  special: number[];
}

for (const [file, cases] of Object.entries(reference.vocabs) as [string, RefCase[]][]) {
  describe(`${file}: own cases against llama.cpp`, () => {
    let tok: Tokenizer;
    beforeAll(async () => {
      tok = await loadTokenizer(path.join(VOCAB_DIR, file));
    });

    it.each(cases.map((c, i) => [i, JSON.stringify(c.text).slice(0, 50), c] as const))(
      "case %i %s, special text as plain text",
      (_i, _label, c) => {
        expect(tok.tokenize(c.text)).toEqual(c.plain);
      },
    );

    it.each(cases.map((c, i) => [i, JSON.stringify(c.text).slice(0, 50), c] as const))(
      "case %i %s, special text parsed",
      (_i, _label, c) => {
        expect(tok.tokenize(c.text, { parseSpecial: true })).toEqual(c.special);
      },
    );

    it("decodes plain ids back to the source text", () => {
      for (const c of cases) {
        // Nothing is normalised away, except that SentencePiece pieces spell spaces
        // as "▁", so a "▁" typed in the text comes back as a space (llama.cpp too).
        const expected = tok.kind === "spm" ? c.text.replaceAll("\u2581", " ") : c.text;
        expect(tok.detokenize(c.plain), JSON.stringify(c.text)).toBe(expected);
      }
    });
  });
}
