/**
 * The engine as a child process over stdio: completions, cancellation,
 * superseding, KV-cache reuse, Explain, health and bad input.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ExplainRequest, GhostlineErrorCodes, type ExplainResult } from "../../engine/protocol/protocol";
import { CancellationTokenSource, EngineProcess } from "./helpers/engineProcess";
import { storiesModelPath, writeFimModel } from "./helpers/fimModel";

const FIXTURE = [
  "def fib(n):",
  "    if n < 2:",
  "        return n",
  "    ",
  "",
  "print(fib(10))",
  "",
].join("\n");

interface RpcError {
  code: number;
  message: string;
}

async function rejection(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    return err as RpcError;
  }
  throw new Error("expected the request to fail");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let fimModel: string;
let slowModel: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ghostline-engine-"));
  fimModel = await writeFimModel({}, dir);
  // Wide and deep enough that each decode step takes milliseconds: long generations to cancel.
  slowModel = await writeFimModel({ dim: 512, nLayers: 8, name: "slow" }, dir);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("completions with a FIM model", () => {
  let engine: EngineProcess;
  beforeAll(async () => {
    engine = await EngineProcess.start({ modelPath: fimModel, maxTokens: 24 });
  });
  afterAll(async () => {
    expect(await engine.stop()).toBe(0);
  });

  test("advertises inline completions and incremental document sync", () => {
    expect(engine.capabilities.inlineCompletionProvider).toBe(true);
    expect(engine.capabilities.textDocumentSync).toMatchObject({ openClose: true, change: 2 });
  });

  test("reports the model, its FIM format and its state in health", async () => {
    const h = await engine.getHealth();
    expect(h.state).toBe("ready");
    expect(h.model).toMatchObject({ fim: true, fimFormat: "deepseek-coder", vocabSize: 32256, chatTemplate: "none" });
    expect(h.backend).toBe("cpu");
    expect(h.slots.total).toBe(2);
    expect(h.memory.modelBufferBytes).toBeGreaterThan(0);
    expect(h.gpuObjects).toBe(0);
    expect(h.lastError).toBeNull();
    // The notification announced the same state when loading finished.
    expect(engine.health.some((r) => r.state === "ready" && r.model?.path === fimModel)).toBe(true);
  });

  test("completes a fixture document at the end of a line", async () => {
    await engine.open("file:///fixture.py", FIXTURE);
    const list = await engine.complete("file:///fixture.py", { line: 3, character: 4 });
    expect(Array.isArray(list.items)).toBe(true);
    const h = await engine.getHealth();
    expect(h.lastCompletion).toMatchObject({ outcome: "done" });
    expect(h.lastCompletion!.promptTokens).toBeGreaterThan(20);
    expect(h.lastCompletion!.generatedTokens).toBeGreaterThan(0);
    expect(h.lastCompletion!.generatedTokens).toBeLessThanOrEqual(24);
    expect(h.speed.decodeTokensPerSecond).toBeGreaterThan(0);
    for (const item of list.items) expect(item.insertText.length).toBeGreaterThan(0);
  });

  test("keeps to one line when text is right of the cursor", async () => {
    await engine.open("file:///inline.py", "x = max(, 3)\n");
    const list = await engine.complete("file:///inline.py", { line: 0, character: 8 });
    for (const item of list.items) expect(item.insertText).not.toContain("\n");
    const h = await engine.getHealth();
    expect(["lineEnd", "maxTokens", "eog"]).toContain(h.lastCompletion!.stopReason);
  });

  test("the second request on the same document evaluates only the changed tail", async () => {
    const uri = "file:///reuse.py";
    await engine.open(uri, FIXTURE);
    await engine.complete(uri, { line: 3, character: 4 });
    const first = (await engine.getHealth()).lastCompletion!;
    await engine.insert(uri, 2, { line: 3, character: 4 }, "re");
    await engine.complete(uri, { line: 3, character: 6 });
    const second = (await engine.getHealth()).lastCompletion!;
    expect(second.reusedTokens + second.evaluatedTokens).toBe(second.promptTokens);
    // Everything before the current line is reused; "re" is a token or two.
    expect(second.evaluatedTokens).toBeLessThanOrEqual(2);
    expect(second.reusedTokens).toBeGreaterThanOrEqual(first.promptTokens - 1);
  });

  test("answers bad params, unknown documents and positions out of range with LSP errors", async () => {
    await engine.open("file:///bad.py", "a = 1\nb = 2\n");
    const cases: [unknown, number, RegExp][] = [
      [{ position: { line: 0, character: 0 } }, GhostlineErrorCodes.InvalidParams, /textDocument\.uri/],
      [{ textDocument: { uri: "file:///bad.py" }, position: { line: "0", character: 0 } }, GhostlineErrorCodes.InvalidParams, /position/],
      [{ textDocument: { uri: "file:///bad.py" } }, GhostlineErrorCodes.InvalidParams, /position/],
      [{ textDocument: { uri: "file:///nope.py" }, position: { line: 0, character: 0 } }, GhostlineErrorCodes.UnknownDocument, /nope\.py is not open/],
      [{ textDocument: { uri: "file:///bad.py" }, position: { line: 9, character: 0 } }, GhostlineErrorCodes.PositionOutOfRange, /line 9 is past the last line 2/],
      [{ textDocument: { uri: "file:///bad.py" }, position: { line: 1, character: 6 } }, GhostlineErrorCodes.PositionOutOfRange, /character 6 is past the end of line 1 \(length 5\)/],
    ];
    for (const [params, code, message] of cases) {
      const err = await rejection(engine.conn.sendRequest("textDocument/inlineCompletion", params));
      expect(err.code, JSON.stringify(params)).toBe(code);
      expect(err.message).toMatch(message);
    }
    const explainErr = await rejection(
      engine.conn.sendRequest(ExplainRequest.type, {
        textDocument: { uri: "file:///bad.py" },
        range: { start: { line: 1, character: 0 }, end: { line: 0, character: 0 } },
      }),
    );
    expect(explainErr.code).toBe(GhostlineErrorCodes.InvalidParams);
    expect(explainErr.message).toMatch(/range\.start is after range\.end/);
    // Still up and serving.
    await engine.complete("file:///bad.py", { line: 1, character: 5 });
    expect((await engine.getHealth()).state).toBe("ready");
  });

  test("explain streams partial results through $/progress and returns the whole text", async () => {
    const uri = "file:///explain.py";
    await engine.open(uri, FIXTURE);
    const before = (await engine.getHealth()).slots.tokens[0];
    const deltas: string[] = [];
    const token = "explain-1";
    const sub = engine.conn.onProgress(ExplainRequest.partialResult, token, (v) => {
      deltas.push(v.delta);
    });
    engine.conn.sendNotification("workspace/didChangeConfiguration", { settings: { ghostline: { explain: { maxTokens: 20, seed: 1 } } } });
    const result: ExplainResult = await engine.conn.sendRequest(ExplainRequest.type, {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 3, character: 0 } },
      partialResultToken: token,
    });
    sub.dispose();
    expect(result.promptStyle).toBe("plain");
    expect(result.tokens).toBeGreaterThan(0);
    expect(result.tokens).toBeLessThanOrEqual(20);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe(result.text);
    // Explain has its own slot: the completion slot still holds its prefix cache.
    const h = await engine.getHealth();
    expect(h.slots.tokens[0]).toBe(before);
    expect(h.slots.tokens[1]).toBeGreaterThan(0);
  });

  test("explains text sent with the request for a document the engine has not opened", async () => {
    const result: ExplainResult = await engine.conn.sendRequest(ExplainRequest.type, {
      textDocument: { uri: "output:///panel-1" },
      range: { start: { line: 0, character: 0 }, end: { line: 0, character: 12 } },
      text: "print(1 + 2)",
      languageId: "python",
    });
    expect(result.tokens).toBeGreaterThan(0);
  });
});

describe("cancellation and scheduling", () => {
  let engine: EngineProcess;
  const longDoc = Array.from({ length: 40 }, (_, i) => `def f${i}(x):\n    return x * ${i}\n`).join("") + "\n";
  const lastLine = longDoc.split("\n").length - 1;

  beforeAll(async () => {
    engine = await EngineProcess.start({ modelPath: slowModel, maxTokens: 4096, timeBudgetMs: 600_000, contextSize: 4096, extraContextTokens: 0 });
    await engine.open("file:///long.py", longDoc);
    await engine.open("file:///other.py", longDoc);
    await engine.open("file:///short.py", "def f(x):\n    return x\n\n");
  });
  afterAll(async () => {
    expect(await engine.stop()).toBe(0);
  });

  /** Starts a completion, cancels it after `waitMs`, and returns what health says of it. */
  async function cancelAfter(uri: string, line: number, waitMs: number) {
    const source = new CancellationTokenSource();
    const started = Date.now();
    const pending = rejection(engine.complete(uri, { line, character: 0 }, source));
    await sleep(waitMs);
    const cancelAt = Date.now();
    source.cancel();
    const err = await pending;
    const stoppedAfter = Date.now() - cancelAt;
    expect(err.code).toBe(GhostlineErrorCodes.RequestCancelled);
    expect(err.message).toMatch(/cancelled while running/);
    const h = await engine.getHealth();
    expect(h.lastCompletion).toMatchObject({ outcome: "cancelled" });
    return { counts: h.lastCompletion!, health: h, stoppedAfter, ranFor: cancelAt - started };
  }

  test("stops a long prompt evaluation within one prefill chunk", async () => {
    // Cancel part-way through the prompt: a busy machine may need a later moment.
    let r = await cancelAfter("file:///long.py", lastLine, 100);
    for (const waitMs of [300, 1000]) {
      if (r.counts.evaluatedTokens > 0 && r.counts.evaluatedTokens < r.counts.promptTokens) break;
      await engine.conn.sendNotification("textDocument/didClose", { textDocument: { uri: "file:///long.py" } });
      await engine.open("file:///long.py", longDoc + `# ${waitMs}\n`);
      r = await cancelAfter("file:///long.py", lastLine, waitMs);
    }
    const { counts, stoppedAfter, ranFor } = r;
    expect(counts.evaluatedTokens).toBeGreaterThan(0);
    expect(counts.evaluatedTokens).toBeLessThan(counts.promptTokens);
    expect(counts.generatedTokens).toBe(0);
    expect(counts.stepsAfterCancel).toBeLessThanOrEqual(1);
    expect(stoppedAfter).toBeLessThan(Math.max(150, ranFor / 2));
  });

  test("stops a long generation within one decode step and frees the model", async () => {
    // Cancel once decoding has begun: a busy machine may need longer for the prompt.
    let r = await cancelAfter("file:///short.py", 2, 300);
    for (const waitMs of [1000, 3000]) {
      if (r.counts.generatedTokens > 2) break;
      r = await cancelAfter("file:///short.py", 2, waitMs);
    }
    const { counts, health, stoppedAfter, ranFor } = r;
    expect(counts.generatedTokens).toBeGreaterThan(2);
    expect(counts.generatedTokens).toBeLessThan(1024);
    expect(counts.stepsAfterCancel).toBeLessThanOrEqual(1);
    // One step is milliseconds; the whole generation would take seconds.
    expect(stoppedAfter).toBeLessThan(Math.max(150, ranFor / 2));
    expect(health.requests.completionsCancelledRunning).toBeGreaterThanOrEqual(2);
    // The model is free for the next request.
    await engine.conn.sendNotification("workspace/didChangeConfiguration", { settings: { maxTokens: 2 } });
    await engine.complete("file:///short.py", { line: 2, character: 0 });
    expect((await engine.getHealth()).lastCompletion).toMatchObject({ outcome: "done" });
    await engine.conn.sendNotification("workspace/didChangeConfiguration", { settings: { maxTokens: 4096 } });
  });

  test("answers a cancelled request that has not started without running it", async () => {
    const busy = new CancellationTokenSource();
    const running = rejection(engine.complete("file:///long.py", { line: lastLine, character: 0 }, busy));
    await sleep(100);
    const before = await engine.getHealth();
    const queued = new CancellationTokenSource();
    const waiting = rejection(engine.complete("file:///other.py", { line: lastLine, character: 0 }, queued));
    await sleep(50);
    queued.cancel();
    const err = await waiting;
    expect(err.code).toBe(GhostlineErrorCodes.RequestCancelled);
    expect(err.message).toMatch(/cancelled before it started/);
    const after = await engine.getHealth();
    expect(after.requests.completionsCancelledQueued).toBe(before.requests.completionsCancelledQueued + 1);
    expect(after.requests.completionsStarted).toBe(before.requests.completionsStarted);
    busy.cancel();
    expect((await running).code).toBe(GhostlineErrorCodes.RequestCancelled);
  });

  test("a newer completion for the same document supersedes the older one", async () => {
    const before = await engine.getHealth();
    const older = rejection(engine.complete("file:///long.py", { line: lastLine, character: 0 }));
    await sleep(100);
    await engine.conn.sendNotification("workspace/didChangeConfiguration", { settings: { maxTokens: 4 } });
    const newer = engine.complete("file:///long.py", { line: lastLine - 1, character: 0 });
    const err = await older;
    expect(err.code).toBe(GhostlineErrorCodes.ServerCancelled);
    expect(err.message).toMatch(/superseded by a newer request for file:\/\/\/long\.py/);
    await newer;
    const after = await engine.getHealth();
    expect(after.requests.completionsSuperseded).toBe(before.requests.completionsSuperseded + 1);
    expect(after.lastCompletion).toMatchObject({ outcome: "done" });
    await engine.conn.sendNotification("workspace/didChangeConfiguration", { settings: { maxTokens: 4096 } });
  });

  test("explain yields to completions and can be cancelled", async () => {
    engine.conn.sendNotification("workspace/didChangeConfiguration", { settings: { explain: { maxTokens: 2000, temperature: 0.8, seed: 3 } } });
    const deltas: string[] = [];
    const sub = engine.conn.onProgress(ExplainRequest.partialResult, "x", (v) => {
      deltas.push(v.delta);
    });
    const source = new CancellationTokenSource();
    const explain = rejection(
      engine.conn.sendRequest(
        ExplainRequest.type,
        { textDocument: { uri: "file:///other.py" }, range: { start: { line: 0, character: 0 }, end: { line: 6, character: 0 } }, partialResultToken: "x" },
        source.token,
      ),
    );
    while (deltas.length < 3) await sleep(20);
    await engine.conn.sendNotification("workspace/didChangeConfiguration", { settings: { maxTokens: 4 } });
    // The completion goes ahead of the running explanation.
    await engine.complete("file:///long.py", { line: lastLine, character: 0 });
    expect((await engine.getHealth()).requests.explainsDone).toBe(0);
    source.cancel();
    const err = await explain;
    sub.dispose();
    expect(err.code).toBe(GhostlineErrorCodes.RequestCancelled);
    const h = await engine.getHealth();
    expect(h.requests.explainsCancelled).toBe(1);
    expect(h.state).toBe("ready");
  });
});

