/**
 * The engine's life: starts `dist/engine.js` with VS Code's own Node runtime
 * through vscode-languageclient, follows its health notifications, sends
 * setting changes, and restarts it with back-off when it dies (on the CPU
 * after repeated GPU crashes; stopping, with the reason, after repeated CPU
 * crashes). The extension host never loads the native addon itself.
 */
import * as path from "node:path";
import * as vscode from "vscode";
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  LanguageClient,
  RevealOutputChannelOn,
  TransportKind,
  type LanguageClientOptions,
  type Middleware,
  type ServerOptions,
} from "vscode-languageclient/node";
import { HealthNotification, HealthRequest, type HealthReport } from "../engine/protocol/protocol";
import { engineSettings, type ExtensionSettings } from "./configuration";
import type { EngineState, HealthContext } from "./healthView";
import { RestartPolicy } from "./restartPolicy";

export interface EngineClientOptions {
  extensionPath: string;
  log: vscode.LogOutputChannel;
  settings: () => ExtensionSettings;
  defaultModelPath: () => string;
  middleware: Middleware;
}

export type ModelCheck = { ok: true; health: HealthReport } | { ok: false; message: string };

/** Documents the engine sees: everything a user edits, in any language. */
const DOCUMENTS = [{ scheme: "file" }, { scheme: "untitled" }, { scheme: "vscode-notebook-cell" }];

