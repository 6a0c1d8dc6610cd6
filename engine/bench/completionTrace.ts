/**
 * `ghostline bench --completion-trace`: replays an edit trace against the real
 * engine process. It opens a source file with some lines missing, types them
 * character by character, sends a completion request after each keystroke and
 * cancels the stale one, then reports latency to the first visible completion
 * (p50/p90 over requests answered with text) and tokens evaluated per request.
 *
 * A trace (bench/traces/*.trace.json):
 *   { "name", "source": file beside the trace, "languageId", "uri",
 *     "typeLines": { "from", "to" } (0-based, end exclusive), "keystrokeMs" }
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  CancellationTokenSource,
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-jsonrpc/node";
import { packageRoot } from "../native/loadAddon";
import { GhostlineErrorCodes, HealthRequest, type GhostlineInitializationOptions, type HealthReport } from "../protocol/protocol";

export interface CompletionTrace {
  name: string;
  description?: string;
  source: string;
  languageId: string;
  uri: string;
  typeLines: { from: number; to: number };
  keystrokeMs: number;
}

export interface CompletionTraceOptions {
  /** Path of a .trace.json file. */
  trace: string;
  modelPath: string;
  /** The bundled engine; default dist/engine.js of the package. */
  enginePath?: string;
  /** Overrides the trace's typing speed. */
  keystrokeMs?: number;
  /** Stops typing after this many keystrokes. */
  maxKeystrokes?: number;
  /** Further engine settings (threads, maxTokens, timeBudgetMs ...). */
  settings?: GhostlineInitializationOptions;
}

export interface CompletionTraceReport {
  trace: string;
  model: string;
  device: string;
  keystrokes: number;
  requests: number;
  /** Answered with a non-empty completion. */
  visible: number;
  answeredEmpty: number;
  /** Cancelled by the client or superseded before answering. */
  cancelled: number;
  failed: number;
  latencyMs: { p50: number; p90: number; mean: number; max: number };
  /** Per completion that ran in the engine. */
  tokensEvaluatedPerRequest: number;
  tokensReusedPerRequest: number;
  cancelledBeforeStart: number;
  wallMs: number;
}

