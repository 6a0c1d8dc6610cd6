/**
 * Synthetic Llama models: the metadata and tensors llama.cpp writes for a
 * Llama GGUF, filled with seeded random weights. Each tensor is generated
 * from its own seed, so it can be produced lazily while writing and produced
 * again later to get the exact float64 values the file holds.
 */
import { GgmlType, GgufValueType, QK8_0, Q8_0_BLOCK_BYTES, ggmlTypeName, tensorBytes } from "./ggufFormat";
import { decodeTensor } from "./ggufTensorData";
import { GgufWriter } from "./ggufWriter";
import { addLlamaMetadata } from "./llamaMetadata";
import { encodeBf16, encodeF16, encodeF32, f32ToF16Bits, quantizeQ8_0 } from "./quantize";

/** Tensor types per role; `byName` wins over the roles. */
export interface SyntheticTensorTypes {
  matrices?: GgmlType; // attention and FFN weights (default Q8_0)
  embedding?: GgmlType; // token_embd.weight (default: matrices)
  output?: GgmlType; // output.weight (default: matrices)
  norms?: GgmlType; // norm vectors (default F32)
  byName?: Record<string, GgmlType>;
}

export interface SyntheticLlamaSpec {
  name?: string;
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim?: number; // default dim / nHeads
  ffnDim: number;
  vocab: number;
  ctx: number;
  tiedOutput: boolean;
  ropeFreqBase?: number; // default 10000
  ropeScaleLinear?: number; // linear position scaling factor; absent or 1 for none
  ropeFreqs?: boolean; // add rope_freqs.weight (per-pair frequency divisors)
  normEps: number;
  types?: SyntheticTensorTypes;
}

/** The spec with every default filled in: the hyper-parameters a forward pass needs. */
export interface SyntheticLlamaParams {
  name: string;
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  ropeDim: number;
  ffnDim: number;
  vocab: number;
  ctx: number;
  tiedOutput: boolean;
  ropeFreqBase: number;
  ropeScaleLinear: number;
  ropeFreqs: boolean;
  normEps: number;
}

export interface SyntheticTensor {
  name: string;
  dims: number[]; // ne: dims[0] is the row length
  type: GgmlType;
  byteLength: number;
}

export interface SyntheticLlama {
  writer: GgufWriter;
  params: SyntheticLlamaParams;
  tensors: SyntheticTensor[];
  /** The bytes of tensor `name` exactly as written to the file. */
  tensorBytes(name: string): Uint8Array;
  /** The float64 values of tensor `name` as the file stores them (after quantization). */
  weight(name: string): Float64Array;
}

/** TinyLlama 1.1B's shape (Q8_0 file of about 1.1 GB), for benchmarks. */
export const TINYLLAMA_SPEC: SyntheticLlamaSpec = {
  name: "synthetic-tinyllama",
  dim: 2048,
  nLayers: 22,
  nHeads: 32,
  nKvHeads: 4,
  ffnDim: 5632,
  vocab: 32000,
  ctx: 2048,
  tiedOutput: false,
  ropeFreqBase: 10000,
  normEps: 1e-5,
};


// Token types of tokenizer.ggml.token_type (llama_token_type).
const TOKEN_NORMAL = 1;
const TOKEN_UNKNOWN = 2;
const TOKEN_CONTROL = 3;
const TOKEN_BYTE = 6;

/** sfc32: a small, fast generator with good statistics, seeded through splitmix32. */
class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: number) {
    let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [-1, 1). */
  symmetric(): number {
    return this.u32() * (2 / 4294967296) - 1;
  }
}

/** How a tensor's values are drawn. */
type Fill =
  | { kind: "uniform"; std: number } // uniform in [-std*sqrt(3), std*sqrt(3)): standard deviation `std`
  | { kind: "nearOne" } // norm weights: 1 +- 0.1
  | { kind: "ropeFreqs" }; // frequency divisors from 1 to 4, the kind Llama 3 uses

interface TensorPlan extends SyntheticTensor {
  fill: Fill;
}

function resolve(spec: SyntheticLlamaSpec): SyntheticLlamaParams {
  const headDim = spec.headDim ?? spec.dim / spec.nHeads;
  const p: SyntheticLlamaParams = {
    name: spec.name ?? "synthetic-llama",
    dim: spec.dim,
    nLayers: spec.nLayers,
    nHeads: spec.nHeads,
    nKvHeads: spec.nKvHeads,
    headDim,
    ropeDim: headDim,
    ffnDim: spec.ffnDim,
    vocab: spec.vocab,
    ctx: spec.ctx,
    tiedOutput: spec.tiedOutput,
    ropeFreqBase: spec.ropeFreqBase ?? 10000,
    ropeScaleLinear: spec.ropeScaleLinear ?? 1,
    ropeFreqs: spec.ropeFreqs ?? false,
    normEps: spec.normEps,
  };
  const ints: (keyof SyntheticLlamaParams)[] = ["dim", "nLayers", "nHeads", "nKvHeads", "headDim", "ffnDim", "vocab", "ctx"];
  for (const k of ints) {
    const v = p[k] as number;
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`synthetic llama: ${k} must be a positive integer, got ${v}`);
  }
  if (p.nHeads % p.nKvHeads !== 0) throw new Error(`synthetic llama: nHeads ${p.nHeads} is not a multiple of nKvHeads ${p.nKvHeads}`);
  if (p.headDim % 2 !== 0) throw new Error(`synthetic llama: headDim ${p.headDim} must be even for RoPE`);
  if (p.vocab < 3) throw new Error(`synthetic llama: vocab ${p.vocab} must hold at least <unk>, <s> and </s>`);
  return p;
}

