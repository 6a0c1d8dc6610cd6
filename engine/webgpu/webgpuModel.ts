/**
 * A Llama GGUF run by WebGPU kernels (through Dawn), behind the same model
 * interface as the native backends. Everything on the GPU is created at load;
 * a request writes its token ids and step records, records the program's
 * dispatches and submits them, and reads back only the logits asked for.
 * Prefill is submitted a few layers at a time so cancellation takes effect
 * between them; a cancelled chunk leaves the slot at its previous length.
 */
import { metaNumberOr, metaStringOr, readGgufHeader, type GgufHeader } from "../gguf/ggufReader";
import { llamaHyperParams, type LlamaHyperParams } from "../gguf/llamaHyperParams";
import { abortError } from "../model/abortError";
import type { NativeCounters, NativeEvalResult, NativeModel, NativeModelInfo } from "../native/nativeApi";
import { createActivations, type ActivationBuffers } from "./activationBuffers";
import { buildForwardProgram, recordSteps, type ForwardProgram, type LayerWeights, type ModelWeights } from "./forwardProgram";
import { GpuDevice, type GpuDeviceOptions } from "./gpuDevice";
import { GpuResources } from "./gpuResources";
import { readVector, uploadMatrix, uploadStackedQ8, uploadVector, type GpuMatrix } from "./gpuWeights";
import { compileKernels } from "./kernelPipelines";
import { profileKernels, type KernelTime } from "./kernelProfile";
import { ATTENTION_MAX_HEAD_DIM } from "./kernels/attention";

export interface WebGpuLoadOptions extends GpuDeviceOptions {
  nCtx?: number;
  nBatch?: number;
  nSlots?: number;
  requestedBackend?: string;
}

/** A failure of the GPU itself (device lost, validation or memory error): the caller falls back to the CPU. */
export class GpuBackendError extends Error {
  readonly code = "GPU_BACKEND_FAILED";
  constructor(message: string) {
    super(message);
    this.name = "GpuBackendError";
  }
}

const LAYER_GROUPS = 4; // prefill submissions per chunk: the granularity of cancellation

/** Where the last chunk's time went, in milliseconds (for the bench's breakdown). */
export interface ChunkTimings {
  record: number;
  wait: number;
  readback: number;
}

interface RecordedPass {
  commands: GPUCommandBuffer;
  launches: number;
}

/** What a chunk reads back: its rows' logits, or only the greedy token of its last row. */
type Readout = "logits" | "argmax";

interface ChunkOutput {
  logits?: Float32Array;
  argmax?: number;
}

export class WebGpuModel implements NativeModel {
  /** The next decode step, recorded while the GPU runs the current one. */
  private nextDecode?: RecordedPass & { pos0: number; outRows: number; readout: Readout };
  readonly lastChunk: ChunkTimings = { record: 0, wait: 0, readback: 0 };
  private cancelled = false;
  private busy = false;
  private freed = false;
  private readonly slotTokens: Int32Array[];
  private readonly slotLength: number[];

  private constructor(
    private readonly gpu: GpuDevice,
    private readonly res: GpuResources,
    private readonly hp: LlamaHyperParams,
    private readonly act: ActivationBuffers,
    private readonly program: ForwardProgram,
    private readonly modelInfo: NativeModelInfo,
  ) {
    this.slotTokens = Array.from({ length: modelInfo.nSlots }, () => new Int32Array(modelInfo.nCtx));
    this.slotLength = new Array(modelInfo.nSlots).fill(0);
  }

