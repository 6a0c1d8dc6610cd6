/**
 * The protocol between the Ghostline extension and its engine, imported by both.
 *
 * Everything LSP already has is plain LSP: initialize (the engine advertises
 * `inlineCompletionProvider`), incremental document sync,
 * `textDocument/inlineCompletion` (LSP 3.18), `$/cancelRequest`, `$/progress`,
 * `window/logMessage`, `workspace/didChangeConfiguration`, shutdown and exit.
 * This file declares only what LSP lacks (Explain and health), the settings
 * the engine accepts, and the error codes it answers with.
 */
import { NotificationType, ProgressType, RequestType, RequestType0 } from "vscode-jsonrpc";

/** Structural copies of the LSP basics, so this file needs only vscode-jsonrpc. */
export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}
export interface TextDocumentIdentifier {
  uri: string;
}

// ---------------------------------------------------------------- settings

export type Backend = "auto" | "cpu" | "cuda" | "metal" | "webgpu";

/**
 * Engine settings. They arrive as `initializationOptions` (client to engine)
 * and later through `workspace/didChangeConfiguration` (client to engine) as
 * `{ settings: { ghostline: Partial<GhostlineSettings> } }` or
 * `{ settings: Partial<GhostlineSettings> }`. Absent fields keep their value.
 */
export interface GhostlineSettings {
  /** Path of the GGUF model file. Empty: no model, health state "error". */
  modelPath: string;
  /**
   * "auto" picks the best backend this build and machine can run (Metal on macOS, CUDA where built in, then
   * WebGPU on a hardware adapter, else the CPU); a GPU backend that cannot start or fails later falls back
   * to the CPU, and health says why.
   */
  backend: Backend;
  /** Worker threads; 0: one per physical core. */
  threads: number;
  /** Positions per KV slot; 0: the model's training context, at most 4096. */
  contextSize: number;
  /** Most tokens one completion generates. */
  maxTokens: number;
  /** After this many milliseconds of generation a completion stops at the next newline. */
  timeBudgetMs: number;
  /** Token budget of the extra context taken from other documents; 0 turns it off. */
  extraContextTokens: number;
  explain: ExplainSettings;
}

export interface ExplainSettings {
  maxTokens: number;
  /** 0: greedy. */
  temperature: number;
  /** 0: no top-k cut. */
  topK: number;
  /** 1: no nucleus cut. */
  topP: number;
  /** Seed of the sampler; absent: a fresh seed per request. */
  seed?: number;
}

export const defaultSettings: GhostlineSettings = {
  modelPath: "",
  backend: "auto",
  threads: 0,
  contextSize: 0,
  maxTokens: 128,
  timeBudgetMs: 1000,
  extraContextTokens: 512,
  explain: { maxTokens: 256, temperature: 0.2, topK: 40, topP: 0.95 },
};

/** What `initializationOptions` may hold (client to engine). */
export type GhostlineInitializationOptions = Partial<Omit<GhostlineSettings, "explain">> & { explain?: Partial<ExplainSettings> };

// ---------------------------------------------------------------- errors

/** Error codes of the engine's answers (JSON-RPC server range), beside LSP's own. */
export const GhostlineErrorCodes = {
  /** JSON-RPC: the params do not have the expected shape. */
  InvalidParams: -32602,
  /** LSP: the client cancelled the request. */
  RequestCancelled: -32800,
  /** LSP: the engine cancelled it (a newer completion for the same document superseded it). */
  ServerCancelled: -32802,
  /** No model is loaded (none configured, or it failed to load); see health.lastError. */
  ModelUnavailable: -32001,
  /** The request names a document the client never opened (or closed). */
  UnknownDocument: -32002,
  /** A position or range lies outside the document. */
  PositionOutOfRange: -32003,
  /** The model failed while evaluating. */
  EvaluationFailed: -32004,
} as const;

// ---------------------------------------------------------------- explain

export interface ExplainParams {
  textDocument: TextDocumentIdentifier;
  range: Range;
  /**
   * The text to explain; absent: the document's text in `range`. With text, the document need not be open in
   * the engine (an output panel, a diff), and `range` only says where the text came from.
   */
  text?: string;
  /** The language of `text` when the document is not open (default "plaintext"). */
  languageId?: string;
  /** Where partial results go (`$/progress`, engine to client): ExplainPartialResult values. */
  partialResultToken?: string | number;
}

