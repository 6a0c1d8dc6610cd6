import { describe, expect, it } from "vitest";
import { gateRequest, type GateInput } from "../../extension/requestGate";
import { explainOutcome, SuggestionLog } from "../../extension/whyNoSuggestion";

const open: GateInput = { enabled: true, enabledLanguages: { "*": true }, languageId: "typescript", length: 2000, maxFileSizeKB: 1024, engineProblem: undefined };

describe("whether a completion request is sent", () => {
  it("sends one when everything is on", () => {
    expect(gateRequest(open)).toBeUndefined();
  });

  it("sends none while completions are off, naming the reason", () => {
    expect(gateRequest({ ...open, enabled: false })).toEqual({ kind: "off" });
  });

  it("sends none in a disabled language", () => {
    expect(gateRequest({ ...open, enabledLanguages: { "*": true, typescript: false } })).toEqual({ kind: "languageOff", languageId: "typescript" });
  });

  it("sends none in a very large file", () => {
    expect(gateRequest({ ...open, length: 2 * 1024 * 1024 })).toEqual({ kind: "fileTooLarge", sizeKB: 2048, limitKB: 1024 });
    expect(gateRequest({ ...open, length: 1024 * 1024 })).toBeUndefined();
  });

  it("sends none while the engine is not ready", () => {
    expect(gateRequest({ ...open, engineProblem: "the model is still loading" })).toEqual({ kind: "engineNotRunning", detail: "the model is still loading" });
  });
});

describe("why no suggestion", () => {
  it("remembers the last request that showed nothing even after one that did", () => {
    const log = new SuggestionLog();
    log.record({ kind: "debounced" }, "python");
    log.record({ kind: "shown", count: 1, fromCache: false }, "python");
    expect(log.last?.outcome.kind).toBe("shown");
    expect(log.lastNothing?.outcome.kind).toBe("debounced");
    expect(log.counts.debounced).toBe(1);
    expect(log.counts.shown).toBe(1);
  });

  it("says each reason in words", () => {
    expect(explainOutcome({ kind: "debounced" })).toMatch(/kept typing/);
    expect(explainOutcome({ kind: "cancelled", by: "editor" })).toMatch(/cancelled because the editor moved on/);
    expect(explainOutcome({ kind: "cancelled", by: "engine" })).toMatch(/newer one for the same document/);
    expect(explainOutcome({ kind: "empty", fim: false })).toMatch(/no fill-in-the-middle support/);
    expect(explainOutcome({ kind: "empty", fim: true })).toMatch(/empty completion/);
    expect(explainOutcome({ kind: "error", message: "model unavailable" })).toBe("The request failed: model unavailable");
    expect(explainOutcome({ kind: "fileTooLarge", sizeKB: 2048, limitKB: 1024 })).toMatch(/2048 KB, above ghostline\.maxFileSizeKB \(1024 KB\)/);
    expect(explainOutcome({ kind: "shown", count: 2, fromCache: true })).toMatch(/2 suggestions were shown from the cache/);
  });
});
