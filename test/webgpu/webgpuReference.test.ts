/**
 * The WebGPU backend against llama.cpp's logits for stories260K (F32 and
 * Q8_0 files), within the tolerances of ../shared/testdata/README.md, with
 * the packed int8 dot product and with the float path; and one token at a
 * time (the matrix-vector kernels) against the whole prompt at once (the
 * tiled kernels).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { argmax } from "../../engine/model/greedy";
import { WebGpuModel } from "../../engine/webgpu/webgpuModel";
import { compareLogits, rows } from "../helpers/logitStats";
import { sharedTestdata } from "../helpers/paths";
import { skipWebgpu, webgpuRequired, webgpuUnavailable } from "./webgpuAvailable";

const models = path.join(sharedTestdata, "models");
const reference = JSON.parse(fs.readFileSync(path.join(models, "stories260K.reference.json"), "utf8"));
const unavailable = await webgpuUnavailable();
const skip = await skipWebgpu();

it("has a WebGPU adapter where one is required", () => {
  if (webgpuRequired) expect(unavailable).toBe("");
});

const TOLERANCE = {
  "stories260K-f32.gguf": { median: 0.005, worst: 0.03, argmax: 0.97 },
  "stories260K-q8_0.gguf": { median: 0.06, worst: Infinity, argmax: 0.9 },
} as const;

describe.skipIf(skip)("WebGPU logits against llama.cpp", () => {
  for (const file of Object.keys(TOLERANCE) as (keyof typeof TOLERANCE)[]) {
    for (const dot of ["packed", "float"] as const) {
      describe(`${file}, ${dot} dot product`, () => {
        let model: WebGpuModel;
        beforeAll(async () => {
          model = await WebGpuModel.load(path.join(models, file), { allowSoftware: true, dot, nCtx: 256, nBatch: 64, nSlots: 1 });
          return () => model.free();
        });

        for (const name of ["story64", "story200", "short8"]) {
          it(`agrees on ${name}`, async () => {
            const seq = reference.sequences[name];
            model.truncate(0, 0);
            const r = await model.eval(0, Int32Array.from(seq.tokens), true);
            const got = compareLogits(rows(r.logits, 512), seq[file].logits);
            const tol = TOLERANCE[file];
            expect(got.median).toBeLessThanOrEqual(tol.median);
            expect(got.worst).toBeLessThanOrEqual(tol.worst);
            expect(got.argmaxAgreement).toBeGreaterThanOrEqual(tol.argmax);
          });
        }

        it("picks on the GPU the token the logits' argmax picks, reading back only its id", async () => {
          const tokens = Int32Array.from(reference.sequences.story64.tokens.slice(0, 24));
          model.truncate(0, 0);
          for (let i = 0; i < tokens.length; i++) {
            // The same step twice: once reading the logits back, once only the id.
            const full = await model.eval(0, tokens.subarray(i, i + 1), false);
            model.truncate(0, i);
            const step = await model.eval(0, tokens.subarray(i, i + 1), false, true);
            expect(step.logits.length).toBe(0);
            expect(step.argmax, `position ${i}`).toBe(argmax(full.logits));
          }
        });

        it("gives the same logits one token at a time as for the whole prompt", async () => {
          const tokens = Int32Array.from(reference.sequences.story64.tokens.slice(0, 24));
          model.truncate(0, 0);
          const whole = rows((await model.eval(0, tokens, true)).logits, 512);
          model.truncate(0, 0);
          for (let i = 0; i < tokens.length; i++) {
            const step = await model.eval(0, tokens.subarray(i, i + 1), false);
            const got = compareLogits([step.logits], [whole[i]]);
            // Different kernels sum in different orders; Q8_0 rounding can differ at a tie.
            expect(got.worst, `position ${i}`).toBeLessThan(2e-3);
          }
        });
      });
    }
  }
});
