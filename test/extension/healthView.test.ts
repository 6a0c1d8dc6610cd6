import { describe, expect, it } from "vitest";
import type { HealthReport } from "../../engine/protocol/protocol";
import { escapeMarkdown, healthDocument, statusView, tooltipMarkdown, type HealthContext } from "../../extension/healthView";
import { SuggestionLog } from "../../extension/whyNoSuggestion";

function report(over: Partial<HealthReport> = {}): HealthReport {
  return {
    state: "ready",
    message: "ready",
    backend: "cpu",
    device: "AMD EPYC (AVX-512)",
    backendFallback: "",
    model: { path: "/m/coder.gguf", name: "coder", fileBytes: 3 << 20, fimFormat: "deepseek-coder", fim: true, chatTemplate: "none", contextSize: 2048, vocabSize: 32000 },
    memory: { modelBufferBytes: 2 << 20, rssBytes: 80 << 20, heapUsedBytes: 1 << 20 },
    slots: { total: 3, inUse: 1, tokens: [10, 0, 0] },
    speed: { prefillTokensPerSecond: 812.4, decodeTokensPerSecond: 41.6 },
    lastCompletion: null,
    requests: {
      completionsReceived: 5, completionsStarted: 4, completionsDone: 3, completionsCancelledQueued: 1, completionsCancelledRunning: 1,
      completionsSuperseded: 1, explainsStarted: 0, explainsDone: 0, explainsCancelled: 0, completionTokensReused: 100, completionTokensEvaluated: 20,
    },
    gpuObjects: 0,
    gpu: null,
    restarts: 0,
    lastError: null,
    ...over,
  };
}
const running: HealthContext = { engine: "running", processRestarts: 0, cpuFallback: false };

describe("GPU counters in the tooltip", () => {
  it("show buffers, submissions in flight, pools and device memory for a GPU backend", () => {
    const h = report({
      backend: "metal",
      gpuObjects: 12,
      gpu: { liveBuffers: 12, inFlight: 0, submits: 900, poolsPushed: 905, poolsDrained: 905, deviceUsedBytes: 600 << 20, deviceBudgetBytes: 10 << 30 },
    });
    const md = tooltipMarkdown(h, running);
    expect(md).toContain("12 buffers · 0 in flight · pools 905/905 drained · device 600");
  });
});

describe("the status bar item", () => {
  it("shows the backend and the decode speed when ready", () => {
    expect(statusView(report(), running)).toEqual({ text: "$(circuit-board) CPU · 42 tok/s", severity: "ok" });
    expect(statusView(report({ backend: "metal", speed: { prefillTokensPerSecond: 0, decodeTokensPerSecond: 0 } }), running).text).toBe("$(circuit-board) Metal · ready");
  });

  it("names the extension instead of a backend while nothing is loaded", () => {
    expect(statusView(report({ state: "loading", backend: "none", model: null }), running).text).toBe("$(sync~spin) Ghostline · loading");
  });

  it("turns to warning when degraded or after a CPU fallback, and to error on failure", () => {
    expect(statusView(report({ state: "degraded" }), running).severity).toBe("warning");
    expect(statusView(report(), { ...running, cpuFallback: true }).severity).toBe("warning");
    expect(statusView(report({ backendFallback: "no CUDA device" }), running).severity).toBe("warning");
    expect(statusView(report({ state: "error" }), running)).toEqual({ text: "$(error) CPU · error", severity: "error" });
    expect(statusView(undefined, { ...running, engine: "failed" })).toEqual({ text: "$(error) Ghostline stopped", severity: "error" });
    expect(statusView(undefined, { ...running, engine: "restarting" }).text).toMatch(/restarting/);
  });

  it("lists device, model, memory, slots, GPU objects, speeds, restarts and the last error, with command links", () => {
    const md = tooltipMarkdown(report({ restarts: 2, gpuObjects: 7, lastError: { message: "bad *file*", at: "12:00" } }), { ...running, processRestarts: 1 });
    expect(md).toContain("| Device | CPU · AMD EPYC (AVX-512) |");
    expect(md).toContain("coder (3.0 MiB, FIM: deepseek-coder, context 2048)");
    expect(md).toContain("model 2.0 MiB · process 80.0 MiB");
    expect(md).toContain("1 of 3 in use");
    expect(md).toContain("| Live GPU objects | 7 |");
    expect(md).toContain("prefill 812 tok/s · decode 42 tok/s");
    expect(md).toContain("1 engine restart, 2 model reloads");
    expect(md).toContain("bad \\*file\\* (12:00)");
    for (const c of ["restartEngine", "switchToCpu", "showLogs", "selectModel"]) expect(md).toContain(`(command:ghostline.${c})`);
  });

  it("says why the engine runs on another backend than the one asked for", () => {
    expect(tooltipMarkdown(report({ backendFallback: "no CUDA device found" }), running)).toContain("| Device | CPU · AMD EPYC (AVX-512) (no CUDA device found) |");
  });

  it("names the crash that stopped the engine when there is no report", () => {
    const md = tooltipMarkdown(undefined, { engine: "failed", processRestarts: 4, cpuFallback: false, lastCrash: "the engine exited unexpectedly" });
    expect(md).toContain("| Last error | the engine exited unexpectedly |");
  });

  it("keeps markdown in paths and messages from becoming links or tables", () => {
    expect(escapeMarkdown("[x](command:evil)|")).toBe("\\[x\\](command:evil)\\|");
  });
});

describe("the Show Engine Health document", () => {
  it("says why the last request showed nothing and lists the request counters", () => {
    const why = new SuggestionLog();
    why.record({ kind: "empty", fim: false }, "python");
    const text = healthDocument(report(), running, why.last, why.lastNothing);
    expect(text).toMatch(/Why no suggestion\?/);
    expect(text).toMatch(/python\): The model has no fill-in-the-middle support/);
    expect(text).toContain("5 received, 3 done, 1 cancelled before running, 1 cancelled while running, 1 superseded");
  });

  it("says so when no request has come back empty", () => {
    expect(healthDocument(report(), running, undefined, undefined)).toContain("No request has come back empty yet.");
  });
});
