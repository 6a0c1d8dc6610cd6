/** Where a WebGPU decode step's time goes on a device: queue round trips, map latency, and the step itself. */
import { GpuDevice } from "../../engine/webgpu/gpuDevice";
import { writeSyntheticPreset } from "../../engine/bench/syntheticPresets";
import { WebGpuModel } from "../../engine/webgpu/webgpuModel";

async function time(label: string, n: number, f: () => Promise<unknown>): Promise<void> {
  await f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  console.log(`${label}: ${((performance.now() - t0) / n).toFixed(3)} ms`);
}

async function main(): Promise<void> {
  const gpu = await GpuDevice.open({ allowSoftware: true });
  const d = gpu.device;
  const buf = d.createBuffer({ size: 256, usage: gpu.usage.MAP_READ | gpu.usage.COPY_DST });
  await time("empty submit + onSubmittedWorkDone", 50, async () => {
    d.queue.submit([d.createCommandEncoder().finish()]);
    await d.queue.onSubmittedWorkDone();
  });
  await time("mapAsync + unmap of 256 bytes", 50, async () => {
    await buf.mapAsync(gpu.mapMode.READ);
    buf.unmap();
  });
  gpu.close();
  let path = process.argv[2];
  if (path === "tinyllama") {
    path = "/tmp/tinyllama-q8_0.gguf";
    await writeSyntheticPreset("tinyllama", path);
  }
  if (path) {
    const m = await WebGpuModel.load(path, { allowSoftware: true, nCtx: 1024, nBatch: 512 });
    await m.eval(0, Int32Array.from({ length: 16 }, (_, i) => i + 5), false);
    const sum = { record: 0, wait: 0, readback: 0 };
    await time("decode step (eval of one token)", 50, async () => {
      await m.eval(0, Int32Array.of(7), false);
      sum.record += m.lastChunk.record;
      sum.readback += m.lastChunk.readback;
    });
    console.log(`  of which: recording ${(sum.record / 51).toFixed(3)} ms, waiting for the logits ${(sum.readback / 51).toFixed(3)} ms`);
    for (const rows of [1, 64]) {
      const prof = await m.profile(rows);
      const total = prof.reduce((a, k) => a + k.us * k.perToken, 0);
      console.log(`  kernels for ${rows} row(s): ${(total / 1000).toFixed(3)} ms a pass`);
      for (const k of prof) console.log(`    ${k.label.padEnd(22)} ${k.us.toFixed(1).padStart(9)} us x ${k.perToken}`);
    }
    const prompt = Int32Array.from({ length: 512 }, (_, i) => (i * 13) % 1000);
    await time("prefill of 512 tokens", 3, async () => {
      m.truncate(0, 0);
      await m.eval(0, prompt, false);
    });
    m.free();
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
