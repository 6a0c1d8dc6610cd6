/**
 * How the engine's health reads in the status bar, its tooltip and the Show
 * Engine Health document. Pure: the status bar module turns this into VS Code
 * objects.
 */
import type { HealthReport } from "../engine/protocol/protocol";
import { explainOutcome, type RecordedOutcome } from "./whyNoSuggestion";

/** The client's side of the engine's life, beside the engine's own health state. */
export type EngineState = "starting" | "running" | "restarting" | "stopped" | "failed";

export interface HealthContext {
  engine: EngineState;
  /** Engine processes started again after a crash (the report's `restarts` counts model reloads). */
  processRestarts: number;
  cpuFallback: boolean;
  /** Why the client stopped or last restarted the engine. */
  lastCrash?: string;
}

export type Severity = "ok" | "warning" | "error";

export interface StatusView {
  text: string;
  severity: Severity;
}

export const COMMAND_LINKS: { title: string; command: string }[] = [
  { title: "Restart Engine", command: "ghostline.restartEngine" },
  { title: "Switch to CPU", command: "ghostline.switchToCpu" },
  { title: "Show Logs", command: "ghostline.showLogs" },
  { title: "Select Model", command: "ghostline.selectModel" },
];

export function backendLabel(backend: string): string {
  const known: Record<string, string> = { cpu: "CPU", metal: "Metal", cuda: "CUDA", webgpu: "WebGPU", vulkan: "Vulkan", auto: "Auto" };
  return known[backend.toLowerCase()] ?? backend;
}

export function statusView(h: HealthReport | undefined, ctx: HealthContext): StatusView {
  if (ctx.engine === "failed") return { text: "$(error) Ghostline stopped", severity: "error" };
  if (ctx.engine === "stopped") return { text: "$(circle-slash) Ghostline off", severity: "warning" };
  if (ctx.engine === "restarting") return { text: "$(sync~spin) Ghostline restarting", severity: "warning" };
  if (ctx.engine === "starting" || !h) return { text: "$(sync~spin) Ghostline starting", severity: "ok" };
  // Before a model is loaded the engine reports no backend ("none"): name the extension instead.
  const backend = h.backend && h.backend !== "none" ? backendLabel(h.backend) : "Ghostline";
  switch (h.state) {
    case "loading":
      return { text: `$(sync~spin) ${backend} · loading`, severity: "ok" };
    case "ready": {
      const speed = Math.round(h.speed.decodeTokensPerSecond);
      const text = `$(circuit-board) ${backend} · ${speed > 0 ? `${speed} tok/s` : "ready"}`;
      return { text, severity: ctx.cpuFallback || h.backendFallback ? "warning" : "ok" };
    }
    case "degraded":
      return { text: `$(warning) ${backend} · degraded`, severity: "warning" };
    case "error":
      return { text: `$(error) ${backend} · error`, severity: "error" };
    case "stopped":
      return { text: `$(circle-slash) ${backend} · stopped`, severity: "warning" };
  }
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Markdown text has to keep user-controlled strings (paths, messages) from becoming markup. */
export function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_[\]|<>]/g, (c) => `\\${c}`);
}