export class EngineClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  /** Bumped whenever a client is replaced, so late events from an old one are ignored. */
  private generation = 0;
  private readonly policy = new RestartPolicy();
  private restartTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private modelOverride: string | undefined;
  private currentState: EngineState = "stopped";
  private lastHealth: HealthReport | undefined;
  private processRestarts = 0;
  private lastCrash: string | undefined;
  private readonly healthEmitter = new vscode.EventEmitter<HealthReport | undefined>();
  private readonly stateEmitter = new vscode.EventEmitter<EngineState>();
  private readonly stoppedEmitter = new vscode.EventEmitter<string>();
  private readonly fallbackEmitter = new vscode.EventEmitter<string>();

  /** Every health report, and undefined when the engine goes away. */
  readonly onDidChangeHealth = this.healthEmitter.event;
  readonly onDidChangeState = this.stateEmitter.event;
  /** The engine was given up after repeated crashes; the argument says why. */
  readonly onDidGiveUp = this.stoppedEmitter.event;
  /** The engine moved to the CPU after repeated GPU crashes; the argument says why. */
  readonly onDidFallBackToCpu = this.fallbackEmitter.event;

  constructor(private readonly opts: EngineClientOptions) {}

  get state(): EngineState {
    return this.currentState;
  }
  get health(): HealthReport | undefined {
    return this.lastHealth;
  }
  get isRunning(): boolean {
    return this.currentState === "running" && this.client !== undefined;
  }
  /** True while Select Model has the engine try a new file (its failure is reported there, not as a load error). */
  get checkingModel(): boolean {
    return this.modelOverride !== undefined;
  }
  get languageClient(): LanguageClient | undefined {
    return this.isRunning ? this.client : undefined;
  }
  get context(): HealthContext {
    return { engine: this.currentState, processRestarts: this.processRestarts, cpuFallback: this.policy.cpuFallback, lastCrash: this.lastCrash };
  }

  /** The engine's settings now, with the notes to log. */
  engineOptions() {
    return engineSettings(this.opts.settings(), {
      defaultModelPath: this.opts.defaultModelPath(),
      cpuFallback: this.policy.cpuFallback,
      modelOverride: this.modelOverride,
    });
  }

  async start(): Promise<void> {
    clearTimeout(this.restartTimer);
    const gen = ++this.generation;
    const enginePath = path.join(this.opts.extensionPath, "dist", "engine.js");
    // VS Code's own Node: the extension host's executable run as plain Node. The addon is N-API, so one binary serves it.
    const serverOptions: ServerOptions = {
      module: enginePath,
      runtime: process.execPath,
      transport: TransportKind.stdio,
      options: { cwd: this.opts.extensionPath, env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" } },
    };
    const { options, notes } = this.engineOptions();
    for (const n of notes) this.opts.log.warn(n);
    const clientOptions: LanguageClientOptions = {
      documentSelector: DOCUMENTS,
      outputChannel: this.opts.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => this.engineOptions().options,
      middleware: this.opts.middleware,
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => {
          this.handleExit(gen);
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
    };
    const client = new LanguageClient("ghostline", "Ghostline Engine", serverOptions, clientOptions);
    this.client = client;
    this.setState(this.processRestarts > 0 && this.currentState === "restarting" ? "restarting" : "starting");
    this.opts.log.info(`starting the engine: ${process.execPath} ${enginePath} (model ${options.modelPath}, backend ${options.backend})`);
    client.onNotification(HealthNotification.type, (h) => {
      if (gen === this.generation) this.setHealth(h);
    });
    try {
      await client.start();
    } catch (err) {
      if (gen !== this.generation) return;
      this.opts.log.error(`the engine failed to start: ${(err as Error).message}`);
      this.handleExit(gen, (err as Error).message);
      return;
    }
    if (gen !== this.generation) return;
    this.setState("running");
    try {
      this.setHealth(await client.sendRequest(HealthRequest.type));
    } catch (err) {
      this.opts.log.warn(`ghostline/health failed: ${(err as Error).message}`);
    }
  }

  /** A restart the user asked for: forgets past crashes and the CPU fallback. */
  async restart(): Promise<void> {
    this.policy.reset();
    this.lastCrash = undefined;
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.restartTimer);
    const client = this.client;
    this.client = undefined;
    this.generation++;
    if (client) {
      try {
        await client.stop(3000);
      } catch (err) {
        this.opts.log.warn(`stopping the engine: ${(err as Error).message}`);
      }
    }
    this.setState("stopped");
    this.setHealth(undefined);
  }

  /** Asks the engine for a fresh report (its notifications come on state changes; speeds change with every request). */
  async refreshHealth(): Promise<HealthReport | undefined> {
    const client = this.languageClient;
    if (!client) return this.lastHealth;
    const gen = this.generation;
    try {
      const h = await client.sendRequest(HealthRequest.type);
      if (gen === this.generation) this.setHealth(h);
    } catch (err) {
      this.opts.log.debug(`ghostline/health failed: ${(err as Error).message}`);
    }
    return this.lastHealth;
  }

  /** A refresh at most once a second, after completions and explanations, so the status bar shows current speeds. */
  refreshHealthSoon(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refreshHealth();
    }, 1000);
  }

  /** Sends the current settings to a running engine (it reloads the model when the model settings changed). */
  sendSettings(): void {
    const client = this.languageClient;
    if (!client) return;
    const { options, notes } = this.engineOptions();
    for (const n of notes) this.opts.log.warn(n);
    void client.sendNotification(DidChangeConfigurationNotification.type, { settings: { ghostline: options } }).catch((err) =>
      this.opts.log.error(`sending settings to the engine: ${(err as Error).message}`),
    );
  }

  /**
   * Loads `modelPath` in the engine and waits for the verdict. On failure the
   * engine goes back to the configured model, so the previous model is kept.
   */
  async tryModel(modelPath: string, timeoutMs = 5 * 60_000): Promise<ModelCheck> {
    if (!this.isRunning) return { ok: false, message: "the engine is not running" };
    if (this.lastHealth?.model?.path === modelPath && this.lastHealth.state !== "error") return { ok: true, health: this.lastHealth };
    this.modelOverride = modelPath;
    const verdict = this.waitForLoad(modelPath, timeoutMs);
    this.sendSettings();
    const result = await verdict;
    this.modelOverride = undefined;
    if (!result.ok) this.sendSettings();
    return result;
  }

  private waitForLoad(modelPath: string, timeoutMs: number): Promise<ModelCheck> {
    return new Promise((resolve) => {
      let sawLoading = false;
      const finish = (r: ModelCheck) => {
        clearTimeout(timer);
        sub.dispose();
        resolve(r);
      };
      const timer = setTimeout(() => finish({ ok: false, message: `the engine did not finish loading ${modelPath} within ${timeoutMs / 1000} s` }), timeoutMs);
      const sub = this.onDidChangeHealth((h) => {
        if (!h) return finish({ ok: false, message: "the engine stopped while loading the model" });
        if (h.state === "loading") sawLoading = true;
        else if (sawLoading && h.state === "error") finish({ ok: false, message: h.lastError?.message ?? h.message });
        else if (sawLoading && h.model?.path === modelPath) finish({ ok: true, health: h });
      });
    });
  }

  /** The engine process is gone without being asked to stop: restart it, fall back to the CPU, or give up. */
  private handleExit(gen: number, startError?: string): void {
    if (gen !== this.generation) return;
    this.generation++;
    this.client = undefined;
    const said = this.lastHealth?.lastError?.message;
    const why = startError ?? (said ? `the engine exited unexpectedly; it last reported: ${said}` : "the engine exited unexpectedly");
    this.lastCrash = why;
    const onGpu = this.engineOptions().options.backend !== "cpu" && (this.lastHealth?.backend ?? "auto") !== "cpu";
    const decision = this.policy.recordCrash(onGpu);
    this.setHealth(undefined);
    if (decision.action === "stop") {
      const reason = `${decision.reason}; last: ${why}`;
      this.opts.log.error(`giving up on the engine: ${reason}`);
      this.setState("failed");
      this.stoppedEmitter.fire(reason);
      return;
    }
    if (decision.switchToCpu) {
      const msg = `the engine crashed repeatedly on the GPU backend (${why}); restarting it on the CPU`;
      this.opts.log.warn(msg);
      this.fallbackEmitter.fire(msg);
    }
    this.processRestarts++;
    this.opts.log.warn(`${why}; restarting it in ${decision.delayMs} ms (crash ${decision.attempt} in the current window)`);
    this.setState("restarting");
    this.restartTimer = setTimeout(() => void this.start(), decision.delayMs);
  }

  private setState(s: EngineState): void {
    if (s === this.currentState) return;
    this.currentState = s;
    this.stateEmitter.fire(s);
  }

  private setHealth(h: HealthReport | undefined): void {
    this.lastHealth = h;
    this.healthEmitter.fire(h);
  }

  dispose(): void {
    clearTimeout(this.restartTimer);
    clearTimeout(this.refreshTimer);
    void this.stop();
    this.healthEmitter.dispose();
    this.stateEmitter.dispose();
    this.stoppedEmitter.dispose();
    this.fallbackEmitter.dispose();
  }
}
