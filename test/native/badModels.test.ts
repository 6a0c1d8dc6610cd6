/**
 * Malformed model files and bad calls, through LocalModel and the addon: each
 * gets an error naming the file or tensor and the problem, and the process
 * stays healthy (a good model loads and evaluates to the same logits after
 * every failure).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GgufWriter } from "../../engine/gguf/ggufWriter";
import { buildSyntheticLlama, type SyntheticLlamaSpec } from "../../engine/gguf/syntheticLlama";
import { LocalModel } from "../../engine/model/localModel";
import { loadAddon } from "../../engine/native/loadAddon";

const SPEC: SyntheticLlamaSpec = {
  dim: 64,
  nLayers: 2,
  nHeads: 2,
  nKvHeads: 1,
  headDim: 32,
  ffnDim: 96,
  vocab: 300,
  ctx: 64,
  tiedOutput: false,
  normEps: 1e-5,
};
const TOKENS = [1, 42, 7, 299, 100];
const LOAD = { threads: 2, contextSize: 32 } as const;

let tmp: string;
let goodPath: string;
let good: Uint8Array;
let goodLogits: Float32Array;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ghostline-bad-"));
  goodPath = path.join(tmp, "good.gguf");
  good = buildSyntheticLlama(SPEC, 11).writer.toBytes();
  fs.writeFileSync(goodPath, good);
  goodLogits = await evalGood();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function evalGood(): Promise<Float32Array> {
  const model = await LocalModel.load(goodPath, LOAD);
  try {
    return (await model.eval(0, TOKENS)).logits;
  } finally {
    model.free();
  }
}

// After every failure: a good model still loads and gives the very same logits.
afterEach(async () => {
  expect(await evalGood()).toEqual(goodLogits);
});

let fileCount = 0;
function writeBad(bytes: Uint8Array): string {
  const file = path.join(tmp, `bad-${fileCount++}.gguf`);
  fs.writeFileSync(file, bytes);
  return file;
}

/** The load error's message, with the path shown as <path>; its code is GHOSTLINE_INVALID unless said otherwise. */
async function loadError(bytes: Uint8Array, code = "GHOSTLINE_INVALID"): Promise<string> {
  const file = writeBad(bytes);
  const err = await LocalModel.load(file, LOAD).then(
    (m) => {
      m.free();
      throw new Error(`${file} loaded, but it should have been rejected`);
    },
    (e: Error) => e,
  );
  expect(err.message.startsWith(`${file}: `)).toBe(true);
  expect((err as NodeJS.ErrnoException).code).toBe(code);
  const message = err.message.replace(file, "<path>");
  console.log(message);
  return message;
}

function patched(edit: (bytes: Uint8Array, view: DataView) => void): Uint8Array {
  const bytes = good.slice();
  edit(bytes, new DataView(bytes.buffer));
  return bytes;
}

/** Offset of the tensor info of `name` (at its name's length prefix). */
function tensorInfoOffset(bytes: Uint8Array, name: string): number {
  const encoded = new TextEncoder().encode(name);
  for (let at = 8; at + encoded.length <= bytes.length; at++) {
    if (encoded.every((b, i) => bytes[at + i] === b) && new DataView(bytes.buffer).getBigUint64(at - 8, true) === BigInt(encoded.length)) {
      return at - 8;
    }
  }
  throw new Error(`no tensor info for "${name}"`);
}

/** Where the parts of the good file begin. */
function layout() {
  const tensorInfos = tensorInfoOffset(good, "token_embd.weight");
  const data = buildSyntheticLlama(SPEC, 11).writer.headerBytes().length;
  return { metadata: 24, tensorInfos, data, end: good.length };
}

