/**
 * A soak of the WebGPU model as the engine drives it: two slots, prompts and
 * single tokens, truncations, some logits for every row, and one request in
 * ten cancelled while it runs. Any failure other than a cancellation throws.
 */
import type { NativeCounters } from "../../engine/native/nativeApi";
import type { WebGpuModel } from "../../engine/webgpu/webgpuModel";

export async function soakRequests(model: WebGpuModel, story: Int32Array, requests = 1000): Promise<{ before: NativeCounters; after: NativeCounters; cancelled: number }> {
  const before = model.counters();
  let cancelled = 0;
  for (let i = 0; i < requests; i++) {
    const slot = i % 2;
    if (model.tokens(slot).length > 200) model.truncate(slot, i % 50);
    const start = i % 37;
    const n = i % 10 === 0 ? 40 : 1 + (i % 3);
    const run = model.eval(slot, story.subarray(start, start + n), i % 5 === 0);
    if (i % 10 === 0) setImmediate(() => model.cancel());
    try {
      await run;
    } catch (err) {
      if ((err as Error).name !== "AbortError") throw err;
      cancelled++;
    }
  }
  return { before, after: model.counters(), cancelled };
}
