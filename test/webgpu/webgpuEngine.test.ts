/**
 * The engine process with `backend: "webgpu"`: completions run on the GPU
 * path, and health names the backend, the adapter and its counters, which
 * stay flat over requests.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { EngineProcess } from "../engine/helpers/engineProcess";
import { writeFimModel } from "../engine/helpers/fimModel";
import { skipWebgpu } from "./webgpuAvailable";

const skip = await skipWebgpu();

describe.skipIf(skip)("the engine on WebGPU", () => {
  let dir: string;
  let engine: EngineProcess;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ghostline-engine-webgpu-"));
    const model = await writeFimModel({}, dir);
    engine = await EngineProcess.start({ modelPath: model, maxTokens: 8, backend: "webgpu" });
  });
  afterAll(async () => {
    expect(await engine.stop()).toBe(0);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("reports WebGPU, the adapter and its buffers in health", async () => {
    const h = await engine.getHealth();
    expect(h.state).toBe("ready");
    expect(h.backend).toBe("webgpu");
    expect(h.backendFallback).toBe("");
    expect(h.device).toMatch(/WebGPU through Dawn/);
    expect(h.gpu).not.toBeNull();
    expect(h.gpu!.liveBuffers).toBeGreaterThan(0);
  });

  test("completes, and its GPU counters stay flat over requests", async () => {
    await engine.open("file:///a.py", "def add(a, b):\n    return \n");
    const before = (await engine.getHealth()).gpu!;
    for (let i = 0; i < 5; i++) {
      const list = await engine.complete("file:///a.py", { line: 1, character: 11 });
      expect(Array.isArray(list.items)).toBe(true);
    }
    const h = await engine.getHealth();
    expect(h.lastCompletion).toMatchObject({ outcome: "done" });
    expect(h.gpu!.liveBuffers).toBe(before.liveBuffers);
    expect(h.gpu!.deviceUsedBytes).toBe(before.deviceUsedBytes);
    expect(h.gpu!.inFlight).toBe(0);
    expect(h.gpu!.submits).toBeGreaterThan(before.submits);
  });
});
