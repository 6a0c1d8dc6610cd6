/** What one engine measured in `ghostline bench`. */
export interface EngineTiming {
  engine: string;
  /** Tokens per second evaluating a prompt of `prefillTokens` in one call. */
  prefillTokensPerSecond: number;
  /** Tokens per second generating `decodeTokens` one at a time after the prompt. */
  decodeTokensPerSecond: number;
  /**
   * Decode against the ceiling of its own moment: the median over decode windows of each window's
   * rate against the bandwidth measured beside it (see decodeWindows.ts). Absent without a probe.
   */
  decodeFractionOfCeiling?: number;
  /** The bandwidth measurements taken between this engine's decode windows, bytes per second. */
  bandwidths?: number[];
  /** Windows compared with their own bandwidth, over all repeats. */
  decodeWindows?: number;
  note?: string;
}

export interface BenchPlan {
  prefillTokens: number;
  decodeTokens: number;
  /** Runs of each measurement; the best one counts (the least disturbed by the rest of the machine). */
  repeats: number;
  threads: number;
  /** Where Ghostline's engine runs; llama.cpp runs on the CPU. */
  backend?: "auto" | "cpu" | "cuda" | "metal" | "webgpu";
  /** Tokens per decode window when a bandwidth probe runs between windows. */
  windowTokens: number;
}

/** One read-bandwidth measurement, bytes per second, taken now. */
export type BandwidthProbe = () => Promise<number>;

/** Token ids spread over the vocabulary, the same for every engine. */
export function benchPrompt(nVocab: number, n: number): number[] {
  const ids: number[] = [];
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    ids.push(3 + (x % (nVocab - 3)));
  }
  return ids;
}
