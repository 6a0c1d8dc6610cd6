/** The completion-trace benchmark replays a trace against the real engine and reports what it saw. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect, test } from "vitest";
import { formatCompletionTraceReport, percentile, runCompletionTrace } from "../../engine/bench/completionTrace";
import { repoRoot } from "../helpers/paths";
import { buildEngine, testEnginePath } from "./helpers/engineProcess";
import { writeFimModel } from "./helpers/fimModel";

test("percentiles pick the nearest rank", () => {
  expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
  expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
  expect(percentile([7], 90)).toBe(7);
});

test("replays the first keystrokes of the Python trace, one request per keystroke", async () => {
  await buildEngine();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ghostline-trace-"));
  const report = await runCompletionTrace({
    trace: path.join(repoRoot, "bench/traces/lruCache.trace.json"),
    modelPath: await writeFimModel({}, dir),
    enginePath: testEnginePath,
    keystrokeMs: 5,
    maxKeystrokes: 40,
    settings: { maxTokens: 8 },
  }).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
  expect(report.keystrokes).toBe(40);
  expect(report.visible + report.answeredEmpty + report.cancelled + report.failed).toBe(40);
  expect(report.failed).toBe(0);
  expect(report.visible).toBeGreaterThan(0);
  expect(report.latencyMs.p90).toBeGreaterThanOrEqual(report.latencyMs.p50);
  // Typing changes only the prompt's tail: most of each prompt comes from the cache.
  expect(report.tokensReusedPerRequest).toBeGreaterThan(report.tokensEvaluatedPerRequest);
  expect(formatCompletionTraceReport(report)).toMatch(/p50 [\d.]+ ms\s+p90 [\d.]+ ms/);
});
