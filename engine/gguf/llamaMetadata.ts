/** The `general.*` and `llama.*` keys llama.cpp writes for a Llama model, written once for every producer of GGUF files. */
import { GgmlType } from "./ggufFormat";
import type { GgufWriter } from "./ggufWriter";

export interface LlamaMetadata {
  name: string;
  /** The type of the model's matrices, which names the file type. */
  matrixType: GgmlType;
  ctx: number;
  dim: number;
  nLayers: number;
  ffnDim: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  ropeFreqBase: number;
  /** Linear RoPE position scaling; 1 for none. */
  ropeScaleLinear: number;
  normEps: number;
  vocab: number;
}

// llama_ftype values for general.file_type.
const FILE_TYPE: Record<GgmlType, number> = {
  [GgmlType.F32]: 0,
  [GgmlType.F16]: 1,
  [GgmlType.Q8_0]: 7,
  [GgmlType.BF16]: 32,
};

export function addLlamaMetadata(w: GgufWriter, m: LlamaMetadata): void {
  w.addString("general.architecture", "llama");
  w.addString("general.name", m.name);
  w.addU32("general.file_type", FILE_TYPE[m.matrixType]);
  if (m.matrixType === GgmlType.Q8_0) w.addU32("general.quantization_version", 2);
  w.addU32("general.alignment", 32);
  w.addU32("llama.context_length", m.ctx);
  w.addU32("llama.embedding_length", m.dim);
  w.addU32("llama.block_count", m.nLayers);
  w.addU32("llama.feed_forward_length", m.ffnDim);
  w.addU32("llama.attention.head_count", m.nHeads);
  w.addU32("llama.attention.head_count_kv", m.nKvHeads);
  if (m.headDim !== m.dim / m.nHeads) {
    w.addU32("llama.attention.key_length", m.headDim);
    w.addU32("llama.attention.value_length", m.headDim);
  }
  w.addU32("llama.rope.dimension_count", m.headDim);
  w.addF32("llama.rope.freq_base", m.ropeFreqBase);
  if (m.ropeScaleLinear !== 1) {
    w.addString("llama.rope.scaling.type", "linear");
    w.addF32("llama.rope.scaling.factor", m.ropeScaleLinear);
  }
  w.addF32("llama.attention.layer_norm_rms_epsilon", m.normEps);
  w.addU32("llama.vocab_size", m.vocab);
}
