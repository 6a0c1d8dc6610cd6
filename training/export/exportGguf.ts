/**
 * Writes the trained weights (training/train.py's weights.json and float16
 * parts) as a Llama GGUF, with the metadata llama.cpp reads and the whole
 * tokenizer of the vocabulary file (tokens, types, merges, BOS/EOS, FIM ids).
 *
 *   node exportGguf.js <weights dir> <vocab.gguf> <out.gguf> [q8_0|f16|f32] [name]
 *
 * Matrices become the chosen type (Q8_0 by llama.cpp's rounding); norms stay
 * F32, as llama.cpp's quantizer leaves them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { GgmlType, GgufValueType, QK8_0, tensorBytes } from "../../engine/gguf/ggufFormat";
import { readGgufHeader, type GgufArray } from "../../engine/gguf/ggufReader";
import { GgufWriter } from "../../engine/gguf/ggufWriter";
import { addLlamaMetadata } from "../../engine/gguf/llamaMetadata";
import { encodeF16, encodeF32, f16BitsToF32, quantizeQ8_0 } from "../../engine/gguf/quantize";
import { loadTokenizer } from "../../engine/tokenizer/tokenizer";

interface TrainedConfig {
  vocab: number;
  dim: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  ffn: number;
  ctx: number;
  norm_eps: number;
  rope_base: number;
  head_dim: number;
}

interface WeightsIndex {
  config: TrainedConfig;
  dtype: "f16";
  bytes: number;
  parts: string[];
  tensors: { name: string; shape: number[]; offset: number; count: number }[];
}

// llama_ftype of general.file_type.

export async function readTrainedWeights(dir: string): Promise<{ index: WeightsIndex; tensors: Map<string, { dims: number[]; values: Float32Array }> }> {
  const index: WeightsIndex = JSON.parse(fs.readFileSync(path.join(dir, "weights.json"), "utf8"));
  if (index.dtype !== "f16") throw new Error(`${dir}/weights.json: dtype ${index.dtype}, expected f16`);
  const blob = Buffer.concat(index.parts.map((p) => fs.readFileSync(path.join(dir, p))));
  if (blob.length !== index.bytes) throw new Error(`${dir}: the weight parts hold ${blob.length} bytes, weights.json says ${index.bytes}`);
  const tensors = new Map<string, { dims: number[]; values: Float32Array }>();
  for (const t of index.tensors) {
    const values = new Float32Array(t.count);
    for (let i = 0; i < t.count; i++) values[i] = f16BitsToF32(blob.readUInt16LE(t.offset + 2 * i));
    // torch shapes are (rows, row length); GGUF's ne lists the row length first.
    tensors.set(t.name, { dims: [...t.shape].reverse(), values });
  }
  return { index, tensors };
}

function encode(values: Float32Array, type: GgmlType): Uint8Array {
  switch (type) {
    case GgmlType.Q8_0:
      return quantizeQ8_0(values);
    case GgmlType.F16:
      return encodeF16(values);
    case GgmlType.F32:
      return encodeF32(values);
    default:
      throw new Error(`export: tensor type ${type} is not supported`);
  }
}

export async function exportGguf(weightsDir: string, vocabPath: string, outPath: string, matrixType: GgmlType, name: string): Promise<number> {
  const { index, tensors } = await readTrainedWeights(weightsDir);
  const c = index.config;
  const vocab = await readGgufHeader(vocabPath);
  const tok = await loadTokenizer(vocabPath);
  if (tok.nTokens !== c.vocab) throw new Error(`${vocabPath}: ${tok.nTokens} tokens, but the model was trained with ${c.vocab}`);

  const w = new GgufWriter();
  addLlamaMetadata(w, {
    name,
    matrixType,
    ctx: c.ctx,
    dim: c.dim,
    nLayers: c.n_layers,
    ffnDim: c.ffn,
    nHeads: c.n_heads,
    nKvHeads: c.n_kv_heads,
    headDim: c.head_dim,
    ropeFreqBase: c.rope_base,
    ropeScaleLinear: 1,
    normEps: c.norm_eps,
    vocab: c.vocab,
  });
  w.addString("general.license", "MIT");
  // The vocabulary file's tokenizer, key for key with its stored types.
  for (const [key, value] of vocab.metadata) {
    if (!key.startsWith("tokenizer.")) continue;
    const type = vocab.metadataTypes.get(key)!;
    if (type === GgufValueType.ARRAY) {
      const a = value as GgufArray;
      w.addArray(key, a.elementType, a.values as never);
    } else {
      w.add(key, type, value as never);
    }
  }
  // FIM ids spelled out, so readers need not recognise the marker texts.
  const { fimPre, fimSuf, fimMid } = tok.special;
  const fim: [string, number | undefined][] = [["fim_pre_token_id", fimPre], ["fim_suf_token_id", fimSuf], ["fim_mid_token_id", fimMid]];
  for (const [k, id] of fim) {
    if (id === undefined) throw new Error(`${vocabPath}: no ${k.replace("_token_id", "")} token`);
    if (!vocab.metadata.has(`tokenizer.ggml.${k}`)) w.addU32(`tokenizer.ggml.${k}`, id);
  }

  const order = ["token_embd.weight", "output_norm.weight"];
  for (let l = 0; l < c.n_layers; l++) {
    for (const t of ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]) order.push(`blk.${l}.${t}.weight`);
  }
  if (order.length !== tensors.size) throw new Error(`${weightsDir}: ${tensors.size} tensors, expected ${order.length}`);
  for (const tname of order) {
    const t = tensors.get(tname);
    if (!t) throw new Error(`${weightsDir}: tensor "${tname}" is missing`);
    let type = t.dims.length === 1 ? GgmlType.F32 : matrixType;
    if (type === GgmlType.Q8_0 && t.dims[0] % QK8_0 !== 0) type = GgmlType.F16; // as llama.cpp's quantizer does
    const n = t.values.length;
    w.addTensor(tname, t.dims, type, tensorBytes(type, n), () => encode(t.values, type));
  }
  await w.writeFile(outPath);
  return fs.statSync(outPath).size;
}

async function main(): Promise<void> {
  const [weightsDir, vocabPath, outPath, typeArg = "q8_0", name = "ghostline-coder"] = process.argv.slice(2);
  if (!weightsDir || !vocabPath || !outPath) {
    console.error("usage: exportGguf <weights dir> <vocab.gguf> <out.gguf> [q8_0|f16|f32] [name]");
    process.exit(2);
  }
  const types: Record<string, GgmlType> = { q8_0: GgmlType.Q8_0, f16: GgmlType.F16, f32: GgmlType.F32 };
  const type = types[typeArg];
  if (type === undefined) throw new Error(`unknown tensor type "${typeArg}", expected q8_0, f16 or f32`);
  const size = await exportGguf(weightsDir, vocabPath, outPath, type, name);
  console.log(`${outPath}: ${(size / 1e6).toFixed(2)} MB`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
