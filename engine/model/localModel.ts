/**
 * A model loaded by the native engine, with arguments checked here so the
 * native side can assume them valid, and cancellation through AbortSignal.
 */
import * as fs from "node:fs";
import { loadAddon } from "../native/loadAddon";
import type { NativeCounters, NativeEvalResult, NativeModel, NativeModelInfo } from "../native/nativeApi";
import { expectInteger, expectString, expectTokens } from "../util/expect";
import { WebGpuModel } from "../webgpu/webgpuModel";
import { abortError } from "./abortError";
import { argmax } from "./greedy";

export interface LoadOptions {
  /** Worker threads; 0 or absent: one per physical core. */
  threads?: number;
  /** Positions per KV slot; 0 or absent: the model's training context, at most 4096. */
  contextSize?: number;
  /** Tokens per prefill chunk: the granularity of cancellation. */
  batchSize?: number;
  /** Independent sequences with their own KV cache. */
  slots?: number;
  /** KV cache precision: "f16" (llama.cpp's default, half the memory) or "f32". */
  kvType?: "f16" | "f32";
  /**
   * "cpu", "cuda", "metal", "webgpu" or "auto": a native GPU (Metal on macOS, CUDA where built in), then
   * WebGPU on a hardware adapter, then the CPU. A GPU that cannot start, or that fails later, falls back to
   * the CPU.
   */
  backend?: Backend;
  /** WebGPU's int8 dot product: "auto" (packed where the adapter has it) or forced, for tests. */
  webgpuDot?: "auto" | "packed" | "float";
  /** Called after a GPU failure moved the model to the CPU. */
  onFallback?: (reason: string) => void;
}

export type Backend = "cpu" | "cuda" | "metal" | "webgpu" | "auto";
const BACKENDS: readonly Backend[] = ["cpu", "cuda", "metal", "webgpu", "auto"];

export interface EvalOptions {
  allLogits?: boolean;
  /** Only the last row's most likely token is wanted: `argmax` is set, and `logits` may hold no rows. */
  argmaxOnly?: boolean;
  signal?: AbortSignal;
}

interface CheckedLoad {
  threads: number;
  nCtx: number;
  nBatch: number;
  nSlots: number;
  kvType: "f16" | "f32";
}

export class LocalModel {
  private freed = false;
  private current: NativeModelInfo;

  private constructor(
    private native: NativeModel,
    private readonly modelPath: string,
    private readonly load: CheckedLoad,
    private readonly onFallback?: (reason: string) => void,
  ) {
    this.current = native.info();
  }

  /** The running backend's facts; they change when a GPU failure moves the model to the CPU. */
  get info(): NativeModelInfo {
    return this.current;
  }

