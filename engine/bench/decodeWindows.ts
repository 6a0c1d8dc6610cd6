/**
 * Decode timed in windows, with the machine's read bandwidth measured before
 * each window and after the last. On a shared virtual machine the bandwidth a
 * process gets moves by a factor of two from one second to the next (33 and
 * 59 GB/s minutes apart on the development VM), so a ceiling measured once,
 * before or after a decode run, says little about the decode run itself. Each
 * window is instead compared with the bandwidth of its own moment.
 */

export interface DecodeWindow {
  tokens: number;
  /** Decode time of the window alone; the measurements around it are not counted. */
  ms: number;
  /** Bytes per second read just before and just after the window. */
  bandwidthBefore: number;
  bandwidthAfter: number;
}

export interface WindowedDecode {
  tokens: number;
  ms: number;
  /** Empty when no probe was given. */
  windows: DecodeWindow[];
  /** Every measurement, in order (one more than there are windows). */
  bandwidths: number[];
}

/** Runs `step` (one decode step) `tokens` times; with a probe, in windows of `windowTokens` with a measurement between. */
export async function decodeInWindows(
  step: () => Promise<void>,
  tokens: number,
  windowTokens: number,
  probe?: () => Promise<number>,
): Promise<WindowedDecode> {
  const windows: DecodeWindow[] = [];
  let before = probe ? await probe() : 0;
  const bandwidths = probe ? [before] : [];
  let done = 0;
  let ms = 0;
  while (done < tokens) {
    const n = probe ? Math.min(windowTokens, tokens - done) : tokens;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await step();
    const elapsed = performance.now() - t0;
    ms += elapsed;
    done += n;
    if (probe) {
      const after = await probe();
      bandwidths.push(after);
      windows.push({ tokens: n, ms: elapsed, bandwidthBefore: before, bandwidthAfter: after });
      before = after;
    }
  }
  return { tokens, ms, windows, bandwidths };
}

export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * The median over windows of the bytes per second a window's decode read
 * against the bandwidth of its moment: the higher of the measurements on
 * either side, so that a window is never flattered by a dip.
 */
export function fractionOfCeiling(windows: DecodeWindow[], weightBytesPerToken: number): number {
  if (windows.length === 0) return NaN;
  return median(
    windows.map((w) => ((w.tokens / w.ms) * 1000 * weightBytesPerToken) / Math.max(w.bandwidthBefore, w.bandwidthAfter)),
  );
}

/**
 * What an engine's repeats add up to: the fastest decode run and, when windows
 * were measured, their fraction of the ceiling and every measurement taken.
 */
export function summarizeDecodes(runs: WindowedDecode[], weightBytesPerToken: number) {
  const windows = runs.flatMap((r) => r.windows);
  return {
    bestMs: Math.min(...runs.map((r) => r.ms)),
    windowed:
      windows.length === 0
        ? {}
        : {
            decodeFractionOfCeiling: fractionOfCeiling(windows, weightBytesPerToken),
            bandwidths: runs.flatMap((r) => r.bandwidths),
            decodeWindows: windows.length,
          },
  };
}