  static async load(path: string, options: WebGpuLoadOptions): Promise<WebGpuModel> {
    const header = await readGgufHeader(path);
    const hp = llamaHyperParams(header);
    if (hp.dim % 4 !== 0 || hp.ffnDim % 4 !== 0) {
      throw new Error(`${path}: the WebGPU backend needs the embedding (${hp.dim}) and FFN (${hp.ffnDim}) widths to be multiples of 4`);
    }
    if (hp.headDim > ATTENTION_MAX_HEAD_DIM || hp.headDim % 2 !== 0) {
      throw new Error(`${path}: head size ${hp.headDim} is not supported by the WebGPU backend (even, at most ${ATTENTION_MAX_HEAD_DIM})`);
    }
    const nCtxTrain = metaNumberOr(header, "llama.context_length", 2048) ?? 2048;
    const nCtx = options.nCtx || Math.min(nCtxTrain, 4096);
    const nBatch = Math.min(options.nBatch || 256, nCtx);
    const nSlots = options.nSlots || 1;

    const gpu = await GpuDevice.open(options);
    const res = new GpuResources(gpu.device);
    try {
      gpu.device.pushErrorScope("out-of-memory");
      gpu.device.pushErrorScope("validation");
      const kernels = compileKernels(gpu.device, gpu.dot);
      const weights = uploadWeights(res, gpu.usage, path, header, hp);
      const quantizedWidth = Math.max(
        0,
        ...[weights.output, ...weights.layers.flatMap((L) => [L.wq, L.wk, L.wv, L.wo, L.gate, L.up, L.down])].filter((m) => m.kind === "q8_0").map((m) => m.cols),
      );
      const ropeFreqs = header.tensors.some((t) => t.name === "rope_freqs.weight") ? readVector(path, header, "rope_freqs.weight", hp.ropeDim / 2) : undefined;
      const act = createActivations(res, gpu.usage, { hp, nBatch, nCtx, nSlots, quantizedWidth, ropeFreqs });
      const program = buildForwardProgram(gpu.device, res, gpu.usage, await kernels, hp, weights, act);
      const validation = await gpu.device.popErrorScope();
      const memory = await gpu.device.popErrorScope();
      const err = memory ?? validation;
      if (err) throw new Error(`WebGPU: loading ${path} failed: ${err.message}`);
      if (gpu.failure) throw new Error(gpu.failure);
      const weightBytes = weightFileBytes(weights);
      const info: NativeModelInfo = {
        path,
        name: metaStringOr(header, "general.name", "") ?? "",
        nVocab: hp.vocab,
        nCtxTrain,
        dim: hp.dim,
        nLayer: hp.nLayers,
        nHead: hp.nHeads,
        nHeadKv: hp.nKvHeads,
        headDim: hp.headDim,
        nFf: hp.ffnDim,
        tiedOutput: weights.output === weights.embedding,
        nCtx,
        nBatch,
        nSlots,
        kvType: "f16",
        fileBytes: header.tensors.reduce((end, t) => Math.max(end, t.offset + t.byteLength), 0),
        weightBytes,
        // Every layer matrix and the output matrix, and one embedding row.
        weightBytesPerToken: weightBytes - (weights.output === weights.embedding ? 0 : weights.embedding.fileBytes) + weights.embedding.fileBytes / hp.vocab,
        bufferBytes: res.counters().bufferBytes,
        backend: "webgpu",
        requestedBackend: options.requestedBackend ?? "webgpu",
        fallbackReason: "",
        device: gpu.describe(),
        kernels: `wgsl-${gpu.dot === "packed" ? "dot4i8packed" : "float-dot"}`,
      };
      return new WebGpuModel(gpu, res, hp, act, program, info);
    } catch (e) {
      res.destroyAll();
      gpu.close();
      throw e;
    }
  }

  /** Microseconds per kernel for a chunk of `rows` rows (see kernelProfile.ts); the slots are left as they are. */
  async profile(rows: number, repeats = 50): Promise<KernelTime[]> {
    const { nCtx } = this.modelInfo;
    const pos0 = Math.max(0, Math.min(nCtx - rows, 512));
    this.gpu.device.queue.writeBuffer(this.act.stepRows, 0, new Uint32Array([rows, pos0, 0, 0]));
    this.gpu.device.queue.writeBuffer(this.act.stepOut, 0, new Uint32Array([1, pos0, 0, rows - 1]));
    return profileKernels(this.gpu.device, this.program, this.hp.nLayers, rows, pos0, repeats);
  }

  info(): NativeModelInfo {
    return { ...this.modelInfo };
  }

  cancel(): void {
    this.cancelled = true;
  }

  truncate(slot: number, nTokens: number): void {
    this.slotLength[slot] = Math.min(this.slotLength[slot], nTokens);
  }

  tokens(slot: number): Int32Array {
    return this.slotTokens[slot].slice(0, this.slotLength[slot]);
  }

  counters(): NativeCounters {
    return this.res.counters();
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.res.destroyAll();
    this.gpu.close();
  }

  async eval(slot: number, tokens: Int32Array, allLogits: boolean, argmaxOnly = false): Promise<NativeEvalResult> {
    if (this.freed) throw new Error(`${this.modelInfo.path}: the model has been freed`);
    if (this.busy) throw new Error(`${this.modelInfo.path}: an evaluation is already running`);
    if (this.gpu.failure) throw new GpuBackendError(this.gpu.failure);
    const { nCtx, nBatch, nVocab } = this.modelInfo;
    if (this.slotLength[slot] + tokens.length > nCtx) {
      throw new RangeError(`slot ${slot} holds ${this.slotLength[slot]} tokens; ${tokens.length} more exceed the context of ${nCtx}`);
    }
    this.busy = true;
    this.cancelled = false;
    this.res.requestsBegun++;
    const greedyOnly = argmaxOnly && !allLogits;
    const nRows = greedyOnly ? 0 : allLogits ? tokens.length : 1;
    const logits = new Float32Array(nRows * nVocab);
    let evaluated = 0;
    let best: number | undefined;
    try {
      for (let at = 0; at < tokens.length; at += nBatch) {
        if (this.cancelled) throw abortError(`evaluation cancelled after ${evaluated} of ${tokens.length} tokens`);
        const chunk = tokens.subarray(at, Math.min(tokens.length, at + nBatch));
        const last = at + chunk.length === tokens.length;
        const outRows = allLogits ? chunk.length : last ? 1 : 0;
        const out = await this.runChunkChecked(slot, chunk, outRows, greedyOnly ? "argmax" : "logits");
        if (out.logits) logits.set(out.logits, allLogits ? at * nVocab : 0);
        if (out.argmax !== undefined) best = out.argmax;
        this.slotTokens[slot].set(chunk, this.slotLength[slot]);
        this.slotLength[slot] += chunk.length;
        evaluated += chunk.length;
      }
      return best === undefined ? { logits, nRows, nEvaluated: evaluated } : { logits, nRows, nEvaluated: evaluated, argmax: best };
    } finally {
      this.busy = false;
      this.res.requestsEnded++;
    }
  }

