import { describe, expect, it } from "vitest";
import { GgmlType } from "../../engine/gguf/ggufFormat";
import { buildSyntheticLlama, type SyntheticLlamaSpec } from "../../engine/gguf/syntheticLlama";
import { loadLlamaGgufBytes } from "./llamaFromGguf";
import { applyRope, llamaForward, llamaWeightsByName, type LlamaHyperParams } from "./llamaReference";

const SPEC: SyntheticLlamaSpec = {
  dim: 64,
  nLayers: 4,
  nHeads: 8,
  nKvHeads: 2,
  headDim: 16,
  ffnDim: 160,
  vocab: 320,
  ctx: 128,
  tiedOutput: false,
  ropeFreqs: true,
  ropeScaleLinear: 2,
  normEps: 1e-5,
};
const TOKENS = [1, 17, 300, 42, 42, 5, 260, 99];

describe("the float64 reference on synthetic models", () => {
  it("computes the same logits from the written file as from the weights the model was built from", () => {
    const model = buildSyntheticLlama({ ...SPEC, types: { embedding: GgmlType.F16 } }, 3);
    const fromFile = loadLlamaGgufBytes(model.writer.toBytes(), "synthetic.gguf");
    const has = (name: string) => model.tensors.some((t) => t.name === name);
    // The file's hyper-parameters: it stores eps as a float32.
    const direct = llamaForward(fromFile.hp, llamaWeightsByName(fromFile.hp, (name) => (has(name) ? model.weight(name) : undefined)), TOKENS);
    expect(llamaForward(fromFile.hp, fromFile.weights, TOKENS)).toEqual(direct);
  });

  it("keeps logits finite and of order one through the layers", () => {
    const { hp, weights } = loadLlamaGgufBytes(buildSyntheticLlama(SPEC, 4).writer.toBytes(), "synthetic.gguf");
    for (const row of llamaForward(hp, weights, TOKENS)) {
      const rms = Math.sqrt(row.reduce((a, b) => a + b * b, 0) / row.length);
      expect(Number.isFinite(rms)).toBe(true);
      expect(rms).toBeGreaterThan(0.1);
      expect(rms).toBeLessThan(10);
    }
  });

  it("is causal: a position's logits do not depend on later tokens", () => {
    const { hp, weights } = loadLlamaGgufBytes(buildSyntheticLlama({ ...SPEC, nLayers: 2 }, 5).writer.toBytes(), "synthetic.gguf");
    const a = llamaForward(hp, weights, TOKENS);
    const b = llamaForward(hp, weights, [...TOKENS.slice(0, 5), 7, 8, 9]);
    expect(b.slice(0, 5)).toEqual(a.slice(0, 5));
    expect(b[5]).not.toEqual(a[5]);
  });
});

describe("RoPE in llama.cpp's GGUF convention", () => {
  const hp: LlamaHyperParams = {
    dim: 8, nLayers: 1, nHeads: 2, nKvHeads: 2, headDim: 4, ropeDim: 4, ffnDim: 8, vocab: 4,
    normEps: 1e-5, ropeFreqBase: 10000, ropeScaleLinear: 1,
  };
  const unit = (i: number) => Float64Array.from({ length: 8 }, (_, j) => (j === i ? 1 : 0));

  it("turns adjacent pairs (2i, 2i+1) by pos * base^(-2i/headDim), in every head", () => {
    const expectClose = (got: Float64Array, want: number[]) => want.forEach((x, i) => expect(got[i]).toBeCloseTo(x, 14));
    const v = unit(0);
    applyRope(v, 2, 3, hp);
    expectClose(v, [Math.cos(3), Math.sin(3), 0, 0, 0, 0, 0, 0]);
    const w = unit(6); // head 1, pair 1: frequency 10000^(-2/4) = 1/100
    applyRope(w, 2, 3, hp);
    expectClose(w, [0, 0, 0, 0, 0, 0, Math.cos(0.03), Math.sin(0.03)]);
  });

  it("divides positions by the linear factor and angles by rope_freqs", () => {
    const v = unit(2);
    applyRope(v, 2, 8, { ...hp, ropeScaleLinear: 4 }, Float64Array.from([1, 0.5]));
    expect(v[2]).toBeCloseTo(Math.cos((8 / 4 / 100) / 0.5), 15);
    expect(v[3]).toBeCloseTo(Math.sin((8 / 4 / 100) / 0.5), 15);
  });

  it("leaves position 0 unchanged", () => {
    const v = Float64Array.from({ length: 8 }, (_, i) => i + 1);
    applyRope(v, 2, 0, hp);
    expect(Array.from(v)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
