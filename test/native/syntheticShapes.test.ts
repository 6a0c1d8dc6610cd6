/**
 * The native engine against the float64 reference on synthetic models of many
 * shapes: every position of a ~32-token sequence, with the reference run on the
 * weights and hyper-parameters exactly as the written file stores them.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgmlType } from "../../engine/gguf/ggufFormat";
import { buildSyntheticLlama, type SyntheticLlamaSpec } from "../../engine/gguf/syntheticLlama";
import { LocalModel, type LoadOptions } from "../../engine/model/localModel";
import { loadAddon } from "../../engine/native/loadAddon";
import { compareLogits, rows } from "../helpers/logitStats";
import { tokenSequence } from "../helpers/tokenSequence";
import { loadLlamaGguf } from "../reference/llamaFromGguf";
import { llamaForward } from "../reference/llamaReference";

const { F32, F16, BF16 } = GgmlType;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ghostline-shapes-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Small defaults; each shape changes what it is about. */
const BASE: SyntheticLlamaSpec = {
  dim: 128,
  nLayers: 2,
  nHeads: 2,
  nKvHeads: 2,
  headDim: 64,
  ffnDim: 192,
  vocab: 1007, // not a multiple of 32
  ctx: 128,
  tiedOutput: false,
  normEps: 1e-5,
};

const ALL_F32 = { matrices: F32, embedding: F32, output: F32 };
const ALL_F16 = { matrices: F16, embedding: F16, output: F16 };

interface Shape {
  name: string;
  spec: Partial<SyntheticLlamaSpec>;
  /**
   * How the engine multiplies the matrices: "f32" all F32 or BF16, with float32 activations;
   * "f16" some F16, whose activations it rounds to F16 as llama.cpp does; "q8_0" some Q8_0,
   * whose activations it quantizes to Q8_0 blocks.
   */
  weights: "f32" | "f16" | "q8_0";
}

interface Tolerance {
  median: number; // median over positions of ||ours - ref|| / ||ref||
  worst: number; // the same at the worst position
  argmax: number; // share of positions whose top token agrees
  flipGap: number; // where it differs, the reference's gap between the two tokens, in units of the row's RMS
}

