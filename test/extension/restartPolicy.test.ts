import { describe, expect, it } from "vitest";
import { RestartPolicy, type RestartPolicyOptions } from "../../extension/restartPolicy";

const options: RestartPolicyOptions = { delaysMs: [100, 400, 1600], windowMs: 60_000, maxGpuCrashes: 3, maxCpuCrashes: 4 };

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("restarting a crashed engine", () => {
  it("restarts with a growing delay that stops growing at the last step", () => {
    const c = clock();
    const p = new RestartPolicy({ ...options, maxCpuCrashes: 10 }, c.now);
    const delays = [1, 2, 3, 4, 5].map(() => {
      const d = p.recordCrash(false);
      if (d.action !== "restart") throw new Error("expected a restart");
      return d.delayMs;
    });
    expect(delays).toEqual([100, 400, 1600, 1600, 1600]);
  });

  it("moves to the CPU after repeated crashes on a GPU backend", () => {
    const p = new RestartPolicy(options, clock().now);
    expect(p.recordCrash(true)).toMatchObject({ action: "restart", switchToCpu: false });
    expect(p.recordCrash(true)).toMatchObject({ action: "restart", switchToCpu: false });
    expect(p.recordCrash(true)).toMatchObject({ action: "restart", switchToCpu: true, delayMs: 100 });
    expect(p.cpuFallback).toBe(true);
  });

  it("gives up after repeated crashes on the CPU, saying how many", () => {
    const p = new RestartPolicy(options, clock().now);
    for (let i = 0; i < 3; i++) expect(p.recordCrash(false).action).toBe("restart");
    const d = p.recordCrash(false);
    expect(d).toMatchObject({ action: "stop", crashes: 4 });
    if (d.action === "stop") expect(d.reason).toMatch(/crashed 4 times within 60 s/);
  });

  it("counts crashes after the CPU fallback from zero, then gives up on the CPU", () => {
    const p = new RestartPolicy(options, clock().now);
    for (let i = 0; i < 3; i++) p.recordCrash(true);
    // The engine still reports a GPU backend name until the CPU one is up: the fallback decides.
    for (let i = 0; i < 3; i++) expect(p.recordCrash(true).action).toBe("restart");
    expect(p.recordCrash(true).action).toBe("stop");
  });

  it("forgets crashes older than the window", () => {
    const c = clock();
    const p = new RestartPolicy(options, c.now);
    for (let i = 0; i < 3; i++) p.recordCrash(false);
    c.advance(61_000);
    expect(p.recentCrashes).toBe(0);
    expect(p.recordCrash(false)).toMatchObject({ action: "restart", attempt: 1, delayMs: 100 });
  });

  it("forgets crashes and the CPU fallback when the user restarts", () => {
    const p = new RestartPolicy(options, clock().now);
    for (let i = 0; i < 3; i++) p.recordCrash(true);
    p.reset();
    expect(p.cpuFallback).toBe(false);
    expect(p.recordCrash(true)).toMatchObject({ action: "restart", attempt: 1, switchToCpu: false });
  });
});
