/**
 * The WebGPU backend as the engine uses it: slots and truncation, cancellation
 * between submissions, a soak in which buffers and memory stay flat, clear
 * errors for bad files, backend choice, and the move to the CPU when the
 * device is lost in the middle of work.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GgmlType } from "../../engine/gguf/ggufFormat";
import { buildSyntheticLlama, type SyntheticLlamaSpec } from "../../engine/gguf/syntheticLlama";
import { LocalModel } from "../../engine/model/localModel";
import { WebGpuModel } from "../../engine/webgpu/webgpuModel";
import { compareLogits } from "../helpers/logitStats";
import { sharedTestdata } from "../helpers/paths";
import { soakRequests } from "./soakRequests";
import { skipWebgpu } from "./webgpuAvailable";

const skip = await skipWebgpu();
const stories = path.join(sharedTestdata, "models", "stories260K-q8_0.gguf");
const reference = JSON.parse(fs.readFileSync(path.join(sharedTestdata, "models", "stories260K.reference.json"), "utf8"));
const story = Int32Array.from(reference.sequences.story200.tokens as number[]);

const SMALL: SyntheticLlamaSpec = { dim: 64, nLayers: 2, nHeads: 2, nKvHeads: 1, headDim: 32, ffnDim: 96, vocab: 300, ctx: 64, tiedOutput: true, normEps: 1e-5 };

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ghostline-webgpu-life-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function gpuDevice(model: unknown): { device: GPUDevice } {
  // The device itself, to make it fail as a driver reset would.
  return (model as { gpu: { device: GPUDevice } }).gpu;
}

describe.skipIf(skip)("WebGPU model lifecycle", () => {
  let model: WebGpuModel;
  beforeAll(async () => {
    model = await WebGpuModel.load(stories, { allowSoftware: true, nCtx: 256, nBatch: 32, nSlots: 2 });
    return () => model.free();
  });

  it("keeps a common prefix after truncate and gives the same logits as a fresh evaluation", async () => {
    model.truncate(0, 0);
    const fresh = await model.eval(0, story.subarray(0, 50), false);
    model.truncate(0, 30);
    expect(Array.from(model.tokens(0))).toEqual(Array.from(story.subarray(0, 30)));
    const reused = await model.eval(0, story.subarray(30, 50), false);
    expect(reused.nEvaluated).toBe(20);
    expect(compareLogits([reused.logits], [fresh.logits]).worst).toBeLessThan(1e-5);
  });

  it("keeps slots apart", async () => {
    model.truncate(0, 0);
    model.truncate(1, 0);
    const a = await model.eval(0, story.subarray(0, 40), false);
    await model.eval(1, story.subarray(100, 160), false);
    model.truncate(0, 39);
    const again = await model.eval(0, story.subarray(39, 40), false);
    expect(compareLogits([again.logits], [a.logits]).worst).toBeLessThan(1e-3);
    expect(model.tokens(1).length).toBe(60);
  });

  it("stops a cancelled prefill between submissions and keeps the chunks that completed", async () => {
    model.truncate(0, 0);
    const running = model.eval(0, story.subarray(0, 150), false);
    setImmediate(() => model.cancel());
    await expect(running).rejects.toMatchObject({ name: "AbortError" });
    const kept = model.tokens(0).length;
    expect(kept % 32).toBe(0);
    expect(kept).toBeLessThan(150);
    // The slot is consistent: continuing from there gives the logits of an uninterrupted run.
    const rest = await model.eval(0, story.subarray(kept, 150), false);
    model.truncate(0, 0);
    const whole = await model.eval(0, story.subarray(0, 150), false);
    expect(compareLogits([rest.logits], [whole.logits]).worst).toBeLessThan(1e-3);
  });

  it("rejects a context overflow and a second evaluation while one runs", async () => {
    model.truncate(0, 0);
    await expect(model.eval(0, new Int32Array(300).fill(5), false)).rejects.toThrow(/exceed the context of 256/);
    const first = model.eval(0, story.subarray(0, 8), false);
    await expect(model.eval(0, story.subarray(0, 8), false)).rejects.toThrow(/already running/);
    await first;
  });

  it("keeps buffers, bytes and in-flight work flat over 1,000 requests with cancellations", async () => {
    const { before, after, cancelled } = await soakRequests(model, story);
    expect(after.liveBuffers).toBe(before.liveBuffers);
    expect(after.bufferBytes).toBe(before.bufferBytes);
    expect(after.allocations).toBe(before.allocations);
    expect(after.inFlight).toBe(0);
    expect(after.requestsEnded).toBe(after.requestsBegun);
    expect(after.submits).toBeGreaterThan(before.submits + 1000);
    expect(cancelled).toBeGreaterThan(0);
  }, 120_000);
});

describe.skipIf(skip)("WebGPU bad input", () => {
  it("names a missing tensor", async () => {
    const built = buildSyntheticLlama(SMALL, 3);
    const file = path.join(tmp, "missing.gguf");
    await built.writer.writeFile(file);
    const bytes = fs.readFileSync(file);
    // Rename a tensor in place (same length), so the file stays well formed.
    const at = bytes.indexOf("blk.1.ffn_up.weight");
    bytes.write("blk.1.ffn_uq.weight", at);
    fs.writeFileSync(file, bytes);
    await expect(WebGpuModel.load(file, { allowSoftware: true })).rejects.toThrow(/tensor "blk.1.ffn_up.weight" is missing/);
  });

  it("names an unsupported tensor type and a wrong shape", async () => {
    const file = path.join(tmp, "q4.gguf");
    const built = buildSyntheticLlama({ ...SMALL, types: { byName: { "blk.0.attn_k.weight": GgmlType.F32 } } }, 4);
    await built.writer.writeFile(file);
    const bytes = fs.readFileSync(file);
    const header = (await import("../../engine/gguf/ggufReader")).parseGgufHeader(bytes, file);
    const info = header.tensors.find((t) => t.name === "blk.0.attn_k.weight")!;
    // The tensor-info record: name, n_dims (u32), dims (u64 each), type (u32).
    const nameAt = bytes.indexOf("blk.0.attn_k.weight");
    const typeAt = nameAt + "blk.0.attn_k.weight".length + 4 + 8 * info.dims.length;
    expect(bytes.readUInt32LE(typeAt)).toBe(GgmlType.F32);
    bytes.writeUInt32LE(2, typeAt); // Q4_0
    fs.writeFileSync(file, bytes);
    await expect(WebGpuModel.load(file, { allowSoftware: true })).rejects.toThrow(/blk\.0\.attn_k\.weight/);

    const wrong = path.join(tmp, "shape.gguf");
    await buildSyntheticLlama({ ...SMALL }, 5).writer.writeFile(wrong);
    const w = fs.readFileSync(wrong);
    const ffAt = w.indexOf("llama.feed_forward_length") + "llama.feed_forward_length".length + 4;
    w.writeUInt32LE(100, ffAt);
    fs.writeFileSync(wrong, w);
    await expect(WebGpuModel.load(wrong, { allowSoftware: true })).rejects.toThrow(/has shape \[64 x 96\], expected \[64 x 100\]/);
  });

  it("refuses a file that is not a Llama", async () => {
    const file = path.join(tmp, "notllama.gguf");
    await buildSyntheticLlama(SMALL, 6).writer.writeFile(file);
    const bytes = fs.readFileSync(file);
    bytes.write("llamb", bytes.indexOf("llama", bytes.indexOf("general.architecture")));
    fs.writeFileSync(file, bytes);
    await expect(WebGpuModel.load(file, { allowSoftware: true })).rejects.toThrow(/general.architecture is "llamb", expected "llama"/);
  });
});

describe.skipIf(skip)("backend choice with WebGPU", () => {
  it("runs on WebGPU when asked, and auto passes over a software adapter", async () => {
    const gpu = await LocalModel.load(stories, { backend: "webgpu", contextSize: 64 });
    expect(gpu.info.backend).toBe("webgpu");
    expect(gpu.counters().liveBuffers).toBeGreaterThan(0);
    gpu.free();
    const auto = await LocalModel.load(stories, { backend: "auto", contextSize: 64 });
    expect(auto.info.backend).toBe("cpu");
    expect(auto.info.fallbackReason).toMatch(/software renderer/);
    auto.free();
  });

  it("moves to the CPU when the device is lost, and still answers the request that saw it", async () => {
    const reasons: string[] = [];
    const model = await LocalModel.load(stories, { backend: "webgpu", contextSize: 128, slots: 2, onFallback: (r) => reasons.push(r) });
    try {
      const before = await model.eval(0, story.subarray(0, 20));
      gpuDevice((model as unknown as { native: unknown }).native).device.destroy();
      const after = await model.eval(0, story.subarray(20, 21));
      expect(model.info.backend).toBe("cpu");
      expect(model.info.fallbackReason).toMatch(/webgpu failed/);
      expect(reasons).toHaveLength(1);
      expect(Array.from(model.tokens(0))).toEqual(Array.from(story.subarray(0, 21)));
      // The same position evaluated on the CPU from scratch.
      const cpu = await LocalModel.load(stories, { backend: "cpu", contextSize: 128 });
      const want = await cpu.eval(0, story.subarray(0, 21));
      cpu.free();
      expect(compareLogits([after.logits], [want.logits]).worst).toBeLessThan(1e-5);
      expect(before.logits.length).toBe(after.logits.length);
    } finally {
      model.free();
    }
  });
});