export function loadTrace(file: string): CompletionTrace {
  const t = JSON.parse(fs.readFileSync(file, "utf8")) as CompletionTrace;
  for (const key of ["name", "source", "languageId", "uri"] as const) {
    if (typeof t[key] !== "string") throw new Error(`${file}: "${key}" must be a string`);
  }
  if (!t.typeLines || !Number.isInteger(t.typeLines.from) || !Number.isInteger(t.typeLines.to) || t.typeLines.from >= t.typeLines.to) {
    throw new Error(`${file}: "typeLines" must be {from, to} with from < to`);
  }
  return t;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runCompletionTrace(options: CompletionTraceOptions): Promise<CompletionTraceReport> {
  const trace = loadTrace(options.trace);
  const text = fs.readFileSync(path.resolve(path.dirname(options.trace), trace.source), "utf8");
  const lines = text.split("\n");
  if (trace.typeLines.to > lines.length) throw new Error(`${options.trace}: typeLines.to ${trace.typeLines.to} is past the ${lines.length} lines of ${trace.source}`);
  const typed = lines.slice(trace.typeLines.from, trace.typeLines.to).join("\n") + "\n";
  const initial = [...lines.slice(0, trace.typeLines.from), ...lines.slice(trace.typeLines.to)].join("\n");
  const keystrokeMs = options.keystrokeMs ?? trace.keystrokeMs;
  const keys = Math.min(typed.length, options.maxKeystrokes ?? Infinity);

  const enginePath = options.enginePath ?? path.join(packageRoot(), "dist", "engine.js");
  const child = spawn(process.execPath, [enginePath], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.listen();
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  try {
    await conn.sendRequest("initialize", {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
      initializationOptions: { ...options.settings, modelPath: options.modelPath },
    });
    await conn.sendNotification("initialized", {});
    let health: HealthReport;
    for (;;) {
      health = await conn.sendRequest(HealthRequest.type);
      if (health.state !== "loading") break;
      await sleep(20);
    }
    if (health.state === "error") throw new Error(`the engine could not load ${options.modelPath}: ${health.lastError?.message}`);
    const before = health.requests;

    await conn.sendNotification("textDocument/didOpen", { textDocument: { uri: trace.uri, languageId: trace.languageId, version: 1, text: initial } });
    const latencies: number[] = [];
    let visible = 0;
    let empty = 0;
    let cancelled = 0;
    let failed = 0;
    const pending: Promise<void>[] = [];
    let previous: CancellationTokenSource | undefined;
    let line = trace.typeLines.from;
    let character = 0;
    const wallStart = performance.now();
    for (let k = 0; k < keys; k++) {
      const ch = typed[k];
      await conn.sendNotification("textDocument/didChange", {
        textDocument: { uri: trace.uri, version: k + 2 },
        contentChanges: [{ range: { start: { line, character }, end: { line, character } }, text: ch }],
      });
      if (ch === "\n") {
        line++;
        character = 0;
      } else character++;
      previous?.cancel();
      const source = new CancellationTokenSource();
      previous = source;
      const sent = performance.now();
      const params = { textDocument: { uri: trace.uri }, position: { line, character }, context: { triggerKind: 2 } };
      pending.push(
        conn.sendRequest<{ items: { insertText: string }[] }>("textDocument/inlineCompletion", params, source.token).then(
          (list) => {
            if (list.items.some((i) => i.insertText.length > 0)) {
              visible++;
              latencies.push(performance.now() - sent);
            } else empty++;
          },
          (err: { code?: number }) => {
            if (err.code === GhostlineErrorCodes.RequestCancelled || err.code === GhostlineErrorCodes.ServerCancelled) cancelled++;
            else failed++;
          },
        ),
      );
      await sleep(keystrokeMs);
    }
    await Promise.all(pending);
    const wallMs = performance.now() - wallStart;
    const after = await conn.sendRequest(HealthRequest.type);
    const ran = after.requests.completionsStarted - before.completionsStarted;
    latencies.sort((a, b) => a - b);
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      trace: trace.name,
      model: after.model?.name ?? options.modelPath,
      device: after.device,
      keystrokes: keys,
      requests: keys,
      visible,
      answeredEmpty: empty,
      cancelled,
      failed,
      latencyMs: {
        p50: round(percentile(latencies, 50)),
        p90: round(percentile(latencies, 90)),
        mean: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length)),
        max: round(latencies[latencies.length - 1] ?? NaN),
      },
      tokensEvaluatedPerRequest: round((after.requests.completionTokensEvaluated - before.completionTokensEvaluated) / Math.max(1, ran)),
      tokensReusedPerRequest: round((after.requests.completionTokensReused - before.completionTokensReused) / Math.max(1, ran)),
      cancelledBeforeStart: after.requests.completionsCancelledQueued - before.completionsCancelledQueued,
      wallMs: Math.round(wallMs),
    };
  } catch (err) {
    if (stderr) (err as Error).message += `\nengine stderr:\n${stderr}`;
    throw err;
  } finally {
    try {
      await conn.sendRequest("shutdown");
      await conn.sendNotification("exit");
    } catch {
      child.kill();
    }
    await exited;
    conn.dispose();
  }
}

export function formatCompletionTraceReport(r: CompletionTraceReport): string {
  return [
    `completion trace ${r.trace}: ${r.model} on ${r.device}`,
    `  keystrokes           ${r.keystrokes} (one request each, stale ones cancelled)`,
    `  answered with text   ${r.visible}   empty ${r.answeredEmpty}   cancelled ${r.cancelled} (${r.cancelledBeforeStart} before they started)   failed ${r.failed}`,
    `  latency to visible   p50 ${r.latencyMs.p50} ms   p90 ${r.latencyMs.p90} ms   mean ${r.latencyMs.mean} ms   max ${r.latencyMs.max} ms`,
    `  tokens per request   evaluated ${r.tokensEvaluatedPerRequest}   reused ${r.tokensReusedPerRequest}`,
    `  wall time            ${(r.wallMs / 1000).toFixed(1)} s`,
  ].join("\n");
}
