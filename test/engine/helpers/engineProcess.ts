/**
 * The real engine as a child process, driven over stdio with vscode-jsonrpc
 * the way any LSP client would drive it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import * as esbuild from "esbuild";
import {
  CancellationTokenSource,
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from "vscode-jsonrpc/node";
import { HealthNotification, HealthRequest, type GhostlineInitializationOptions, type HealthReport } from "../../../engine/protocol/protocol";
import { repoRoot } from "../../helpers/paths";

// Inside the package (so the engine finds the native addon above it), in an ignored folder.
export const testEnginePath = path.join(repoRoot, "node_modules", ".cache", "ghostline-test", "engine.js");

let built: Promise<void> | undefined;

/** Bundles engine/server/main.ts once per test process. */
export function buildEngine(): Promise<void> {
  built ??= esbuild
    .build({
      entryPoints: [path.join(repoRoot, "engine/server/main.ts")],
      outfile: testEnginePath,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      sourcemap: "inline",
      logLevel: "warning",
    })
    .then(() => undefined);
  return built;
}

export interface Position {
  line: number;
  character: number;
}

export class EngineProcess {
  readonly health: HealthReport[] = [];
  stderr = "";
  private exitWaiters: ((code: number | null) => void)[] = [];
  exitCode: number | null | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly conn: MessageConnection,
  ) {
    child.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    child.on("exit", (code) => {
      this.exitCode = code;
      for (const w of this.exitWaiters) w(code);
    });
    conn.onNotification(HealthNotification.type, (r) => {
      this.health.push(r);
    });
  }

  static async start(options: GhostlineInitializationOptions, waitReady = true): Promise<EngineProcess> {
    await buildEngine();
    const child = spawn(process.execPath, [testEnginePath], { stdio: ["pipe", "pipe", "pipe"] });
    const conn = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    const engine = new EngineProcess(child, conn);
    conn.listen();
    const init = await conn.sendRequest("initialize", {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
      initializationOptions: options,
    });
    engine.capabilities = (init as { capabilities: Record<string, unknown> }).capabilities;
    await conn.sendNotification("initialized", {});
    if (waitReady) await engine.waitForState((s) => s !== "loading");
    return engine;
  }

  capabilities: Record<string, unknown> = {};

  getHealth(): Promise<HealthReport> {
    return this.conn.sendRequest(HealthRequest.type);
  }

  /** Polls health until `pred` holds for its state. */
  async waitForState(pred: (state: string) => boolean, timeoutMs = 20_000): Promise<HealthReport> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const h = await this.getHealth();
      if (pred(h.state)) return h;
      if (Date.now() > until) throw new Error(`engine health stayed ${h.state}: ${h.message}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  open(uri: string, text: string, languageId = "python", version = 1): Promise<void> {
    return this.conn.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId, version, text } });
  }

  /** Inserts `text` at `at` (an incremental change). */
  insert(uri: string, version: number, at: Position, text: string): Promise<void> {
    return this.conn.sendNotification("textDocument/didChange", {
      textDocument: { uri, version },
      contentChanges: [{ range: { start: at, end: at }, text }],
    });
  }

  complete(uri: string, position: Position, token?: CancellationTokenSource): Promise<{ items: { insertText: string }[] }> {
    const params = { textDocument: { uri }, position, context: { triggerKind: 2 } };
    return token
      ? this.conn.sendRequest("textDocument/inlineCompletion", params, token.token)
      : this.conn.sendRequest("textDocument/inlineCompletion", params);
  }

  /** shutdown + exit, then the exit code. */
  async stop(): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    const exited = new Promise<number | null>((r) => this.exitWaiters.push(r));
    try {
      await this.conn.sendRequest("shutdown");
      await this.conn.sendNotification("exit");
    } catch {
      this.child.kill();
    }
    const code = await exited;
    this.conn.dispose();
    return code;
  }

  /** Closes stdin without shutdown, then the exit code. */
  async closeStdin(): Promise<number | null> {
    const exited = new Promise<number | null>((r) => this.exitWaiters.push(r));
    this.child.stdin!.end();
    const code = await exited;
    this.conn.dispose();
    return code;
  }
}

export { CancellationTokenSource };
