/**
 * A model loaded by the native engine, with arguments checked here so the
 * native side can assume them valid, and cancellation through AbortSignal.
 */
import * as fs from "node:fs";
import { loadAddon } from "../native/loadAddon";
import type { NativeCounters, NativeEvalResult, NativeModel, NativeModelInfo } from "../native/nativeApi";
import { expectInteger, expectString, expectTokens } from "../util/expect";

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
  /** "cpu", "cuda", "metal" or "auto" (the GPU when one is built in and usable); a GPU that cannot start falls back to the CPU. */
  backend?: "cpu" | "cuda" | "metal" | "auto";
}

export interface EvalOptions {
  allLogits?: boolean;
  signal?: AbortSignal;
}

export class LocalModel {
  private freed = false;

  private constructor(
    private readonly native: NativeModel,
    readonly info: NativeModelInfo,
  ) {}

  static async load(modelPath: string, options: LoadOptions = {}): Promise<LocalModel> {
    expectString("modelPath", modelPath);
    const threads = expectInteger("threads", options.threads ?? 0, 0, 256);
    const nCtx = expectInteger("contextSize", options.contextSize ?? 0, 0, 1 << 20);
    const nBatch = expectInteger("batchSize", options.batchSize ?? 256, 1, 1 << 16);
    const nSlots = expectInteger("slots", options.slots ?? 1, 1, 64);
    const kvType = options.kvType ?? "f16";
    const backend = options.backend ?? "cpu";
    if (backend !== "cpu" && backend !== "cuda" && backend !== "metal" && backend !== "auto") {
      throw new TypeError(`Expected "cpu", "cuda", "metal" or "auto" for backend but received '${String(backend)}'`);
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
    const native = await loadAddon().loadModel(modelPath, { threads, nCtx, nBatch, nSlots, kvType, backend });
    return new LocalModel(native, native.info());
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
    try {
      return await this.native.eval(slot, ids, options.allLogits ?? false);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
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

export function abortError(message: string): Error {
  const err = new Error(message);
  err.name = "AbortError";
  (err as NodeJS.ErrnoException).code = "ABORT_ERR";
  return err;
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || (err as NodeJS.ErrnoException).code === "ABORT_ERR");
}
