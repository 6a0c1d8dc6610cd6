/**
 * Small random-weight Llama models with a real code vocabulary (DeepSeek-Coder's,
 * FIM markers included), for engine tests that need FIM or a chat template.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { GgufValueType } from "../../../engine/gguf/ggufFormat";
import { parseGgufHeader, readGgufHeader, type GgufArray, type GgufHeader } from "../../../engine/gguf/ggufReader";
import { GgufWriter } from "../../../engine/gguf/ggufWriter";
import { buildSyntheticLlama, type SyntheticLlamaSpec } from "../../../engine/gguf/syntheticLlama";
import { sharedTestdata } from "../../helpers/paths";

export const deepseekVocabPath = path.join(sharedTestdata, "vocab", "ggml-vocab-deepseek-coder.gguf");
export const storiesModelPath = path.join(sharedTestdata, "models", "stories260K-q8_0.gguf");

export interface FimModelOptions {
  dim?: number;
  nLayers?: number;
  ffnDim?: number;
  ctx?: number;
  seed?: number;
  /** Stored as tokenizer.chat_template. */
  chatTemplate?: string;
  name?: string;
}

function copyValue(w: GgufWriter, h: GgufHeader, key: string): void {
  const type = h.metadataTypes.get(key)!;
  const value = h.metadata.get(key)!;
  if (type === GgufValueType.ARRAY) {
    const arr = value as GgufArray;
    w.addArray(key, arr.elementType, arr.values as never);
  } else {
    w.add(key, type, value as number | bigint | boolean | string);
  }
}

/** Writes the model into `dir` (a fresh temporary folder by default) and returns its path. */
export async function writeFimModel(options: FimModelOptions = {}, dir?: string): Promise<string> {
  const vocab = await readGgufHeader(deepseekVocabPath);
  const nVocab = (vocab.metadata.get("tokenizer.ggml.tokens") as GgufArray).values.length;
  const dim = options.dim ?? 64;
  const spec: SyntheticLlamaSpec = {
    name: options.name ?? "synthetic-deepseek-coder",
    dim,
    nLayers: options.nLayers ?? 2,
    nHeads: 4,
    nKvHeads: 2,
    ffnDim: options.ffnDim ?? dim * 2,
    vocab: nVocab,
    ctx: options.ctx ?? 4096,
    tiedOutput: false,
    normEps: 1e-6,
  };
  const synthetic = buildSyntheticLlama(spec, options.seed ?? 7);
  // The synthetic writer adds a placeholder vocabulary; keep its model keys and take the tokenizer from the real one.
  const own = parseGgufHeader(synthetic.writer.headerBytes(), "synthetic header", { fileSize: synthetic.writer.fileSize() });
  const w = new GgufWriter();
  for (const key of own.metadata.keys()) if (!key.startsWith("tokenizer.")) copyValue(w, own, key);
  for (const key of vocab.metadata.keys()) if (key.startsWith("tokenizer.")) copyValue(w, vocab, key);
  if (options.chatTemplate !== undefined) w.addString("tokenizer.chat_template", options.chatTemplate);
  for (const t of synthetic.tensors) w.addTensor(t.name, t.dims, t.type, t.byteLength, () => synthetic.tensorBytes(t.name));
  const folder = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "ghostline-fim-"));
  const file = path.join(folder, `${spec.name}-d${dim}-l${spec.nLayers}.gguf`);
  await w.writeFile(file);
  return file;
}
