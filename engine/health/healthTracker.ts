/**
 * The engine's health: its state, the model, speeds, request counters and the
 * last error. Changes of state, model or error are announced through
 * `onChange`; counters and speeds are read with the report.
 */
import type { CompletionCounts, GpuCounters, HealthModel, HealthReport, HealthState, RequestCounters } from "../protocol/protocol";

export interface ModelFacts {
  model: HealthModel;
  backend: string;
  device: string;
  /** Why the backend differs from the requested one; empty when it does not. */
  backendFallback: string;
  bufferBytes: number;
  slots: number;
  /** Tokens each slot holds, read when the report is made. */
  slotTokens: () => number[];
  /** A GPU backend's counters, read when the report is made; null on the CPU. */
  gpu: () => GpuCounters | null;
}

function emptyCounters(): RequestCounters {
  return {
    completionsReceived: 0,
    completionsStarted: 0,
    completionsDone: 0,
    completionsCancelledQueued: 0,
    completionsCancelledRunning: 0,
    completionsSuperseded: 0,
    explainsStarted: 0,
    explainsDone: 0,
    explainsCancelled: 0,
    completionTokensReused: 0,
    completionTokensEvaluated: 0,
  };
}

export class HealthTracker {
  private state: HealthState = "loading";
  private message = "starting";
  private facts: ModelFacts | null = null;
  private lastError: { message: string; at: string } | null = null;
  private loads = 0;
  private prefillTps = 0;
  private decodeTps = 0;
  readonly counters: RequestCounters = emptyCounters();
  lastCompletion: CompletionCounts | null = null;
  private listeners: ((r: HealthReport) => void)[] = [];

  onChange(listener: (r: HealthReport) => void): void {
    this.listeners.push(listener);
  }

  get current(): HealthState {
    return this.state;
  }

  setState(state: HealthState, message: string): void {
    if (state === this.state && message === this.message) return;
    this.state = state;
    this.message = message;
    this.announce();
  }

  /** A model finished loading (the first load, or a restart). */
  modelLoaded(facts: ModelFacts): void {
    this.facts = facts;
    this.loads++;
    this.prefillTps = 0;
    this.decodeTps = 0;
    this.lastCompletion = null;
    this.state = "ready";
    this.message = `${facts.model.name} on ${facts.device}` + (facts.model.fim ? "" : " (no FIM tokens: prefix-only completions)");
    this.announce();
  }

  modelUnloaded(): void {
    this.facts = null;
  }

  /** Records an error; `state` is the state it leaves the engine in. */
  error(message: string, state: HealthState = this.facts ? "degraded" : "error"): void {
    this.lastError = { message, at: new Date().toISOString() };
    this.state = state;
    this.message = message;
    this.announce();
  }

  prefill(tokens: number, ms: number): void {
    if (tokens >= 1 && ms > 0) this.prefillTps = (tokens * 1000) / ms;
  }

  decode(tokens: number, ms: number): void {
    if (tokens >= 1 && ms > 0) this.decodeTps = (tokens * 1000) / ms;
  }

  completionEnded(counts: CompletionCounts): void {
    this.lastCompletion = counts;
    this.counters.completionTokensReused += counts.reusedTokens;
    this.counters.completionTokensEvaluated += counts.evaluatedTokens;
  }

  report(): HealthReport {
    const f = this.facts;
    const mem = process.memoryUsage();
    const tokens = f ? f.slotTokens() : [];
    return {
      state: this.state,
      message: this.message,
      backend: f?.backend ?? "none",
      device: f?.device ?? "none",
      backendFallback: f?.backendFallback ?? "",
      model: f ? { ...f.model } : null,
      memory: { modelBufferBytes: f?.bufferBytes ?? 0, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed },
      slots: { total: f?.slots ?? 0, inUse: tokens.filter((n) => n > 0).length, tokens },
      speed: { prefillTokensPerSecond: round(this.prefillTps), decodeTokensPerSecond: round(this.decodeTps) },
      lastCompletion: this.lastCompletion ? { ...this.lastCompletion } : null,
      requests: { ...this.counters },
      ...gpuFields(f),
      restarts: Math.max(0, this.loads - 1),
      lastError: this.lastError ? { ...this.lastError } : null,
    };
  }

  private announce(): void {
    if (this.listeners.length === 0) return;
    const r = this.report();
    for (const l of this.listeners) l(r);
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

function gpuFields(f: ModelFacts | null | undefined): Pick<HealthReport, "gpuObjects" | "gpu"> {
  const gpu = f ? f.gpu() : null;
  return { gpuObjects: gpu?.liveBuffers ?? 0, gpu };
}
