import { describe, expect, it } from "vitest";
import { GgmlType } from "../../engine/gguf/ggufFormat";
import { metaArray, metaNumber, metaString, metaStringOr, parseGgufHeader } from "../../engine/gguf/ggufReader";
import { readTensorAsFloat64 } from "../../engine/gguf/ggufTensorData";
import { buildSyntheticLlama, TINYLLAMA_SPEC, type SyntheticLlamaSpec } from "../../engine/gguf/syntheticLlama";
import { llamaHyperParams } from "../reference/llamaFromGguf";

const SMALL: SyntheticLlamaSpec = {
  dim: 64,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  ffnDim: 96,
  vocab: 300,
  ctx: 256,
  tiedOutput: false,
  normEps: 1e-5,
};

describe("synthetic Llama models", () => {
  it("write the metadata llama.cpp writes for a Llama", () => {
    const model = buildSyntheticLlama({ ...SMALL, name: "tiny", headDim: 32, ropeFreqBase: 500000, ropeScaleLinear: 4 }, 1);
    const h = parseGgufHeader(model.writer.toBytes(), "synthetic.gguf");
    expect(metaString(h, "general.architecture")).toBe("llama");
    expect(metaString(h, "general.name")).toBe("tiny");
    const numbers = [
      "llama.context_length", "llama.embedding_length", "llama.block_count", "llama.feed_forward_length",
      "llama.attention.head_count", "llama.attention.head_count_kv", "llama.attention.key_length",
      "llama.attention.value_length", "llama.rope.dimension_count", "llama.rope.freq_base", "llama.rope.scaling.factor",
      "llama.vocab_size", "general.file_type",
    ];
    expect(Object.fromEntries(numbers.map((k) => [k, metaNumber(h, k)]))).toEqual({
      "llama.context_length": 256,
      "llama.embedding_length": 64,
      "llama.block_count": 2,
      "llama.feed_forward_length": 96,
      "llama.attention.head_count": 4,
      "llama.attention.head_count_kv": 2,
      "llama.attention.key_length": 32,
      "llama.attention.value_length": 32,
      "llama.rope.dimension_count": 32,
      "llama.rope.freq_base": 500000,
      "llama.rope.scaling.factor": 4,
      "llama.vocab_size": 300,
      "general.file_type": 7,
    });
    expect(metaString(h, "llama.rope.scaling.type")).toBe("linear");
    expect(metaNumber(h, "llama.attention.layer_norm_rms_epsilon")).toBeCloseTo(1e-5, 10);
    expect(metaString(h, "tokenizer.ggml.model")).toBe("llama");
    const tokens = metaArray(h, "tokenizer.ggml.tokens").values as string[];
    expect(tokens.length).toBe(300);
    expect(new Set(tokens).size).toBe(300);
    expect(tokens.slice(0, 4)).toEqual(["<unk>", "<s>", "</s>", "<0x00>"]);
    expect(metaArray(h, "tokenizer.ggml.scores").values.length).toBe(300);
    expect(metaArray(h, "tokenizer.ggml.token_type").values.length).toBe(300);
    expect([metaNumber(h, "tokenizer.ggml.bos_token_id"), metaNumber(h, "tokenizer.ggml.eos_token_id")]).toEqual([1, 2]);
  });

  it("leave out key_length and scaling when the head size and positions are the defaults", () => {
    const h = parseGgufHeader(buildSyntheticLlama(SMALL, 1).writer.toBytes(), "plain.gguf");
    expect(h.metadata.has("llama.attention.key_length")).toBe(false);
    expect(metaStringOr(h, "llama.rope.scaling.type", undefined)).toBeUndefined();
    expect(metaNumber(h, "llama.rope.dimension_count")).toBe(16);
  });

  it("name and shape tensors as llama.cpp does, Q8_0 matrices with F16 where rows are not blocks", () => {
    const model = buildSyntheticLlama({ ...SMALL, ffnDim: 80, tiedOutput: true, ropeFreqs: true }, 1);
    const h = parseGgufHeader(model.writer.toBytes(), "shapes.gguf");
    const shape = new Map(h.tensors.map((t) => [t.name, [t.dims, t.type]]));
    expect(shape.has("output.weight")).toBe(false);
    expect(shape.get("token_embd.weight")).toEqual([[64, 300], GgmlType.Q8_0]);
    expect(shape.get("output_norm.weight")).toEqual([[64], GgmlType.F32]);
    expect(shape.get("rope_freqs.weight")).toEqual([[8], GgmlType.F32]);
    expect(shape.get("blk.1.attn_norm.weight")).toEqual([[64], GgmlType.F32]);
    expect(shape.get("blk.1.attn_q.weight")).toEqual([[64, 64], GgmlType.Q8_0]);
    expect(shape.get("blk.1.attn_k.weight")).toEqual([[64, 32], GgmlType.Q8_0]);
    expect(shape.get("blk.1.attn_v.weight")).toEqual([[64, 32], GgmlType.Q8_0]);
    expect(shape.get("blk.1.attn_output.weight")).toEqual([[64, 64], GgmlType.Q8_0]);
    expect(shape.get("blk.1.ffn_norm.weight")).toEqual([[64], GgmlType.F32]);
    expect(shape.get("blk.1.ffn_gate.weight")).toEqual([[64, 80], GgmlType.Q8_0]);
    expect(shape.get("blk.1.ffn_up.weight")).toEqual([[64, 80], GgmlType.Q8_0]);
    expect(shape.get("blk.1.ffn_down.weight")).toEqual([[80, 64], GgmlType.F16]); // rows of 80 are not blocks of 32
    expect(h.tensors.length).toBe(3 + 2 * 9);
  });

  it("mix tensor types as asked", () => {
    const model = buildSyntheticLlama(
      { ...SMALL, types: { matrices: GgmlType.F16, embedding: GgmlType.BF16, output: GgmlType.F32, byName: { "blk.0.attn_q.weight": GgmlType.Q8_0 } } },
      3,
    );
    const types = new Map(model.tensors.map((t) => [t.name, t.type]));
    expect(types.get("token_embd.weight")).toBe(GgmlType.BF16);
    expect(types.get("output.weight")).toBe(GgmlType.F32);
    expect(types.get("blk.0.attn_q.weight")).toBe(GgmlType.Q8_0);
    expect(types.get("blk.0.attn_k.weight")).toBe(GgmlType.F16);
  });

  it("return the float64 weights exactly as the file stores them", () => {
    const model = buildSyntheticLlama({ ...SMALL, ropeFreqs: true, types: { embedding: GgmlType.BF16, norms: GgmlType.F16 } }, 7);
    const bytes = model.writer.toBytes();
    const h = parseGgufHeader(bytes, "weights.gguf");
    for (const t of model.tensors) expect(model.weight(t.name), t.name).toEqual(readTensorAsFloat64(bytes, h, t.name));
  });

  it("draw weights with the intended scales: std 1/sqrt(row length), norms near 1", () => {
    const model = buildSyntheticLlama(SMALL, 11);
    const stats = (v: Float64Array) => {
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      return { mean, std: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length) };
    };
    const q = stats(model.weight("blk.0.attn_q.weight"));
    expect(Math.abs(q.mean)).toBeLessThan(0.01);
    expect(q.std).toBeGreaterThan(0.9 / 8);
    expect(q.std).toBeLessThan(1.1 / 8);
    const down = stats(model.weight("blk.0.ffn_down.weight"));
    expect(down.std * Math.sqrt(96)).toBeCloseTo(1, 1);
    const norm = stats(model.weight("blk.0.ffn_norm.weight"));
    expect(norm.mean).toBeCloseTo(1, 1);
    expect(Math.max(...model.weight("blk.0.ffn_norm.weight").map((x) => Math.abs(x - 1)))).toBeLessThanOrEqual(0.1);
  });

  it("are reproducible from the seed and differ between seeds", () => {
    const a = buildSyntheticLlama(SMALL, 5).writer.toBytes();
    expect(buildSyntheticLlama(SMALL, 5).writer.toBytes()).toEqual(a);
    expect(buildSyntheticLlama(SMALL, 6).writer.toBytes()).not.toEqual(a);
  });

  it("read back into the hyper-parameters they were built from", () => {
    const model = buildSyntheticLlama({ ...SMALL, headDim: 32, ropeScaleLinear: 2, ropeFreqBase: 1e6 }, 1);
    const hp = llamaHyperParams(parseGgufHeader(model.writer.toBytes(), "hp.gguf"));
    const p = model.params;
    expect(hp).toEqual({
      dim: p.dim, nLayers: p.nLayers, nHeads: p.nHeads, nKvHeads: p.nKvHeads, headDim: p.headDim, ropeDim: p.ropeDim,
      ffnDim: p.ffnDim, vocab: p.vocab, normEps: Math.fround(p.normEps), ropeFreqBase: p.ropeFreqBase, ropeScaleLinear: p.ropeScaleLinear,
    });
  });

  it("plan TinyLlama's shape at about 1.1 GB without producing any data", () => {
    const model = buildSyntheticLlama(TINYLLAMA_SPEC, 1);
    const size = model.writer.fileSize();
    expect(size).toBeGreaterThan(1.1e9);
    expect(size).toBeLessThan(1.2e9);
    expect(model.tensors.find((t) => t.name === "blk.21.attn_k.weight")?.dims).toEqual([2048, 256]);
  });

  it("refuse inconsistent shapes", () => {
    expect(() => buildSyntheticLlama({ ...SMALL, nKvHeads: 3 }, 1)).toThrow("synthetic llama: nHeads 4 is not a multiple of nKvHeads 3");
    expect(() => buildSyntheticLlama({ ...SMALL, headDim: 7 }, 1)).toThrow(/headDim 7 must be even/);
    expect(() => buildSyntheticLlama({ ...SMALL, dim: 0 }, 1)).toThrow(/dim must be a positive integer, got 0/);
  });
});
