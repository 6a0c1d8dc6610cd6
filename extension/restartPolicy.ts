/**
 * What to do when the engine process dies: restart it after a growing delay;
 * after repeated crashes on a GPU backend, restart it on the CPU; after
 * repeated crashes on the CPU, stop. Crashes older than the window are
 * forgotten, so an engine that ran fine for a while starts with a clean slate.
 */

export interface RestartPolicyOptions {
  /** Delay before the n-th restart in the window (the last one repeats). */
  delaysMs: number[];
  /** Crashes older than this no longer count. */
  windowMs: number;
  /** Crashes on a GPU backend within the window before falling back to the CPU. */
  maxGpuCrashes: number;
  /** Crashes on the CPU within the window before giving up. */
  maxCpuCrashes: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = {
  delaysMs: [250, 1000, 3000, 8000],
  windowMs: 3 * 60_000,
  maxGpuCrashes: 3,
  maxCpuCrashes: 4,
};

export type RestartDecision =
  | { action: "restart"; delayMs: number; attempt: number; switchToCpu: boolean }
  | { action: "stop"; crashes: number; reason: string };

export class RestartPolicy {
  private crashes: number[] = [];
  private fellBackToCpu = false;

  constructor(
    private readonly options: RestartPolicyOptions = DEFAULT_RESTART_POLICY,
    private readonly now: () => number = Date.now,
  ) {}

  /** True once repeated GPU crashes moved the engine to the CPU (until reset). */
  get cpuFallback(): boolean {
    return this.fellBackToCpu;
  }

  /** Crashes counted in the current window. */
  get recentCrashes(): number {
    this.forgetOld();
    return this.crashes.length;
  }

  /** Records a crash; `onGpu` says whether the engine that died ran on a GPU backend. */
  recordCrash(onGpu: boolean): RestartDecision {
    this.forgetOld();
    this.crashes.push(this.now());
    const n = this.crashes.length;
    const o = this.options;
    if (onGpu && !this.fellBackToCpu && n >= o.maxGpuCrashes) {
      this.fellBackToCpu = true;
      this.crashes = [];
      return { action: "restart", delayMs: o.delaysMs[0], attempt: 1, switchToCpu: true };
    }
    if (!onGpu || this.fellBackToCpu) {
      if (n >= o.maxCpuCrashes) {
        return { action: "stop", crashes: n, reason: `the engine crashed ${n} times within ${Math.round(o.windowMs / 1000)} s` };
      }
    }
    return { action: "restart", delayMs: o.delaysMs[Math.min(n - 1, o.delaysMs.length - 1)], attempt: n, switchToCpu: false };
  }

  /** A restart the user asked for: forget the crashes and try the configured backend again. */
  reset(): void {
    this.crashes = [];
    this.fellBackToCpu = false;
  }

  private forgetOld(): void {
    const cutoff = this.now() - this.options.windowMs;
    this.crashes = this.crashes.filter((t) => t > cutoff);
  }
}