  /** runChunk, with whatever the GPU throws (a lost device rejects maps and scopes) as a backend error. */
  private async runChunkChecked(slot: number, chunk: Int32Array, outRows: number, readout: Readout): Promise<ChunkOutput> {
    try {
      return await this.runChunk(slot, chunk, outRows, readout);
    } catch (err) {
      // Our own cancellation carries the string code; a lost device rejects maps with a DOMException AbortError.
      if (err instanceof GpuBackendError || (err as NodeJS.ErrnoException).code === "ABORT_ERR") throw err;
      this.gpu.failure ||= `WebGPU: ${(err as Error).message}`;
      throw new GpuBackendError(this.gpu.failure);
    }
  }

  /** One chunk through every layer; the logits of its last `outRows` rows. */
  private async runChunk(slot: number, chunk: Int32Array, outRows: number, readout: Readout): Promise<ChunkOutput> {
    const { device } = this.gpu;
    const queue = device.queue;
    const n = chunk.length;
    const pos0 = this.slotLength[slot];
    queue.writeBuffer(this.act.tokens, 0, new Uint32Array(chunk));
    queue.writeBuffer(this.act.stepRows, 0, new Uint32Array([n, pos0, slot * this.modelInfo.nCtx, 0]));
    queue.writeBuffer(this.act.stepOut, 0, new Uint32Array([outRows, pos0, slot * this.modelInfo.nCtx, n - outRows]));
    const groups = n === 1 ? 1 : LAYER_GROUPS;
    const perGroup = Math.ceil(this.hp.nLayers / groups);
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    let scopeErrors: (GPUError | null)[] = [];
    const timings = this.lastChunk;
    timings.record = timings.wait = timings.readback = 0;
    try {
      for (let l0 = 0; l0 < this.hp.nLayers; l0 += perGroup) {
        if (l0 > 0 && this.cancelled) throw abortError(`evaluation cancelled at layer ${l0} of a ${n}-token chunk`);
        const l1 = Math.min(this.hp.nLayers, l0 + perGroup);
        const lastGroup = l1 >= this.hp.nLayers;
        const t0 = performance.now();
        const pass = n === 1 ? this.takeDecodePass(pos0, outRows, readout) : this.recordPass(n, pos0, l0, l1, lastGroup ? outRows : 0, readout);
        const t1 = performance.now();
        timings.record += t1 - t0;
        this.res.launches += pass.launches;
        if (lastGroup && outRows > 0) {
          // Mapping the logits waits for this submission: no separate round trip.
          this.res.submitNoWait([pass.commands], queue);
          // While the GPU works, record the next decode step (its dispatches depend only on the position).
          if (n === 1 && pos0 + 1 < this.modelInfo.nCtx) {
            this.nextDecode = { pos0: pos0 + 1, outRows, readout, ...this.recordPass(1, pos0 + 1, 0, this.hp.nLayers, outRows, readout) };
          }
        } else {
          await this.res.submit([pass.commands], queue);
          timings.wait += performance.now() - t1;
        }
        if (this.gpu.failure) throw new GpuBackendError(this.gpu.failure);
      }
    } finally {
      scopeErrors = [await device.popErrorScope(), await device.popErrorScope()];
    }
    const err = scopeErrors.find((e) => e);
    if (err) {
      this.gpu.failure ||= `WebGPU error: ${err.message}`;
      throw new GpuBackendError(this.gpu.failure);
    }
    if (outRows === 0) return {};
    const greedy = readout === "argmax";
    const buffer = greedy ? this.act.bestReadback : this.act.readback;
    const bytes = greedy ? 8 : outRows * this.modelInfo.nVocab * 4;
    const t2 = performance.now();
    try {
      await buffer.mapAsync(this.gpu.mapMode.READ, 0, bytes);
    } finally {
      this.res.workDone();
    }
    try {
      const data = buffer.getMappedRange(0, bytes);
      return greedy ? { argmax: new Uint32Array(data)[0] } : { logits: new Float32Array(data.slice(0)) };
    } finally {
      buffer.unmap();
      timings.readback = performance.now() - t2;
    }
  }

