/**
 * The engine's language server: document sync, inline completions, Explain
 * and health over one LSP connection, with one model shared through a
 * priority queue. Every request that fails answers with an LSP error and
 * leaves the engine ready for the next one.
 */
import {
  ResponseError,
  TextDocumentSyncKind,
  type CancellationToken,
  type Connection,
  type InitializeResult,
  type InlineCompletionList,
} from "vscode-languageserver/node";
import { ExtraContext } from "../completion/extraContext";
import { chunkTokens } from "../completion/fimPrompt";
import { emptyCounts, runCompletion } from "../completion/completionRunner";
import { runExplain } from "../explain/explainRunner";
import { HealthTracker } from "../health/healthTracker";
import { isAbortError } from "../model/abortError";
import {
  defaultSettings,
  ExplainRequest,
  HealthNotification,
  HealthRequest,
  type ExplainResult,
  type GhostlineSettings,
} from "../protocol/protocol";
import { CancelledWhileQueued, ModelQueue, Priority } from "../scheduler/modelQueue";
import { CANCELLED, SUPERSEDED, Superseder } from "../scheduler/supersede";
import { DocumentStore } from "./documentStore";
import { Logger } from "./logger";
import { cancelled, evaluationFailed, invalidParams, modelUnavailable, superseded } from "./lspErrors";
import { loadModel, modelFacts, type LoadedModel } from "./modelHost";
import { checkPosition, compare, expectDocument, expectPosition, expectRange, expectUri } from "./requestParams";
import { mergeSettings, needsReload } from "./settings";

const INLINE = "textDocument/inlineCompletion";
const EXPLAIN = ExplainRequest.method;

export class EngineServer {
  private settings: GhostlineSettings = { ...defaultSettings, explain: { ...defaultSettings.explain } };
  private loaded: LoadedModel | undefined;
  private loadError = "the model has not been loaded yet";
  private readonly queue = new ModelQueue();
  private readonly completions = new Superseder();
  private readonly explains = new Set<AbortController>();
  private readonly docs = new DocumentStore();
  private readonly extra = new ExtraContext();
  readonly health = new HealthTracker();
  readonly log = new Logger();

  constructor(private readonly connection: Connection) {
    this.log.attach(connection.console);
    this.health.onChange((r) => void connection.sendNotification(HealthNotification.type, r).catch(() => {}));
    this.register();
  }

  private register(): void {
    const c = this.connection;
    c.onInitialize((params): InitializeResult => {
      this.applySettings(params.initializationOptions, "initializationOptions");
      return {
        capabilities: {
          textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
          inlineCompletionProvider: true,
        },
        serverInfo: { name: "ghostline-engine", version: "0.1.0" },
      };
    });
    c.onInitialized(() => void this.reload("initialize"));
    c.onDidChangeConfiguration((p) => {
      const before = this.settings;
      this.applySettings(p.settings, "didChangeConfiguration");
      if (needsReload(before, this.settings) || !this.loaded) void this.reload("settings changed");
    });
    c.onShutdown(async () => {
      this.completions.abortAll(CANCELLED);
      for (const e of this.explains) e.abort(CANCELLED);
      await this.queue.run(Priority.Reload, undefined, async () => {
        this.loaded?.model.free();
        this.loaded = undefined;
      });
      this.health.modelUnloaded();
      this.health.setState("stopped", "the engine was shut down");
    });

    c.onDidOpenTextDocument(({ textDocument: t }) => {
      this.docs.open(t.uri, t.languageId, t.version, t.text);
      this.extra.addAround(t.uri, t.text, 0);
    });
    c.onDidChangeTextDocument(({ textDocument: t, contentChanges }) => {
      const entry = this.docs.change(t.uri, t.version ?? 0, contentChanges);
      if (!entry) return this.log.warn(`didChange for ${t.uri}, which is not open`);
      this.extra.addAround(t.uri, entry.doc.getText(), entry.lastEditLine);
    });
    c.onDidCloseTextDocument(({ textDocument: t }) => this.docs.close(t.uri));

    c.languages.inlineCompletion.on((params, token) => this.complete(params, token));
    c.onRequest(ExplainRequest.type, (params, token) => this.explain(params, token));
    c.onRequest(HealthRequest.type, () => this.health.report());
  }

