import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GgmlType, GgufValueType } from "../../engine/gguf/ggufFormat";
import { metaArray, metaNumber, metaString, parseGgufHeader, readGgufHeader } from "../../engine/gguf/ggufReader";
import { readTensorAsFloat64 } from "../../engine/gguf/ggufTensorData";
import { SHARED_TESTDATA, STORIES_F32, STORIES_Q8_0 } from "../reference/testdata";

const VOCAB_SPM = path.join(SHARED_TESTDATA, "vocab/ggml-vocab-llama-spm.gguf");
const VOCAB_DEEPSEEK = path.join(SHARED_TESTDATA, "vocab/ggml-vocab-deepseek-coder.gguf");

describe("the GGUF reader on files llama.cpp wrote", () => {
  it("reads the Llama SentencePiece vocabulary (no tensors)", async () => {
    const h = await readGgufHeader(VOCAB_SPM);
    expect(h.tensors).toEqual([]);
    expect(metaString(h, "tokenizer.ggml.model")).toBe("llama");
    const tokens = metaArray(h, "tokenizer.ggml.tokens");
    expect(tokens.elementType).toBe(GgufValueType.STRING);
    expect(tokens.values.length).toBe(32000);
    expect((tokens.values as string[]).slice(0, 4)).toEqual(["<unk>", "<s>", "</s>", "<0x00>"]);
    expect(metaArray(h, "tokenizer.ggml.scores").values).toBeInstanceOf(Float32Array);
    expect(metaArray(h, "tokenizer.ggml.token_type").values).toBeInstanceOf(Int32Array);
    expect(metaNumber(h, "tokenizer.ggml.bos_token_id")).toBe(1);
  });

  it("reads a header larger than the first read (DeepSeek-Coder's vocabulary and merges) by growing reads", async () => {
    const size = readFileSync(VOCAB_DEEPSEEK).length;
    expect(size).toBeGreaterThan(1 << 20); // the first read is 1 MiB
    const h = await readGgufHeader(VOCAB_DEEPSEEK);
    expect(h).toEqual(parseGgufHeader(new Uint8Array(readFileSync(VOCAB_DEEPSEEK)), VOCAB_DEEPSEEK));
    expect(metaString(h, "tokenizer.ggml.pre")).toBe("deepseek-coder");
    expect(metaArray(h, "tokenizer.ggml.tokens").values.length).toBe(32256);
    expect(metaArray(h, "tokenizer.ggml.merges").values.length).toBe(31757);
    expect(metaString(h, "llama.rope.scaling.type")).toBe("linear");
    expect(metaNumber(h, "llama.rope.scaling.factor")).toBe(4);
  });

  it("reads the stories260K F32 model's shape and tensors", async () => {
    const h = await readGgufHeader(STORIES_F32);
    expect(metaNumber(h, "llama.embedding_length")).toBe(64);
    expect(metaNumber(h, "llama.block_count")).toBe(5);
    expect(metaNumber(h, "llama.attention.head_count_kv")).toBe(4);
    expect(h.tensors.length).toBe(3 + 5 * 9);
    expect(h.tensors.every((t) => t.type === GgmlType.F32)).toBe(true);
    const byName = new Map(h.tensors.map((t) => [t.name, t]));
    expect(byName.get("token_embd.weight")?.dims).toEqual([64, 512]);
    expect(byName.get("blk.0.attn_k.weight")?.dims).toEqual([64, 32]);
    expect(byName.get("blk.4.ffn_down.weight")?.dims).toEqual([172, 64]);
    const last = h.tensors.reduce((a, b) => (a.offset > b.offset ? a : b));
    expect(last.offset + last.byteLength).toBe(readFileSync(STORIES_F32).length);
  });

  it("reads the stories260K Q8_0 model: Q8_0 matrices, F16 ffn_down, F32 norms", async () => {
    const h = await readGgufHeader(STORIES_Q8_0);
    const types = new Map(h.tensors.map((t) => [t.name, t.type]));
    expect(types.get("blk.0.attn_q.weight")).toBe(GgmlType.Q8_0);
    expect(types.get("blk.0.ffn_down.weight")).toBe(GgmlType.F16);
    expect(types.get("blk.0.attn_norm.weight")).toBe(GgmlType.F32);
    expect(metaNumber(h, "general.file_type")).toBe(7);
    // Dequantized from the file on disk and from a buffer alike; Q8_0 is close to the F32 original.
    const fromFile = readTensorAsFloat64(STORIES_Q8_0, h, "blk.0.attn_q.weight");
    const fromBytes = readTensorAsFloat64(new Uint8Array(readFileSync(STORIES_Q8_0)), h, "blk.0.attn_q.weight");
    expect(fromFile).toEqual(fromBytes);
    const original = readTensorAsFloat64(STORIES_F32, await readGgufHeader(STORIES_F32), "blk.0.attn_q.weight");
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < original.length; i++) {
      worst = Math.max(worst, Math.abs(original[i] - fromFile[i]));
      scale = Math.max(scale, Math.abs(original[i]));
    }
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(scale / 127);
  });
});
