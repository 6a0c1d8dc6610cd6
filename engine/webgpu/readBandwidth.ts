/**
 * The GPU's memory read bandwidth as WebGPU sees it, for the bench's decode
 * ceiling: a kernel that streams a buffer larger than any cache once per
 * pass, summing it so the reads cannot be skipped.
 */
import { GpuDevice } from "./gpuDevice";

const READ_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> data: array<vec4u>;
@group(0) @binding(1) var<storage, read_write> sink: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) ng: vec3u) {
  let stride = ng.x * 256u;
  var acc = vec4u(0u);
  for (var i = gid.x; i < arrayLength(&data); i += stride) { acc ^= data[i]; }
  if (all(acc == vec4u(0xdeadbeefu))) { sink[0] = acc.x; }
}`;

/** Bytes per second; `bytes` is capped at what the adapter can bind in one buffer. */
export async function measureGpuReadBandwidth(bytes = 1 << 30, passes = 10, allowSoftware = false): Promise<{ bytesPerSecond: number; device: string }> {
  const gpu = await GpuDevice.open({ allowSoftware });
  try {
    const { device } = gpu;
    const size = Math.min(bytes, gpu.limits.maxStorageBufferBindingSize) & ~255;
    const data = device.createBuffer({ size, usage: gpu.usage.STORAGE });
    const sink = device.createBuffer({ size: 256, usage: gpu.usage.STORAGE });
    const module = device.createShaderModule({ code: READ_WGSL });
    const pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" } });
    const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: data } }, { binding: 1, resource: { buffer: sink } }] });
    const run = async (n: number) => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      for (let i = 0; i < n; i++) pass.dispatchWorkgroups(Math.min(65535, Math.ceil(size / 16 / 256 / 8)));
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    };
    await run(1);
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      await run(passes);
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    data.destroy();
    sink.destroy();
    return { bytesPerSecond: (size * passes) / best, device: gpu.describe() };
  } finally {
    gpu.close();
  }
}
