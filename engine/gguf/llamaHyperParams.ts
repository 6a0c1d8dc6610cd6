/**
 * The hyper-parameters of a Llama GGUF, read from the `llama.*` keys the way
 * llama.cpp reads them. Shared by the WebGPU backend and the float64
 * reference forward pass in the tests.
 */
import { metaArrayOr, metaNumber, metaNumberOr, metaStringOr, type GgufHeader } from "./ggufReader";

export interface LlamaHyperParams {
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  ropeDim: number; // leading dims of each head that RoPE rotates (usually headDim)
  ffnDim: number;
  vocab: number;
  normEps: number;
  ropeFreqBase: number;
  ropeScaleLinear: number; // positions are divided by this; 1 for none
}

/** Reads and checks the hyper-parameters; errors name the file and the key at fault. */
export function llamaHyperParams(h: GgufHeader): LlamaHyperParams {
  const arch = metaStringOr(h, "general.architecture", undefined);
  if (arch !== "llama") throw new Error(`${h.path}: general.architecture is "${arch}", expected "llama"`);
  const dim = metaNumber(h, "llama.embedding_length");
  const nHeads = metaNumber(h, "llama.attention.head_count");
  if (!(nHeads > 0)) throw new Error(`${h.path}: llama.attention.head_count must be positive`);
  const headDim = metaNumberOr(h, "llama.attention.key_length", dim / nHeads)!;
  const embd = h.tensors.find((t) => t.name === "token_embd.weight");
  const vocab = metaNumberOr(h, "llama.vocab_size", undefined) ?? metaArrayOr(h, "tokenizer.ggml.tokens")?.values.length ?? embd?.dims[1];
  if (vocab === undefined) throw new Error(`${h.path}: cannot tell the vocabulary size`);
  const scalingType = metaStringOr(h, "llama.rope.scaling.type", undefined);
  if (scalingType !== undefined && scalingType !== "linear" && scalingType !== "none") {
    throw new Error(`${h.path}: llama.rope.scaling.type "${scalingType}" is not supported`);
  }
  const ropeScaleLinear =
    scalingType === "linear" ? metaNumber(h, "llama.rope.scaling.factor") : (metaNumberOr(h, "llama.rope.scale_linear", 1) ?? 1);
  const hp: LlamaHyperParams = {
    dim,
    nLayers: metaNumber(h, "llama.block_count"),
    nHeads,
    nKvHeads: metaNumberOr(h, "llama.attention.head_count_kv", nHeads)!,
    headDim,
    ropeDim: metaNumberOr(h, "llama.rope.dimension_count", headDim)!,
    ffnDim: metaNumber(h, "llama.feed_forward_length"),
    vocab,
    normEps: metaNumber(h, "llama.attention.layer_norm_rms_epsilon"),
    ropeFreqBase: metaNumberOr(h, "llama.rope.freq_base", 10000)!,
    ropeScaleLinear,
  };
  const positive: (keyof LlamaHyperParams)[] = ["dim", "nLayers", "nKvHeads", "headDim", "ffnDim", "vocab"];
  for (const k of positive) {
    if (!Number.isInteger(hp[k]) || hp[k] <= 0) throw new Error(`${h.path}: ${k} must be a positive integer, got ${hp[k]}`);
  }
  if (hp.nHeads % hp.nKvHeads !== 0) {
    throw new Error(`${h.path}: llama.attention.head_count (${hp.nHeads}) is not a multiple of head_count_kv (${hp.nKvHeads})`);
  }
  if (hp.ropeDim % 2 !== 0 || hp.ropeDim > hp.headDim) throw new Error(`${h.path}: llama.rope.dimension_count ${hp.ropeDim} does not fit head size ${hp.headDim}`);
  if (!(hp.ropeScaleLinear > 0)) throw new Error(`${h.path}: rope scaling factor must be positive`);
  return hp;
}