  /** The decode step recorded ahead for this position, or a fresh recording. */
  private takeDecodePass(pos0: number, outRows: number, readout: Readout): RecordedPass {
    const ready = this.nextDecode;
    this.nextDecode = undefined;
    if (ready && ready.pos0 === pos0 && ready.outRows === outRows && ready.readout === readout) return ready;
    return this.recordPass(1, pos0, 0, this.hp.nLayers, outRows, readout);
  }

  /** Layers [l0, l1) for `n` rows from `pos0` (the embedding with layer 0; the logits of `outRows` rows after the last). */
  private recordPass(n: number, pos0: number, l0: number, l1: number, outRows: number, readout: Readout): RecordedPass {
    const encoder = this.gpu.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    let launches = 0;
    if (l0 === 0) launches += recordSteps(pass, this.program.head, n, pos0);
    for (let l = l0; l < l1; l++) launches += recordSteps(pass, this.program.layers[l], n, pos0);
    if (outRows > 0) launches += recordSteps(pass, this.program.tail, outRows, pos0);
    if (outRows > 0 && readout === "argmax") launches += recordSteps(pass, this.program.argmax, outRows, pos0);
    pass.end();
    if (outRows > 0 && readout === "argmax") encoder.copyBufferToBuffer(this.act.best, 0, this.act.bestReadback, 0, 8);
    else if (outRows > 0) encoder.copyBufferToBuffer(this.act.logits, 0, this.act.readback, 0, outRows * this.modelInfo.nVocab * 4);
    return { commands: encoder.finish(), launches };
  }

}

function uploadWeights(res: GpuResources, usage: GPUBufferUsage, path: string, h: GgufHeader, hp: LlamaHyperParams): ModelWeights {
  const qDim = hp.nHeads * hp.headDim;
  const kvDim = hp.nKvHeads * hp.headDim;
  const matrix = (name: string, rows: number, cols: number): GpuMatrix => uploadMatrix(res, usage, path, h, name, rows, cols);
  const embedding = matrix("token_embd.weight", hp.vocab, hp.dim);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < hp.nLayers; l++) {
    const b = `blk.${l}`;
    // One product for q, k and v (and one for gate and up) where all are Q8_0; the parts stand for it then.
    const qkv = uploadStackedQ8(res, usage, path, h, `${b}.attn_qkv`, [
      { name: `${b}.attn_q.weight`, rows: qDim },
      { name: `${b}.attn_k.weight`, rows: kvDim },
      { name: `${b}.attn_v.weight`, rows: kvDim },
    ], hp.dim);
    const gateUp = uploadStackedQ8(res, usage, path, h, `${b}.ffn_gate_up`, [
      { name: `${b}.ffn_gate.weight`, rows: hp.ffnDim },
      { name: `${b}.ffn_up.weight`, rows: hp.ffnDim },
    ], hp.dim);
    layers.push({
      qkv,
      gateUp,
      attnNorm: uploadVector(res, usage, path, h, `${b}.attn_norm.weight`, hp.dim),
      wq: qkv ?? matrix(`${b}.attn_q.weight`, qDim, hp.dim),
      wk: qkv ?? matrix(`${b}.attn_k.weight`, kvDim, hp.dim),
      wv: qkv ?? matrix(`${b}.attn_v.weight`, kvDim, hp.dim),
      wo: matrix(`${b}.attn_output.weight`, hp.dim, qDim),
      ffnNorm: uploadVector(res, usage, path, h, `${b}.ffn_norm.weight`, hp.dim),
      gate: gateUp ?? matrix(`${b}.ffn_gate.weight`, hp.ffnDim, hp.dim),
      up: gateUp ?? matrix(`${b}.ffn_up.weight`, hp.ffnDim, hp.dim),
      down: matrix(`${b}.ffn_down.weight`, hp.dim, hp.ffnDim),    });
  }
  const tied = !h.tensors.some((t) => t.name === "output.weight");
  return {
    embedding,
    outputNorm: uploadVector(res, usage, path, h, "output_norm.weight", hp.dim),
    output: tied ? embedding : matrix("output.weight", hp.vocab, hp.dim),
    layers,
  };
}

function weightFileBytes(w: ModelWeights): number {
  const all = new Set([w.embedding, w.output, ...w.layers.flatMap((L) => [L.wq, L.wk, L.wv, L.wo, L.gate, L.up, L.down])]);
  let total = 0;
  for (const m of all) total += m.fileBytes;
  return total;
}