function fillValues(fill: Fill, rng: Prng, out: Float32Array, start: number, total: number): void {
  switch (fill.kind) {
    case "uniform": {
      const amplitude = fill.std * Math.sqrt(3);
      for (let i = 0; i < out.length; i++) out[i] = amplitude * rng.symmetric();
      return;
    }
    case "nearOne":
      for (let i = 0; i < out.length; i++) out[i] = 1 + 0.1 * rng.symmetric();
      return;
    case "ropeFreqs":
      for (let i = 0; i < out.length; i++) out[i] = 1 + (3 * (start + i)) / Math.max(1, total - 1);
      return;
  }
}

/**
 * Uniform values straight as Q8_0 blocks: random quants in [-127, 127] under a
 * scale that varies a little per block. Close in distribution to quantized
 * uniform floats, several times faster than drawing and quantizing floats (a
 * 1.1 GB model takes seconds), and the stored values are exact by construction.
 */
function fillQ8_0Uniform(std: number, rng: Prng, out: Uint8Array): void {
  // Random bytes first, a word at a time (xorshift128 with its state in locals: this is the hot loop).
  const words = new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2);
  let x = rng.u32() | 1;
  let y = rng.u32();
  let z = rng.u32();
  let w = rng.u32();
  for (let i = 0; i < words.length; i++) {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
    words[i] = w;
  }
  for (let i = words.length * 4; i < out.length; i++) out[i] = rng.u32() & 0xff;
  // ggml's quantizer never writes -128.
  for (let i = 0; i < out.length; i++) if (out[i] === 0x80) out[i] = 0x81;
  // Then each block's scale over its first two bytes.
  const baseScale = (std * Math.sqrt(3)) / 127;
  for (let at = 0; at < out.length; at += Q8_0_BLOCK_BYTES) {
    const d = f32ToF16Bits(baseScale * (1 + 0.25 * rng.symmetric()));
    out[at] = d & 0xff;
    out[at + 1] = d >>> 8;
  }
}

function planTensors(p: SyntheticLlamaParams, types: SyntheticTensorTypes): TensorPlan[] {
  const matrixType = types.matrices ?? GgmlType.Q8_0;
  const normType = types.norms ?? GgmlType.F32;
  const plans: TensorPlan[] = [];
  const add = (name: string, dims: number[], role: GgmlType, fill: Fill) => {
    let type = types.byName?.[name] ?? role;
    // llama.cpp's quantizer keeps rows that do not split into blocks in F16.
    if (type === GgmlType.Q8_0 && dims[0] % QK8_0 !== 0) type = GgmlType.F16;
    const n = dims.reduce((a, b) => a * b, 1);
    plans.push({ name, dims, type, byteLength: tensorBytes(type, n), fill });
  };
  const qDim = p.nHeads * p.headDim;
  const kvDim = p.nKvHeads * p.headDim;
  const uniform = (cols: number): Fill => ({ kind: "uniform", std: 1 / Math.sqrt(cols) });
  const nearOne: Fill = { kind: "nearOne" };
  add("token_embd.weight", [p.dim, p.vocab], types.embedding ?? matrixType, uniform(p.dim));
  add("output_norm.weight", [p.dim], normType, nearOne);
  if (!p.tiedOutput) add("output.weight", [p.dim, p.vocab], types.output ?? matrixType, uniform(p.dim));
  if (p.ropeFreqs) add("rope_freqs.weight", [p.ropeDim / 2], GgmlType.F32, { kind: "ropeFreqs" });
  for (let l = 0; l < p.nLayers; l++) {
    const b = `blk.${l}`;
    add(`${b}.attn_norm.weight`, [p.dim], normType, nearOne);
    add(`${b}.attn_q.weight`, [p.dim, qDim], matrixType, uniform(p.dim));
    add(`${b}.attn_k.weight`, [p.dim, kvDim], matrixType, uniform(p.dim));
    add(`${b}.attn_v.weight`, [p.dim, kvDim], matrixType, uniform(p.dim));
    add(`${b}.attn_output.weight`, [qDim, p.dim], matrixType, uniform(qDim));
    add(`${b}.ffn_norm.weight`, [p.dim], normType, nearOne);
    add(`${b}.ffn_gate.weight`, [p.dim, p.ffnDim], matrixType, uniform(p.dim));
    add(`${b}.ffn_up.weight`, [p.dim, p.ffnDim], matrixType, uniform(p.dim));
    add(`${b}.ffn_down.weight`, [p.ffnDim, p.dim], matrixType, uniform(p.ffnDim));
  }
  return plans;
}