  private applySettings(raw: unknown, from: string): void {
    const { settings, problems } = mergeSettings(this.settings, raw);
    this.settings = settings;
    for (const p of problems) {
      this.log.warn(`${from}: ${p}`);
      this.health.error(`${from}: ${p}`, this.loaded ? "degraded" : this.health.current);
    }
  }

  /** Loads the model the settings name, after the work already running; queued work waits for it. */
  private async reload(why: string): Promise<void> {
    this.completions.abortAll(CANCELLED);
    for (const e of this.explains) e.abort(CANCELLED);
    const settings = this.settings;
    await this.queue.run(Priority.Reload, undefined, async () => {
      if (this.loaded) {
        this.loaded.model.free();
        this.loaded = undefined;
        this.health.modelUnloaded();
      }
      this.loadError = "the model is loading";
      this.health.setState("loading", `loading ${settings.modelPath || "(no model configured)"} (${why})`);
      try {
        const loaded = await loadModel(settings, (reason) => {
          // The GPU failed during a request: the model now runs on the CPU, and health says so.
          this.log.error(`GPU backend failed; running on the CPU: ${reason}`);
          if (this.loaded === loaded) this.health.modelLoaded(modelFacts(loaded));
        });
        this.loaded = loaded;
        this.health.modelLoaded(modelFacts(this.loaded));
        const info = this.loaded.model.info;
        this.log.info(`loaded ${this.loaded.name}: ${info.backend} ${info.device}, context ${info.nCtx}, FIM ${this.loaded.fim.name}, chat ${this.loaded.chat?.name ?? "none"}`);
      } catch (err) {
        this.loadError = (err as Error).message;
        this.log.error(`model load failed: ${this.loadError}`);
        this.health.error(this.loadError, "error");
      }
    });
  }

  private async complete(params: unknown, token: CancellationToken): Promise<InlineCompletionList> {
    const uri = expectUri(INLINE, params);
    const position = expectPosition(INLINE, (params as { position?: unknown }).position, "position");
    const lines = expectDocument(INLINE, this.docs, uri);
    checkPosition(INLINE, uri, lines, position);
    const counters = this.health.counters;
    counters.completionsReceived++;

    const controller = this.completions.begin(uri);
    const signal = controller.signal;
    const sub = token.onCancellationRequested(() => controller.abort(CANCELLED));
    const counts = emptyCounts();
    const started = performance.now();
    let ran = false;
    try {
      if (token.isCancellationRequested) controller.abort(CANCELLED);
      return await this.queue.run(Priority.Completion, signal, async () => {
        const m = this.requireModel(INLINE);
        ran = true;
        counters.completionsStarted++;
        // The document may have changed while the request waited.
        const now = this.docs.lines(uri);
        if (!now) throw cancelled(INLINE, `document ${uri} was closed`);
        checkPosition(INLINE, uri, now, position);
        const extra = this.extra
          .select(uri, this.settings.extraContextTokens, (ch) => chunkTokens(m.cache, m.fim, { name: nameOf(ch.uri), text: ch.text }).length)
          .map((ch) => ({ name: nameOf(ch.uri), text: ch.text }));
        const out = await runCompletion(m, { lines: now, position, extra, settings: this.settings }, signal, counts);
        this.health.prefill(counts.evaluatedTokens, out.prefillMs);
        this.health.decode(counts.generatedTokens, out.decodeMs);
        counters.completionsDone++;
        const range = { start: position, end: position };
        return { items: out.text.length > 0 ? [{ insertText: out.text, range }] : [] };
      });
    } catch (err) {
      throw this.failure(INLINE, uri, err, signal, ran, counts);
    } finally {
      sub.dispose();
      this.completions.end(uri, controller);
      counts.ms = Math.round(performance.now() - started);
      if (ran) this.health.completionEnded(counts);
    }
  }