/** One piece of the explanation as it streams. */
export interface ExplainPartialResult {
  delta: string;
}

export interface ExplainResult {
  text: string;
  /** Tokens generated. */
  tokens: number;
  /** "chat" when the model's chat template was used, "plain" for base models. */
  promptStyle: "chat" | "plain";
  stopReason: StopReason;
}

export type StopReason = "eog" | "maxTokens" | "timeBudget" | "lineEnd" | "indent" | "suffix" | "contextFull";

/** `ghostline/explain`: a request from client to engine; streams partial results through `$/progress`. */
export namespace ExplainRequest {
  export const method = "ghostline/explain" as const;
  export const type = new RequestType<ExplainParams, ExplainResult, void>(method);
  export const partialResult = new ProgressType<ExplainPartialResult>();
}

// ---------------------------------------------------------------- health

export type HealthState = "loading" | "ready" | "degraded" | "error" | "stopped";

export interface HealthModel {
  path: string;
  name: string;
  fileBytes: number;
  /** "deepseek-coder", "codellama", "starcoder" ... or "none" (prefix-only continuation). */
  fimFormat: string;
  fim: boolean;
  /** The recognised chat template, or "none" (Explain uses a plain prompt). */
  chatTemplate: string;
  contextSize: number;
  vocabSize: number;
}

export interface CompletionCounts {
  /** Prompt tokens kept from the slot's KV cache. */
  reusedTokens: number;
  /** Prompt tokens evaluated. */
  evaluatedTokens: number;
  promptTokens: number;
  generatedTokens: number;
  /** Tokens evaluated after the cancel arrived (a prompt chunk or decode step in flight counts as one). */
  stepsAfterCancel: number;
  outcome: "done" | "cancelled" | "superseded" | "failed";
  stopReason?: StopReason;
  ms: number;
}

export interface RequestCounters {
  completionsReceived: number;
  completionsStarted: number;
  completionsDone: number;
  /** Cancelled (or superseded) while queued: answered without running. */
  completionsCancelledQueued: number;
  /** Cancelled (or superseded) while running. */
  completionsCancelledRunning: number;
  completionsSuperseded: number;
  explainsStarted: number;
  explainsDone: number;
  explainsCancelled: number;
  /** Sums over every completion that ran, for per-request averages. */
  completionTokensReused: number;
  completionTokensEvaluated: number;
}

export interface GpuCounters {
  liveBuffers: number;
  /** Command buffers (submissions) not yet complete. */
  inFlight: number;
  submits: number;
  /** Autorelease pools pushed and drained (Metal; zero elsewhere). */
  poolsPushed: number;
  poolsDrained: number;
  /** Device memory in use, and the most the device recommends (Metal's working set); zero: unknown. */
  deviceUsedBytes: number;
  deviceBudgetBytes: number;
}

export interface HealthReport {
  state: HealthState;
  /** One line on the state, for a status bar tooltip. */
  message: string;
  backend: string;
  device: string;
  /** Why the backend differs from the one the settings ask for (no GPU, a device error); empty when it does not. */
  backendFallback: string;
  model: HealthModel | null;
  memory: { modelBufferBytes: number; rssBytes: number; heapUsedBytes: number };
  slots: { total: number; inUse: number; tokens: number[] };
  speed: { prefillTokensPerSecond: number; decodeTokensPerSecond: number };
  lastCompletion: CompletionCounts | null;
  requests: RequestCounters;
  /** Live GPU buffers (GPU backends; zero on the CPU). */
  gpuObjects: number;
  /** A GPU backend's resource counters; null on the CPU. Over any number of requests they stay flat. */
  gpu: GpuCounters | null;
  /** Model (re)loads after the first. */
  restarts: number;
  lastError: { message: string; at: string } | null;
}

/** `ghostline/health`: a request from client to engine for the current report. */
export namespace HealthRequest {
  export const method = "ghostline/health" as const;
  export const type = new RequestType0<HealthReport, void>(method);
}

/** `ghostline/health`: a notification from engine to client whenever the state or the model changes. */
export namespace HealthNotification {
  export const method = "ghostline/health" as const;
  export const type = new NotificationType<HealthReport>(method);
}