describe("models that are missing, broken or without FIM", () => {
  test("a missing model file is a health error; a corrected setting recovers", async () => {
    const missing = path.join(dir, "missing.gguf");
    const engine = await EngineProcess.start({ modelPath: missing });
    try {
      const h = await engine.getHealth();
      expect(h.state).toBe("error");
      expect(h.lastError!.message).toContain(`model file not found: ${missing}`);
      await engine.open("file:///a.py", "x = 1\n");
      const err = await rejection(engine.complete("file:///a.py", { line: 0, character: 5 }));
      expect(err.code).toBe(GhostlineErrorCodes.ModelUnavailable);
      expect(err.message).toContain("model file not found");
      await engine.conn.sendNotification("workspace/didChangeConfiguration", { settings: { ghostline: { modelPath: fimModel, maxTokens: 4 } } });
      await engine.waitForState((s) => s === "ready");
      await engine.complete("file:///a.py", { line: 0, character: 5 });
      expect((await engine.getHealth()).lastCompletion).toMatchObject({ outcome: "done" });
    } finally {
      await engine.stop();
    }
  });

  test("a broken model file is a health error naming the file", async () => {
    const broken = path.join(dir, "broken.gguf");
    fs.writeFileSync(broken, Buffer.from("GGUF\x03\x00\x00\x00garbage"));
    const engine = await EngineProcess.start({ modelPath: broken });
    try {
      const h = await engine.getHealth();
      expect(h.state).toBe("error");
      expect(h.lastError!.message).toContain(broken);
      expect(h.model).toBeNull();
    } finally {
      await engine.stop();
    }
  });

  test("a model without FIM tokens completes prefix-only and health says so", async () => {
    const engine = await EngineProcess.start({ modelPath: storiesModelPath, maxTokens: 8, extraContextTokens: 0 });
    try {
      const h = await engine.getHealth();
      expect(h.state).toBe("ready");
      expect(h.model).toMatchObject({ fim: false, fimFormat: "none" });
      expect(h.message).toContain("prefix-only");
      await engine.open("file:///story.txt", "Once upon a time\nthere was", "plaintext");
      await engine.complete("file:///story.txt", { line: 1, character: 9 });
      expect((await engine.getHealth()).lastCompletion).toMatchObject({ outcome: "done" });
    } finally {
      await engine.stop();
    }
  });

  test("a bad setting value is reported and ignored; the engine stays up", async () => {
    const engine = await EngineProcess.start({ modelPath: fimModel, maxTokens: -3 as number });
    try {
      const h = await engine.getHealth();
      expect(h.state).toBe("ready");
      expect(h.lastError!.message).toMatch(/ghostline\.maxTokens: expected an integer between 1 and 4096 but received -3/);
    } finally {
      expect(await engine.stop()).toBe(0);
    }
  });

  test("exits when stdin closes", async () => {
    const engine = await EngineProcess.start({ modelPath: fimModel });
    expect(await engine.closeStdin()).toBe(1);
  });
});
