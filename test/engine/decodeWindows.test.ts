import { afterEach, describe, expect, it, vi } from "vitest";
import { decodeInWindows, fractionOfCeiling, summarizeDecodes } from "../../engine/bench/decodeWindows";

/** A clock the test moves: a decode step takes 10 ms, a bandwidth measurement 50 ms. */
function fakeClock() {
  let now = 0;
  vi.spyOn(performance, "now").mockImplementation(() => now);
  return { advance: (ms: number) => (now += ms) };
}

afterEach(() => vi.restoreAllMocks());

describe("decode timed in windows between bandwidth measurements", () => {
  it("splits the tokens into windows, measures before each and after the last, and leaves the measurements out of the time", async () => {
    const clock = fakeClock();
    const readings = [40e9, 30e9, 50e9, 45e9];
    let probes = 0;
    let steps = 0;
    const result = await decodeInWindows(
      async () => {
        steps++;
        clock.advance(10);
      },
      20,
      8,
      async () => {
        clock.advance(50);
        return readings[probes++];
      },
    );
    expect(steps).toBe(20);
    expect(probes).toBe(4);
    expect(result.windows.map((w) => w.tokens)).toEqual([8, 8, 4]);
    expect(result.windows.map((w) => w.ms)).toEqual([80, 80, 40]);
    expect(result.ms).toBe(200);
    expect(result.bandwidths).toEqual(readings);
    expect(result.windows[1]).toMatchObject({ bandwidthBefore: 30e9, bandwidthAfter: 50e9 });
  });

  it("times all tokens in one stretch and measures nothing without a probe", async () => {
    const clock = fakeClock();
    const result = await decodeInWindows(async () => void clock.advance(5), 12, 8);
    expect(result).toEqual({ tokens: 12, ms: 60, windows: [], bandwidths: [] });
  });

  it("compares each window with the higher measurement beside it and takes the median", () => {
    const bytesPerToken = 1e9;
    const windows = [
      // 10 tokens/s = 10 GB/s against max(20, 10) = 20 GB/s: 0.5
      { tokens: 10, ms: 1000, bandwidthBefore: 20e9, bandwidthAfter: 10e9 },
      // 9 GB/s against 10: 0.9
      { tokens: 9, ms: 1000, bandwidthBefore: 10e9, bandwidthAfter: 10e9 },
      // 30 GB/s against 40: 0.75
      { tokens: 30, ms: 1000, bandwidthBefore: 10e9, bandwidthAfter: 40e9 },
    ];
    expect(fractionOfCeiling(windows, bytesPerToken)).toBeCloseTo(0.75, 10);
    expect(fractionOfCeiling(windows.slice(0, 2), bytesPerToken)).toBeCloseTo(0.7, 10);
    expect(fractionOfCeiling([], bytesPerToken)).toBeNaN();
  });

  it("sums up repeats: the fastest run, and every window and measurement of all of them", () => {
    const w = (ms: number) => ({ tokens: 10, ms, bandwidthBefore: 20e9, bandwidthAfter: 20e9 });
    const runs = [
      { tokens: 20, ms: 2000, windows: [w(1000), w(1000)], bandwidths: [20e9, 20e9, 20e9] },
      { tokens: 20, ms: 1000, windows: [w(500), w(500)], bandwidths: [20e9, 20e9, 20e9] },
    ];
    const s = summarizeDecodes(runs, 1e9);
    expect(s.bestMs).toBe(1000);
    expect(s.windowed).toMatchObject({ decodeWindows: 4, decodeFractionOfCeiling: 0.75 });
    expect((s.windowed as { bandwidths: number[] }).bandwidths).toHaveLength(6);
    expect(summarizeDecodes([{ tokens: 20, ms: 500, windows: [], bandwidths: [] }], 1e9)).toEqual({ bestMs: 500, windowed: {} });
  });
});