describe("a malformed model file is rejected with an error naming the file and the problem", () => {
  it("rejects a missing file", async () => {
    const file = path.join(tmp, "no-such-model.gguf");
    await expect(LocalModel.load(file, LOAD)).rejects.toThrow(`${file}: model file not found`);
  });

  it("rejects a missing file in the addon too, with the system's reason", async () => {
    const file = path.join(tmp, "no-such-model.gguf");
    const err = await loadAddon().loadModel(file, {}).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err?.message).toMatch(new RegExp(`^${escape(file)}: cannot open.*No such file`));
    expect(err?.code).toBe("GHOSTLINE_IO");
  });

  it("rejects an empty file", async () => {
    expect(await loadError(new Uint8Array(0))).toMatch(/^<path>: truncated: /);
  });

  it("rejects a file truncated inside the header", async () => {
    expect(await loadError(good.subarray(0, 12))).toMatch(/^<path>: truncated: header needs \d+ more bytes?/);
  });

  it("rejects a file truncated inside the metadata", async () => {
    const { metadata, tensorInfos } = layout();
    const message = await loadError(good.subarray(0, Math.floor((metadata + tensorInfos) / 2)));
    expect(message).toMatch(/^<path>: truncated: metadata key #\d+/);
  });

  it("rejects a file truncated inside the tensor infos", async () => {
    const { tensorInfos, data } = layout();
    // Inside the last tensor's name, then inside its dimensions.
    const last = tensorInfoOffset(good, "blk.1.ffn_down.weight");
    expect(await loadError(good.subarray(0, last + 8 + 10))).toMatch(/^<path>: truncated: tensor info #20 needs 11 more bytes at offset \d+ \(a string of 21 bytes\)$/);
    expect(await loadError(good.subarray(0, last + 8 + 21 + 6))).toMatch(/^<path>: truncated: tensor info #20 \("blk\.1\.ffn_down\.weight"\) needs \d+ more bytes?/);
    // Early in them, the tensor count alone is more than the bytes left could hold.
    expect(await loadError(good.subarray(0, tensorInfos + 40))).toMatch(
      /^<path>: header: tensor count 21 is impossible: only \d+ bytes are left at offset \d+/,
    );
  });

  it("rejects a file truncated inside the tensor data", async () => {
    const { data, end } = layout();
    const message = await loadError(good.subarray(0, Math.floor((data + end) / 2)));
    expect(message).toMatch(/^<path>: tensor "blk\.\d\.[a-z_]+\.weight" data \[\d+, \d+\) lies outside the file \(size \d+\)$/);
  });

  it("rejects a file that is not GGUF (bad magic)", async () => {
    const message = await loadError(patched((b) => b.set(new TextEncoder().encode("GGML"), 0)));
    expect(message).toBe('<path>: bad magic "GGML" (not a GGUF file)');
  });

  it("rejects an unknown GGUF version", async () => {
    const message = await loadError(patched((_, v) => v.setUint32(4, 99, true)), "GHOSTLINE_UNSUPPORTED");
    expect(message).toBe("<path>: unsupported GGUF version 99; versions 2 and 3 are read");
  });

  it("rejects a metadata count of 2^60 without trying to allocate it", async () => {
    const message = await loadError(patched((_, v) => v.setBigUint64(16, 1n << 60n, true)));
    expect(message).toMatch(/^<path>: .*metadata.* 1152921504606846976 is impossible/);
  });

  it("rejects a tensor count of 2^60 without trying to allocate it", async () => {
    const message = await loadError(patched((_, v) => v.setBigUint64(8, 1n << 60n, true)));
    expect(message).toMatch(/^<path>: .*tensor.* 1152921504606846976 is impossible/);
  });

  it("rejects an architecture other than llama", async () => {
    const w = new GgufWriter().addString("general.architecture", "gpt2").addU32("gpt2.block_count", 1);
    const message = await loadError(w.toBytes(), "GHOSTLINE_UNSUPPORTED");
    expect(message).toBe('<path>: architecture "gpt2" is not supported (key general.architecture); Ghostline runs "llama" models');
  });

  it("rejects a matrix of an unsupported type (q4_0), naming the tensor", async () => {
    const message = await loadError(
      patched((b, v) => {
        const at = tensorInfoOffset(b, "blk.0.attn_q.weight") + 8 + "blk.0.attn_q.weight".length;
        const nDims = v.getUint32(at, true);
        v.setUint32(at + 4 + 8 * nDims, 2, true); // ggml type 2: q4_0
      }),
      "GHOSTLINE_UNSUPPORTED",
    );
    expect(message).toBe('<path>: tensor "blk.0.attn_q.weight" has type q4_0, which Ghostline does not run (supported: f32, f16, bf16, q8_0)');
  });

  it("rejects a model with a tensor missing, naming it", async () => {
    const message = await loadError(
      patched((b) => {
        // Renaming keeps every offset and size, so only the name is missing.
        const at = tensorInfoOffset(b, "blk.1.ffn_up.weight") + 8;
        b.set(new TextEncoder().encode("blk.1.ffn_up.weighx"), at);
      }),
    );
    expect(message).toBe('<path>: tensor "blk.1.ffn_up.weight" is missing');
  });

  it("rejects a tensor whose shape does not match the hyper-parameters, naming both shapes", async () => {
    const message = await loadError(
      patched((b, v) => {
        // attn_k is [dim 64, kv width 32]; stored as [32, 64] it has the same byte size.
        const at = tensorInfoOffset(b, "blk.0.attn_k.weight") + 8 + "blk.0.attn_k.weight".length;
        expect(v.getUint32(at, true)).toBe(2);
        v.setBigUint64(at + 4, 32n, true);
        v.setBigUint64(at + 12, 64n, true);
      }),
    );
    expect(message).toMatch(/^<path>: tensor "blk\.0\.attn_k\.weight" has shape \[32, 64\], expected \[64, 32\]/);
  });
});

describe("bad calls on a loaded model are refused and leave it usable", () => {
  it("refuses a token id outside the vocabulary before it reaches the engine", async () => {
    const model = await LocalModel.load(goodPath, LOAD);
    try {
      await expect(model.eval(0, [1, 2, 300])).rejects.toThrow(
        "Expected token ids between 0 and 299 for tokens but element 2 is '300' of type number",
      );
      await expect(model.eval(0, [1, -1])).rejects.toThrow(/element 1 is '-1'/);
      expect(model.tokens(0)).toHaveLength(0);
      expect((await model.eval(0, TOKENS)).logits).toEqual(goodLogits);
    } finally {
      model.free();
    }
  });

  it("refuses a token id outside the vocabulary in the addon itself", async () => {
    const native = await loadAddon().loadModel(goodPath, { threads: 2, nCtx: 32, nBatch: 256, nSlots: 1 });
    try {
      await expect(native.eval(0, Int32Array.from([1, 2, 300]), false)).rejects.toThrow(/token id 300 at index 2/);
      expect(native.tokens(0)).toHaveLength(0);
      expect((await native.eval(0, Int32Array.from(TOKENS), false)).logits).toEqual(goodLogits);
    } finally {
      native.free();
    }
  });

  it("refuses to evaluate with a model that was freed, naming the file", async () => {
    const model = await LocalModel.load(goodPath, LOAD);
    model.free();
    await expect(model.eval(0, TOKENS)).rejects.toThrow(`${goodPath}: the model has been freed`);
    expect(() => model.tokens(0)).toThrow(`${goodPath}: the model has been freed`);
    model.free(); // a second free is harmless
  });

  it("refuses to evaluate with a freed model in the addon itself", async () => {
    const native = await loadAddon().loadModel(goodPath, { threads: 2, nCtx: 32, nBatch: 256, nSlots: 1 });
    native.free();
    expect(() => native.eval(0, Int32Array.from(TOKENS), false)).toThrow(/the model has been freed/);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
