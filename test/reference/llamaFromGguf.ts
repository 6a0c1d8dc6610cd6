/**
 * Hyper-parameters and float64 weights of a Llama GGUF, for the reference
 * forward pass. Weights are dequantized exactly from what the file stores.
 */
import { readFileSync } from "node:fs";
import { parseGgufHeader, type GgufHeader } from "../../engine/gguf/ggufReader";
import { llamaHyperParams } from "../../engine/gguf/llamaHyperParams";
import { readTensorAsFloat64 } from "../../engine/gguf/ggufTensorData";
import { llamaWeightsByName, type LlamaHyperParams, type LlamaWeights } from "./llamaReference";

export { llamaHyperParams };

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