  /** Maps what stopped a request to its LSP error, and counts it. */
  private failure(method: string, uri: string, err: unknown, signal: AbortSignal, ran: boolean, counts = emptyCounts()): unknown {
    const counters = this.health.counters;
    const isCompletion = method === INLINE;
    if (err instanceof CancelledWhileQueued || (signal.aborted && isAbortError(err))) {
      const why = signal.reason === SUPERSEDED ? "superseded" : "cancelled";
      counts.outcome = why;
      if (isCompletion) {
        if (ran) counters.completionsCancelledRunning++;
        else counters.completionsCancelledQueued++;
        if (why === "superseded") counters.completionsSuperseded++;
      } else counters.explainsCancelled++;
      return why === "superseded"
        ? superseded(method, uri)
        : cancelled(method, ran ? "cancelled while running" : "cancelled before it started");
    }
    counts.outcome = "failed";
    if (err instanceof ResponseError) return err;
    const message = (err as Error)?.message ?? String(err);
    this.log.error(`${method} for ${uri} failed: ${message}`);
    this.health.error(`${method} failed: ${message}`, this.loaded ? "degraded" : "error");
    return evaluationFailed(method, message);
  }

  private requireModel(method: string): LoadedModel {
    if (!this.loaded) throw modelUnavailable(method, this.loadError);
    return this.loaded;
  }

  private async explain(params: unknown, token: CancellationToken): Promise<ExplainResult> {
    const uri = expectUri(EXPLAIN, params);
    const p = params as { range?: unknown; text?: unknown; languageId?: unknown; partialResultToken?: unknown };
    const range = expectRange(EXPLAIN, p.range);
    if (p.text !== undefined && typeof p.text !== "string") throw invalidParams(EXPLAIN, "expected text to be a string when given");
    const pr = p.partialResultToken;
    if (pr !== undefined && typeof pr !== "string" && typeof pr !== "number") {
      throw invalidParams(EXPLAIN, "expected partialResultToken to be a string or a number");
    }
    if (p.languageId !== undefined && typeof p.languageId !== "string") {
      throw invalidParams(EXPLAIN, "expected languageId to be a string when given");
    }
    if (compare(range.start, range.end) > 0) throw invalidParams(EXPLAIN, "range.start is after range.end");
    // Text sent with the request needs no open document; otherwise the range is read from the engine's copy.
    const open = this.docs.get(uri);
    if (p.text === undefined || open) {
      const lines = expectDocument(EXPLAIN, this.docs, uri);
      checkPosition(EXPLAIN, uri, lines, range.start, "range.start");
      checkPosition(EXPLAIN, uri, lines, range.end, "range.end");
    }
    const doc = open?.doc;
    const languageId = doc?.languageId ?? (p.languageId as string | undefined) ?? "plaintext";
    const code = (p.text as string | undefined) ?? doc!.getText(range);
    if (code.trim().length === 0) throw invalidParams(EXPLAIN, `nothing to explain: the range of ${uri} holds only whitespace`);

    const controller = new AbortController();
    this.explains.add(controller);
    const sub = token.onCancellationRequested(() => controller.abort(CANCELLED));
    let ran = false;
    try {
      return await this.queue.run(Priority.Explain, controller.signal, async (lease) => {
        const m = this.requireModel(EXPLAIN);
        ran = true;
        this.health.counters.explainsStarted++;
        const out = await runExplain(
          m,
          { code, languageId, fileName: nameOf(uri) },
          this.settings.explain,
          lease,
          controller.signal,
          (delta) => {
            if (pr !== undefined) void this.connection.sendProgress(ExplainRequest.partialResult, pr, { delta });
          },
        );
        this.health.prefill(out.prefillTokens, out.prefillMs);
        this.health.decode(out.tokens, out.decodeMs);
        this.health.counters.explainsDone++;
        return { text: out.text, tokens: out.tokens, promptStyle: out.style, stopReason: out.stopReason };
      });
    } catch (err) {
      throw this.failure(EXPLAIN, uri, err, controller.signal, ran);
    } finally {
      sub.dispose();
      this.explains.delete(controller);
    }
  }
}

/** The last part of a document's path, for naming context chunks. */
function nameOf(uri: string): string {
  const path = uri.replace(/[?#].*$/, "");
  return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1));
}
