import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalModel } from "../../engine/model/localModel";
import { compareLogits, rows } from "../helpers/logitStats";
import { sharedTestdata } from "../helpers/paths";

interface Reference {
  sequences: Record<string, { tokens: number[] } & Record<string, { logits: number[][] }>>;
}

const reference = JSON.parse(
  fs.readFileSync(path.join(sharedTestdata, "models/stories260K.reference.json"), "utf8"),
) as Reference;

// Tolerances from ../shared/testdata/README.md (measured there, not guessed), and the KV cache type
// llama.cpp used for each file's reference logits.
const tolerances = {
  "stories260K-f32.gguf": { median: 0.005, worst: 0.03, argmax: 0.97, kvType: "f32" },
  "stories260K-q8_0.gguf": { median: 0.06, worst: Infinity, argmax: 0.9, kvType: "f16" },
} as const;

for (const [file, tol] of Object.entries(tolerances)) {
  describe(`logits agree with llama.cpp on ${file}`, () => {
    let model: LocalModel;
    beforeAll(async () => {
      model = await LocalModel.load(path.join(sharedTestdata, "models", file), {
        contextSize: 256,
        threads: 2,
        kvType: tol.kvType,
      });
    });
    afterAll(() => model.free());

    const pooled = { ours: [] as Float32Array[], ref: [] as number[][] };
    for (const name of ["short8", "story64", "story200"]) {
      it(`matches every position of ${name} within the README's tolerances`, async () => {
        const seq = reference.sequences[name];
        model.truncate(0, 0);
        const result = await model.eval(0, seq.tokens, { allLogits: true });
        const ours = rows(result.logits, model.info.nVocab);
        const stats = compareLogits(ours, seq[file].logits);
        console.log(
          `${file} ${name}: median rel. error ${stats.median.toFixed(4)}, worst ${stats.worst.toFixed(4)}, argmax ${(100 * stats.argmaxAgreement).toFixed(1)}%`,
        );
        expect(stats.median).toBeLessThanOrEqual(tol.median);
        expect(stats.worst).toBeLessThanOrEqual(tol.worst);
        pooled.ours.push(...ours);
        pooled.ref.push(...seq[file].logits);
      });
    }

    it("agrees on the argmax of at least the README's share of all positions", () => {
      const stats = compareLogits(pooled.ours, pooled.ref);
      console.log(`${file} all ${pooled.ref.length} positions: argmax ${(100 * stats.argmaxAgreement).toFixed(1)}%`);
      expect(pooled.ref.length).toBe(272);
      expect(stats.argmaxAgreement).toBeGreaterThanOrEqual(tol.argmax);
    });
  });
}