const SHAPES: Shape[] = [
  { name: "f32 mha hd64", weights: "f32", spec: { types: ALL_F32 } },
  { name: "f32 gqa4 hd128", weights: "f32", spec: { nHeads: 8, nKvHeads: 2, headDim: 128, types: ALL_F32 } },
  { name: "f32 gqa8 hd64 tied", weights: "f32", spec: { nHeads: 8, nKvHeads: 1, tiedOutput: true, types: ALL_F32 } },
  {
    name: "f32 rope_freqs linear x4 base 5e5",
    weights: "f32",
    spec: { nHeads: 4, nKvHeads: 1, ropeFreqs: true, ropeScaleLinear: 4, ropeFreqBase: 500000, types: ALL_F32 },
  },
  { name: "f32 4 layers ffn 200", weights: "f32", spec: { nLayers: 4, ffnDim: 200, types: ALL_F32 } },
  { name: "bf16 gqa8 hd64", weights: "f32", spec: { nHeads: 8, nKvHeads: 1, types: { matrices: BF16, embedding: BF16, output: BF16 } } },
  { name: "f16 gqa4 hd64", weights: "f16", spec: { nHeads: 4, nKvHeads: 1, types: ALL_F16 } },
  {
    name: "bf16/f16/f32 mixed",
    weights: "f16",
    spec: {
      nHeads: 4,
      nKvHeads: 2,
      types: { matrices: BF16, embedding: F16, output: F32, byName: { "blk.0.attn_v.weight": F32, "blk.1.ffn_down.weight": F16 } },
    },
  },
  // Row lengths that do not split into 32-value blocks: the kernels' tails.
  { name: "f16 dim 72 hd36", weights: "f16", spec: { dim: 72, nHeads: 2, nKvHeads: 1, headDim: 36, ffnDim: 100, types: ALL_F16 } },
  { name: "q8_0 mha hd64", weights: "q8_0", spec: {} },
  { name: "q8_0 mha hd128 tied", weights: "q8_0", spec: { headDim: 128, tiedOutput: true } },
  { name: "q8_0 gqa4 hd64", weights: "q8_0", spec: { nHeads: 8, nKvHeads: 2 } },
  { name: "q8_0 gqa4 hd128", weights: "q8_0", spec: { nHeads: 4, nKvHeads: 1, headDim: 128 } },
  { name: "q8_0 gqa8 hd64 tied", weights: "q8_0", spec: { nHeads: 8, nKvHeads: 1, tiedOutput: true } },
  { name: "q8_0 gqa8 hd128", weights: "q8_0", spec: { nHeads: 8, nKvHeads: 1, headDim: 128 } },
  {
    // llama.cpp keeps ffn_down in F16 when its rows (the FFN width) do not split into blocks; so does the builder.
    name: "q8_0 ffn 200 (f16 ffn_down) 3 layers",
    weights: "q8_0",
    spec: { nLayers: 3, ffnDim: 200, nHeads: 4, nKvHeads: 2 },
  },
  {
    name: "q8_0 + f16 embd, bf16 output, f32/bf16/f16 attn",
    weights: "q8_0",
    spec: {
      nHeads: 4,
      nKvHeads: 2,
      types: { embedding: F16, output: BF16, byName: { "blk.0.attn_q.weight": F32, "blk.1.attn_k.weight": BF16, "blk.1.attn_output.weight": F16 } },
    },
  },
  { name: "q8_0 dim 96 hd32 ffn 160", weights: "q8_0", spec: { dim: 96, nHeads: 3, nKvHeads: 1, headDim: 32, ffnDim: 160 } },
  {
    name: "q8_0 rope_freqs linear x2 base 1e6",
    weights: "q8_0",
    spec: { nHeads: 4, nKvHeads: 1, ropeFreqs: true, ropeScaleLinear: 2, ropeFreqBase: 1e6 },
  },
];

/*
 * Measured on this machine (AVX-512 kernels, 2 threads), over the shapes below:
 * - f32 or bf16 weights, f32 KV cache: median 3.4e-7 to 4.8e-7, worst 6.9e-7, argmax 100%.
 *   Float32 rounding only; 1e-5 leaves room for other summation orders (AVX2, generic kernels).
 * - one F16 rounding on the way (F16 KV cache, or activations rounded to F16 for F16 weights):
 *   median 9.8e-5 to 7.7e-4, worst 1.3e-3, argmax 100%. F16 keeps 11 bits (2^-11 = 4.9e-4),
 *   so the median sits near it; the bounds are about 3x the measured.
 * - Q8_0 weights (activations quantized to 8 bits per 32-value block): median 1.5e-2 to
 *   1.9e-2, worst 2.1e-2 to 3.5e-2, argmax 88% to 100%. The noise is a sum of many independent
 *   roundings, so it varies little between shapes and seeds; the bounds are about 1.8x the
 *   measured. A real error is far larger: dropping the linear RoPE scaling gives median 0.45,
 *   worst 1.2 (checked below).
 * Random models have flat tops, so near-ties flip under noise: where the argmax differs, the
 * reference's gap between its top token and ours must be small in units of the row's RMS
 * (measured at most 0.046 for Q8_0). Per-logit noise is about the relative error times the
 * RMS (0.02 for Q8_0), and a flip needs the difference of two such errors to cross the gap:
 * 0.2 is 7 standard deviations of that difference.
 */
const TOLERANCES: Record<"f32" | "half" | "q8_0", Tolerance> = {
  f32: { median: 5e-6, worst: 1e-5, argmax: 1, flipGap: 0 },
  half: { median: 2e-3, worst: 4e-3, argmax: 0.95, flipGap: 0.01 },
  q8_0: { median: 0.035, worst: 0.06, argmax: 0.8, flipGap: 0.2 },
};
function toleranceFor(weights: Shape["weights"], kvType: "f16" | "f32"): Tolerance {
  if (weights === "q8_0") return TOLERANCES.q8_0;
  return weights === "f32" && kvType === "f32" ? TOLERANCES.f32 : TOLERANCES.half;
}