/** Rows of facts shared by the tooltip and the health document. */
export function healthRows(h: HealthReport | undefined, ctx: HealthContext): [string, string][] {
  const rows: [string, string][] = [];
  rows.push(["Engine", `${ctx.engine}${h ? ` (${h.state}: ${escapeMarkdown(h.message)})` : ""}`]);
  if (h) {
    const fallback = [h.backendFallback ? escapeMarkdown(h.backendFallback) : "", ctx.cpuFallback ? "CPU fallback after crashes" : ""].filter(Boolean).join("; ");
    rows.push(["Device", `${escapeMarkdown(backendLabel(h.backend))} · ${escapeMarkdown(h.device || "unknown")}${fallback ? ` (${fallback})` : ""}`]);
    const m = h.model;
    rows.push([
      "Model",
      m ? `${escapeMarkdown(m.name)} (${formatBytes(m.fileBytes)}, FIM: ${m.fim ? escapeMarkdown(m.fimFormat) : "none, prefix-only"}, context ${m.contextSize})` : "none loaded",
    ]);
    rows.push(["Memory", `model ${formatBytes(h.memory.modelBufferBytes)} · process ${formatBytes(h.memory.rssBytes)}`]);
    rows.push(["KV slots", `${h.slots.inUse} of ${h.slots.total} in use`]);
    rows.push(["Live GPU objects", gpuSummary(h)]);
    rows.push(["Last speeds", `prefill ${Math.round(h.speed.prefillTokensPerSecond)} tok/s · decode ${Math.round(h.speed.decodeTokensPerSecond)} tok/s`]);
    if (h.lastCompletion) {
      const c = h.lastCompletion;
      rows.push(["Last completion", `${c.outcome}, ${c.ms} ms, ${c.reusedTokens} tokens reused, ${c.evaluatedTokens} evaluated, ${c.generatedTokens} generated`]);
    }
  }
  rows.push(["Restarts", `${ctx.processRestarts} engine restart${ctx.processRestarts === 1 ? "" : "s"}${h ? `, ${h.restarts} model reload${h.restarts === 1 ? "" : "s"}` : ""}`]);
  const lastError = h?.lastError ? `${escapeMarkdown(h.lastError.message)} (${h.lastError.at})` : undefined;
  rows.push(["Last error", lastError ?? (ctx.lastCrash ? escapeMarkdown(ctx.lastCrash) : "none")]);
  return rows;
}

function table(rows: [string, string][]): string {
  return ["| | |", "| --- | --- |", ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\n/g, " ")} |`)].join("\n");
}

export function commandLinks(): string {
  return COMMAND_LINKS.map((l) => `[${l.title}](command:${l.command})`).join(" · ");
}

export function tooltipMarkdown(h: HealthReport | undefined, ctx: HealthContext): string {
  return [`**Ghostline**`, "", table(healthRows(h, ctx)), "", commandLinks()].join("\n");
}

/** The Show Engine Health document: the same facts, the request counters and why the last request showed nothing. */
export function healthDocument(h: HealthReport | undefined, ctx: HealthContext, last: RecordedOutcome | undefined, lastNothing: RecordedOutcome | undefined): string {
  const lines = ["# Ghostline engine health", "", table(healthRows(h, ctx)), ""];
  lines.push("## Why no suggestion?", "");
  if (!lastNothing) lines.push("No request has come back empty yet.");
  else lines.push(`Last request that showed nothing (${lastNothing.at.toLocaleTimeString()}${lastNothing.languageId ? `, ${lastNothing.languageId}` : ""}): ${explainOutcome(lastNothing.outcome)}`);
  if (last && last !== lastNothing) lines.push("", `Last request (${last.at.toLocaleTimeString()}): ${explainOutcome(last.outcome)}`);
  if (h) {
    const r = h.requests;
    lines.push(
      "",
      "## Requests",
      "",
      table([
        ["Completions", `${r.completionsReceived} received, ${r.completionsDone} done, ${r.completionsCancelledQueued} cancelled before running, ${r.completionsCancelledRunning} cancelled while running, ${r.completionsSuperseded} superseded`],
        ["Tokens", `${r.completionTokensReused} reused, ${r.completionTokensEvaluated} evaluated`],
        ["Explain", `${r.explainsStarted} started, ${r.explainsDone} done, ${r.explainsCancelled} cancelled`],
      ]),
    );
  }
  lines.push("", commandLinks(), "");
  return lines.join("\n");
}

/** Live buffers, and for a GPU backend the submissions in flight, pools and device memory against its budget. */
function gpuSummary(h: HealthReport): string {
  const g = h.gpu;
  if (!g) return String(h.gpuObjects);
  const parts = [`${g.liveBuffers} buffers`, `${g.inFlight} in flight`];
  if (g.poolsPushed > 0) parts.push(`pools ${g.poolsDrained}/${g.poolsPushed} drained`);
  if (g.deviceUsedBytes > 0) {
    parts.push(`device ${formatBytes(g.deviceUsedBytes)}${g.deviceBudgetBytes > 0 ? ` of ${formatBytes(g.deviceBudgetBytes)}` : ""}`);
  }
  return parts.join(" · ");
}
