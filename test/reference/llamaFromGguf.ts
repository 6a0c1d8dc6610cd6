/**
 * Hyper-parameters and float64 weights of a Llama GGUF, for the reference
 * forward pass. Weights are dequantized exactly from what the file stores.
 */
import { readFileSync } from "node:fs";
import { metaArrayOr, metaNumber, metaNumberOr, metaStringOr, parseGgufHeader, type GgufHeader } from "../../engine/gguf/ggufReader";
import { readTensorAsFloat64 } from "../../engine/gguf/ggufTensorData";
import { llamaWeightsByName, type LlamaHyperParams, type LlamaWeights } from "./llamaReference";

export function llamaHyperParams(h: GgufHeader): LlamaHyperParams {
  const arch = metaStringOr(h, "general.architecture", undefined);
  if (arch !== "llama") throw new Error(`${h.path}: general.architecture is "${arch}", expected "llama"`);
  const dim = metaNumber(h, "llama.embedding_length");
  const nHeads = metaNumber(h, "llama.attention.head_count");
  const headDim = metaNumberOr(h, "llama.attention.key_length", dim / nHeads)!;
  const embd = h.tensors.find((t) => t.name === "token_embd.weight");
  const vocab = metaNumberOr(h, "llama.vocab_size", undefined) ?? metaArrayOr(h, "tokenizer.ggml.tokens")?.values.length ?? embd?.dims[1];
  if (vocab === undefined) throw new Error(`${h.path}: cannot tell the vocabulary size`);
  const scalingType = metaStringOr(h, "llama.rope.scaling.type", undefined);
  const ropeScaleLinear =
    scalingType === "linear" ? metaNumber(h, "llama.rope.scaling.factor") : (metaNumberOr(h, "llama.rope.scale_linear", 1) ?? 1);
  if (scalingType !== undefined && scalingType !== "linear" && scalingType !== "none") {
    throw new Error(`${h.path}: llama.rope.scaling.type "${scalingType}" is not supported by the reference`);
  }
  return {
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
}

export interface LoadedLlama {
  header: GgufHeader;
  hp: LlamaHyperParams;
  weights: LlamaWeights;
}

/** Reads a (small) Llama GGUF whole and dequantizes every tensor the forward pass uses. */
export function loadLlamaGguf(path: string): LoadedLlama {
  return loadLlamaGgufBytes(new Uint8Array(readFileSync(path)), path);
}

/** The same from a whole file in memory; `name` stands for the file in messages. */
export function loadLlamaGgufBytes(bytes: Uint8Array, name: string): LoadedLlama {
  const header = parseGgufHeader(bytes, name);
  const hp = llamaHyperParams(header);
  const names = new Set(header.tensors.map((t) => t.name));
  const weights = llamaWeightsByName(hp, (name) => (names.has(name) ? readTensorAsFloat64(bytes, header, name) : undefined));
  return { header, hp, weights };
}