// Values generated and encoded per chunk, so a large tensor needs no float copy of itself.
const CHUNK_VALUES = QK8_0 * 2048;

function produceTensor(plan: TensorPlan, seed: number, stream: number): Uint8Array {
  const rng = new Prng(seed, stream);
  const n = plan.dims.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(plan.byteLength);
  if (plan.type === GgmlType.Q8_0 && plan.fill.kind === "uniform") {
    fillQ8_0Uniform(plan.fill.std, rng, out);
    return out;
  }
  const chunk = new Float32Array(Math.min(CHUNK_VALUES, n));
  for (let start = 0; start < n; start += CHUNK_VALUES) {
    const values = start + CHUNK_VALUES <= n ? chunk : chunk.subarray(0, n - start);
    fillValues(plan.fill, rng, values, start, n);
    switch (plan.type) {
      case GgmlType.Q8_0:
        quantizeQ8_0(values, out, tensorBytes(GgmlType.Q8_0, start));
        break;
      case GgmlType.F16:
        out.set(encodeF16(values), start * 2);
        break;
      case GgmlType.BF16:
        out.set(encodeBf16(values), start * 2);
        break;
      case GgmlType.F32:
        out.set(encodeF32(values), start * 4);
        break;
      default:
        throw new Error(`synthetic llama: tensor "${plan.name}" cannot be made as ${ggmlTypeName(plan.type)}`);
    }
  }
  return out;
}

function addMetadata(w: GgufWriter, p: SyntheticLlamaParams, matrixType: GgmlType): void {
  addLlamaMetadata(w, { ...p, matrixType });
  addTokenizer(w, p.vocab);
}

/** A minimal SentencePiece-style vocabulary: <unk>, <s>, </s>, byte tokens, then filler pieces. */
function addTokenizer(w: GgufWriter, vocab: number): void {
  const tokens: string[] = [];
  const scores = new Float32Array(vocab);
  const types = new Int32Array(vocab);
  const push = (text: string, type: number) => {
    types[tokens.length] = type;
    tokens.push(text);
  };
  push("<unk>", TOKEN_UNKNOWN);
  push("<s>", TOKEN_CONTROL);
  push("</s>", TOKEN_CONTROL);
  for (let b = 0; b < 256 && tokens.length < vocab; b++) push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, TOKEN_BYTE);
  for (let i = 0; tokens.length < vocab; i++) {
    scores[tokens.length] = -i;
    push(`\u2581t${i}`, TOKEN_NORMAL);
  }
  w.addString("tokenizer.ggml.model", "llama");
  w.addArray("tokenizer.ggml.tokens", GgufValueType.STRING, tokens);
  w.addArray("tokenizer.ggml.scores", GgufValueType.FLOAT32, scores);
  w.addArray("tokenizer.ggml.token_type", GgufValueType.INT32, types);
  w.addU32("tokenizer.ggml.unknown_token_id", 0);
  w.addU32("tokenizer.ggml.bos_token_id", 1);
  w.addU32("tokenizer.ggml.eos_token_id", 2);
  w.addBool("tokenizer.ggml.add_bos_token", true);
  w.addBool("tokenizer.ggml.add_eos_token", false);
}

/**
 * A Llama GGUF with random weights. Matrices get uniform values of standard
 * deviation 1/sqrt(row length) and norms values near 1, so activations stay in
 * range through the layers. Tensor data is produced when the writer writes it.
 */
export function buildSyntheticLlama(spec: SyntheticLlamaSpec, seed: number): SyntheticLlama {
  const params = resolve(spec);
  const types = spec.types ?? {};
  const plans = planTensors(params, types);
  const writer = new GgufWriter();
  addMetadata(writer, params, types.matrices ?? GgmlType.Q8_0);
  const byName = new Map(plans.map((plan, i) => [plan.name, { plan, stream: i }]));
  const bytesOf = (name: string): Uint8Array => {
    const entry = byName.get(name);
    if (!entry) throw new Error(`synthetic llama: no tensor "${name}"`);
    return produceTensor(entry.plan, seed, entry.stream);
  };
  for (const plan of plans) writer.addTensor(plan.name, plan.dims, plan.type, plan.byteLength, () => bytesOf(plan.name));
  return {
    writer,
    params,
    tensors: plans.map(({ name, dims, type, byteLength }) => ({ name, dims, type, byteLength })),
    tensorBytes: bytesOf,
    weight(name) {
      const { plan } = byName.get(name) ?? { plan: undefined };
      if (!plan) throw new Error(`synthetic llama: no tensor "${name}"`);
      const n = plan.dims.reduce((a, b) => a * b, 1);
      return decodeTensor(bytesOf(name), plan.type, n, `synthetic tensor "${name}"`);
    },
  };
}
