/** The shape of the native addon (native/src/addon/addon.cc), as TypeScript sees it. */

export interface NativeModelInfo {
  path: string;
  name: string;
  nVocab: number;
  nCtxTrain: number;
  dim: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nFf: number;
  tiedOutput: boolean;
  nCtx: number;
  nBatch: number;
  nSlots: number;
  kvType: "f16" | "f32";
  fileBytes: number;
  weightBytes: number;
  /** Weight bytes one decode step reads: every layer matrix, the output matrix, one embedding row. */
  weightBytesPerToken: number;
  /** Activations and KV cache, allocated once at load. */
  bufferBytes: number;
  /** The backend running the model: "cpu", "cuda", "metal" or "webgpu". */
  backend: string;
  /** What the caller asked for: "cpu", "cuda" or "auto". */
  requestedBackend: string;
  /** Why another backend runs than the one asked for; empty when none. */
  fallbackReason: string;
  device: string;
  threads?: number;
  kernels?: string;
}

export interface NativeEvalResult {
  /** nRows * nVocab logits, row by row. */
  logits: Float32Array;
  nRows: number;
  nEvaluated: number;
  /** The last row's most likely token, when asked for it alone (logits then hold no rows). */
  argmax?: number;
}

export interface NativeCounters {
  liveBuffers: number;
  bufferBytes: number;
  allocations: number;
  submits: number;
  inFlight: number;
  requestsBegun: number;
  requestsEnded: number;
  /** Kernels run (GPU backends). */
  launches: number;
  /** Memory the device reports in use, and what it recommends at most (Metal's working set); 0: unknown. */
  deviceUsedBytes: number;
  deviceBudgetBytes: number;
  /** Autorelease pools pushed and drained (Metal); equal whenever no work is running. */
  poolsPushed: number;
  poolsDrained: number;
}

export interface NativeModel {
  info(): NativeModelInfo;
  /**
   * Appends tokens to a slot's sequence and evaluates them; rejects with an AbortError when cancelled.
   * `argmaxOnly`: a backend may answer with `argmax` and no logits (WebGPU reads back 8 bytes then).
   */
  eval(slot: number, tokens: Int32Array, allLogits: boolean, argmaxOnly?: boolean): Promise<NativeEvalResult>;
  /** Stops the running evaluation at the next layer or chunk boundary. */
  cancel(): void;
  truncate(slot: number, nTokens: number): void;
  tokens(slot: number): Int32Array;
  counters(): NativeCounters;
  free(): void;
}

export interface NativeLoadOptions {
  threads?: number;
  nCtx?: number;
  nBatch?: number;
  nSlots?: number;
  kvType?: "f16" | "f32";
  backend?: "cpu" | "cuda" | "metal" | "auto";
}

export interface NativeReadProbe {
  /** Bytes per second of the fastest of `passes` reads of the whole buffer. */
  measure(passes: number): Promise<number>;
  free(): void;
}

export interface NativeAddon {
  loadModel(path: string, options: NativeLoadOptions): Promise<NativeModel>;
  cpuInfo(): { kernels: string; physicalCores: number; available: string[] };
  /** A buffer of `bytes` (beyond the caches) that `threads` threads read together; made once, measured many times. */
  createReadProbe(threads: number, bytes: number): Promise<NativeReadProbe>;
}