// Evaluating the same tokens split differently must not change the logits beyond float32
// reordering (measured: bit-identical); max |difference| relative to the row's RMS.
const SAME_LOGITS = 1e-5;


async function writeModel(name: string, spec: SyntheticLlamaSpec, seed: number): Promise<string> {
  const file = path.join(tmp, `${name.replace(/[^a-z0-9]+/gi, "-")}.gguf`);
  await buildSyntheticLlama(spec, seed).writer.writeFile(file);
  return file;
}

async function nativeLogits(file: string, tokens: number[], kvType: "f16" | "f32"): Promise<Float32Array[]> {
  const model = await loadAddon().loadModel(file, { threads: 2, nCtx: 64, nBatch: 256, nSlots: 1, kvType });
  try {
    expect(model.info().kvType).toBe(kvType);
    const result = await model.eval(0, Int32Array.from(tokens), true);
    return rows(result.logits, model.info().nVocab);
  } finally {
    model.free();
  }
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function rms(row: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += row[i] * row[i];
  return Math.sqrt(sum / row.length);
}

/**
 * The largest reference gap, in units of the row's RMS, between the reference's
 * top token and ours at positions where they differ (0 when all agree). A
 * disagreement is acceptable only on a near-tie the engine's noise can flip.
 */
function worstFlipGap(ours: ArrayLike<number>[], ref: ArrayLike<number>[]): number {
  let worst = 0;
  ref.forEach((r, p) => {
    const a = argmax(r);
    const b = argmax(ours[p]);
    if (a !== b) worst = Math.max(worst, (r[a] - r[b]) / rms(r));
  });
  return worst;
}

function check(label: string, tol: Tolerance, ours: ArrayLike<number>[], ref: ArrayLike<number>[]): void {
  const stats = compareLogits(ours, ref);
  const flipGap = worstFlipGap(ours, ref);
  console.log(
    `OK shape ${label.padEnd(56)} median ${stats.median.toExponential(2)} worst ${stats.worst.toExponential(2)} ` +
      `argmax ${(100 * stats.argmaxAgreement).toFixed(0)}% (worst flip gap ${flipGap.toFixed(3)} rms)`,
  );
  expect(stats.median, `${label}: median relative error`).toBeLessThanOrEqual(tol.median);
  expect(stats.worst, `${label}: worst relative error`).toBeLessThanOrEqual(tol.worst);
  expect(stats.argmaxAgreement, `${label}: argmax agreement`).toBeGreaterThanOrEqual(tol.argmax);
  expect(flipGap, `${label}: reference gap where the argmax differs`).toBeLessThanOrEqual(tol.flipGap);
}

describe("the engine agrees with the float64 reference on synthetic shapes", () => {
  SHAPES.forEach((shape, i) => {
    for (const kvType of ["f32", "f16"] as const) {
      it(`matches every position for ${shape.name} with a ${kvType} KV cache`, async () => {
        const spec = { ...BASE, ...shape.spec };
        const file = await writeModel(`${shape.name}-${kvType}`, spec, 100 + i);
        const tokens = tokenSequence(24 + (i % 3) * 6, spec.vocab, 7 + i);
        const ours = await nativeLogits(file, tokens, kvType);
        // Hyper-parameters and weights as the file stores them (eps and freq_base as float32).
        const { hp, weights } = loadLlamaGguf(file);
        fs.rmSync(file);
        check(`${shape.name}, ${kvType} KV`, toleranceFor(shape.weights, kvType), ours, llamaForward(hp, weights, tokens));
      });
    }
  });

  it("would catch a RoPE error: the tolerances reject a reference without the linear scaling", async () => {
    const spec: SyntheticLlamaSpec = { ...BASE, nHeads: 4, nKvHeads: 1, ropeFreqs: true, ropeScaleLinear: 2, ropeFreqBase: 1e6 };
    const file = await writeModel("rope-mutant", spec, 99);
    const tokens = tokenSequence(30, spec.vocab, 5);
    const ours = await nativeLogits(file, tokens, "f16");
    const { hp, weights } = loadLlamaGguf(file);
    fs.rmSync(file);
    const wrong = compareLogits(ours, llamaForward({ ...hp, ropeScaleLinear: 1 }, weights, tokens));
    console.log(`mutant (rope scale 1 instead of 2): median ${wrong.median.toExponential(2)} worst ${wrong.worst.toExponential(2)}`);
    expect(wrong.worst).toBeGreaterThan(toleranceFor("q8_0", "f16").worst);
  });
});

describe("the engine gives the same logits however the work is split", () => {
  const spec: SyntheticLlamaSpec = {
    ...BASE,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 1,
    ffnDim: 200,
    types: { embedding: F16, byName: { "blk.1.attn_v.weight": BF16 } },
  };
  const tokens = tokenSequence(37, spec.vocab, 21);
  let file: string;
  let whole: Float32Array[];

  beforeAll(async () => {
    file = await writeModel("split", spec, 77);
    whole = await evalWith({ threads: 2 }, [tokens]);
  });

  /** All rows of evaluating `parts` one after another in one slot. */
  async function evalWith(options: LoadOptions, parts: number[][]): Promise<Float32Array[]> {
    const model = await LocalModel.load(file, { contextSize: 64, ...options });
    try {
      const out: Float32Array[] = [];
      for (const part of parts) out.push(...rows((await model.eval(0, part, { allLogits: true })).logits, model.info.nVocab));
      expect(Array.from(model.tokens(0))).toEqual(tokens);
      return out;
    } finally {
      model.free();
    }
  }

  /** max |a - b| over a row, relative to the row's RMS, worst over rows. */
  function maxDiff(a: Float32Array[], b: Float32Array[]): number {
    expect(a.length).toBe(b.length);
    let worst = 0;
    a.forEach((row, p) => {
      let d = 0;
      for (let i = 0; i < row.length; i++) d = Math.max(d, Math.abs(row[i] - b[p][i]));
      worst = Math.max(worst, d / rms(b[p]));
    });
    return worst;
  }

  function same(label: string, ours: Float32Array[]): void {
    const diff = maxDiff(ours, whole);
    console.log(`OK split ${label.padEnd(44)} max diff ${diff.toExponential(2)} rms${diff === 0 ? " (bit-identical)" : ""}`);
    expect(diff, label).toBeLessThanOrEqual(SAME_LOGITS);
  }

  it("returns the last row of allLogits when asked for the last logits only", async () => {
    const model = await LocalModel.load(file, { threads: 2, contextSize: 64 });
    try {
      const last = await model.eval(0, tokens);
      expect(last.nRows).toBe(1);
      expect(last.logits).toHaveLength(spec.vocab);
      same("allLogits=false vs last row", [...whole.slice(0, -1), last.logits]);
    } finally {
      model.free();
    }
  });

  it("gives the same logits for a prefix and then the rest as for one call", async () => {
    same("two calls (13 + 24 tokens)", await evalWith({ threads: 2 }, [tokens.slice(0, 13), tokens.slice(13)]));
    same("one token at a time", await evalWith({ threads: 2 }, tokens.map((t) => [t])));
  });

  it("gives the same logits with one thread as with two", async () => {
    same("1 thread", await evalWith({ threads: 1 }, [tokens]));
  });

  it("gives the same logits when prefill is chunked by a small batch size", async () => {
    same("batchSize 8 (chunked prefill)", await evalWith({ threads: 2, batchSize: 8 }, [tokens]));
    same("batchSize 1", await evalWith({ threads: 2, batchSize: 1 }, [tokens]));
  });
});