  static async load(modelPath: string, options: LoadOptions = {}): Promise<LocalModel> {
    expectString("modelPath", modelPath);
    const threads = expectInteger("threads", options.threads ?? 0, 0, 256);
    const nCtx = expectInteger("contextSize", options.contextSize ?? 0, 0, 1 << 20);
    const nBatch = expectInteger("batchSize", options.batchSize ?? 256, 1, 1 << 16);
    const nSlots = expectInteger("slots", options.slots ?? 1, 1, 64);
    const kvType = options.kvType ?? "f16";
    const backend = options.backend ?? "cpu";
    if (!BACKENDS.includes(backend)) {
      throw new TypeError(`Expected one of ${BACKENDS.map((b) => `"${b}"`).join(", ")} for backend but received '${String(backend)}'`);
    }
    if (kvType !== "f16" && kvType !== "f32") {
      throw new TypeError(`Expected "f16" or "f32" for kvType but received '${String(kvType)}'`);
    }
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(modelPath);
    } catch {
      throw new Error(`${modelPath}: model file not found`);
    }
    if (!stat.isFile()) throw new Error(`${modelPath}: not a file`);
    const load: CheckedLoad = { threads, nCtx, nBatch, nSlots, kvType };
    const native = await chooseBackend(modelPath, backend, load, options.webgpuDot ?? "auto");
    return new LocalModel(native, modelPath, load, options.onFallback);
  }

  /**
   * Appends `tokens` to the slot's sequence and evaluates them. An aborted
   * signal stops the work at the next layer or chunk and rejects with an
   * AbortError; the slot then holds the chunks that completed (see tokens()).
   */
  async eval(slot: number, tokens: ArrayLike<number>, options: EvalOptions = {}): Promise<NativeEvalResult> {
    this.checkOpen();
    expectInteger("slot", slot, 0, this.info.nSlots - 1);
    const ids = expectTokens("tokens", Array.from(tokens), this.info.nVocab);
    if (ids.length === 0) throw new RangeError("Expected at least one token to evaluate");
    const { signal } = options;
    if (signal?.aborted) throw abortError("evaluation cancelled before it started");
    const onAbort = () => this.native.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    let r: NativeEvalResult;
    try {
      r = await this.native.eval(slot, ids, options.allLogits ?? false, options.argmaxOnly ?? false);
    } catch (err) {
      if (!isGpuFailure(err)) throw err;
      r = await this.evalAfterFallback(slot, ids, options.allLogits ?? false, (err as Error).message);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    return options.argmaxOnly ? withArgmax(r, this.current.nVocab) : r;
  }

  /**
   * The GPU failed: the model moves to the CPU, this slot's earlier tokens are evaluated again there with
   * the new ones (other slots start empty, which prompt reuse sees), and the caller gets its result.
   */
  private async evalAfterFallback(slot: number, ids: Int32Array, allLogits: boolean, reason: string): Promise<NativeEvalResult> {
    const failed = this.native;
    const prior = failed.tokens(slot);
    const requested = this.current.requestedBackend;
    try {
      failed.free();
    } catch {
      // A lost device may refuse even this; its memory goes with it.
    }
    const cpu = await loadAddon().loadModel(this.modelPath, { ...this.load, backend: "cpu" });
    this.native = cpu;
    this.current = { ...cpu.info(), requestedBackend: requested, fallbackReason: `${this.current.backend} failed: ${reason}` };
    this.onFallback?.(this.current.fallbackReason);
    const all = new Int32Array(prior.length + ids.length);
    all.set(prior);
    all.set(ids, prior.length);
    const r = await cpu.eval(slot, all, allLogits);
    if (!allLogits) return { ...r, nEvaluated: ids.length };
    const nVocab = this.current.nVocab;
    return { logits: r.logits.slice(prior.length * nVocab), nRows: ids.length, nEvaluated: ids.length };
  }

  /** Keeps the first n tokens of the slot's sequence. */
  truncate(slot: number, n: number): void {
    this.checkOpen();
    expectInteger("slot", slot, 0, this.info.nSlots - 1);
    this.native.truncate(slot, expectInteger("n", n, 0, this.info.nCtx));
  }

  /** The tokens the slot's KV cache holds. */
  tokens(slot: number): Int32Array {
    this.checkOpen();
    return this.native.tokens(expectInteger("slot", slot, 0, this.info.nSlots - 1));
  }

  counters(): NativeCounters {
    this.checkOpen();
    return this.native.counters();
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.native.free();
  }

  private checkOpen(): void {
    if (this.freed) throw new Error(`${this.info.path}: the model has been freed`);
  }
}

/**
 * The backend the caller asked for, or the next one down: native GPUs first (the addon falls back to its CPU
 * backend itself), then WebGPU on a hardware adapter, then the CPU. Each refusal is kept as the reason.
 */
async function chooseBackend(path: string, backend: Backend, load: CheckedLoad, dot: "auto" | "packed" | "float"): Promise<NativeModel> {
  const addon = loadAddon();
  if (backend === "cpu" || backend === "cuda" || backend === "metal") return addon.loadModel(path, { ...load, backend });
  let reasons = "";
  if (backend === "auto") {
    const native = await addon.loadModel(path, { ...load, backend: "auto" });
    const info = native.info();
    if (info.backend !== "cpu") return native;
    native.free();
    reasons = info.fallbackReason;
  }
  try {
    return await WebGpuModel.load(path, {
      allowSoftware: backend === "webgpu",
      dot,
      nCtx: load.nCtx,
      nBatch: load.nBatch,
      nSlots: load.nSlots,
      requestedBackend: backend,
    });
  } catch (err) {
    reasons = [reasons, (err as Error).message].filter(Boolean).join("; ");
  }
  const cpu = await addon.loadModel(path, { ...load, backend: "cpu" });
  return withFallback(cpu, backend, reasons);
}

/** A model whose info says which backend was asked for and why another runs. */
function withFallback(model: NativeModel, requested: Backend, reason: string): NativeModel {
  return {
    info: () => ({ ...model.info(), requestedBackend: requested, fallbackReason: reason }),
    eval: (slot, tokens, allLogits, argmaxOnly) => model.eval(slot, tokens, allLogits, argmaxOnly),
    cancel: () => model.cancel(),
    truncate: (slot, n) => model.truncate(slot, n),
    tokens: (slot) => model.tokens(slot),
    counters: () => model.counters(),
    free: () => model.free(),
  };
}

/** The result with `argmax` set: the backend's own, or taken from the last row of logits. */
function withArgmax(r: NativeEvalResult, nVocab: number): NativeEvalResult {
  if (r.argmax !== undefined) return r;
  return { ...r, argmax: argmax(r.logits, (r.nRows - 1) * nVocab, nVocab) };
}

function isGpuFailure(err: unknown): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === "GPU_BACKEND_FAILED";
}
