/**
 * Every GPU buffer a model owns, created through here at load so they can be
 * counted (live buffers, bytes) and destroyed together; and the request,
 * submit and dispatch counters that health reports. Requests create nothing.
 */
import type { NativeCounters } from "../native/nativeApi";

export class GpuResources {
  private readonly buffers = new Set<GPUBuffer>();
  private bytes = 0;
  private allocations = 0;
  submits = 0;
  inFlight = 0;
  launches = 0;
  requestsBegun = 0;
  requestsEnded = 0;

  constructor(private readonly device: GPUDevice) {}

  createBuffer(label: string, size: number, usage: number, mappedAtCreation = false): GPUBuffer {
    // WebGPU sizes of mapped buffers must be multiples of 4; bindings want at least 4 bytes.
    const bytes = Math.max(4, Math.ceil(size / 4) * 4);
    const limit = this.device.limits.maxBufferSize;
    if (bytes > limit) throw new Error(`WebGPU: buffer "${label}" needs ${bytes} bytes; the adapter allows ${limit}`);
    const buffer = this.device.createBuffer({ label, size: bytes, usage, mappedAtCreation });
    this.buffers.add(buffer);
    this.bytes += bytes;
    this.allocations++;
    return buffer;
  }

  limit(name: "maxStorageBufferBindingSize" | "maxBufferSize"): number {
    return this.device.limits[name];
  }

  async submit(commands: GPUCommandBuffer[], queue: GPUQueue): Promise<void> {
    queue.submit(commands);
    this.submits++;
    this.inFlight++;
    try {
      await queue.onSubmittedWorkDone();
    } finally {
      this.inFlight--;
    }
  }

  /** Submits work whose completion the caller learns another way (mapping its output); see workDone. */
  submitNoWait(commands: GPUCommandBuffer[], queue: GPUQueue): void {
    queue.submit(commands);
    this.submits++;
    this.inFlight++;
  }

  workDone(): void {
    this.inFlight--;
  }

  destroyAll(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers.clear();
    this.bytes = 0;
  }

  counters(): NativeCounters {
    return {
      liveBuffers: this.buffers.size,
      bufferBytes: this.bytes,
      allocations: this.allocations,
      submits: this.submits,
      inFlight: this.inFlight,
      requestsBegun: this.requestsBegun,
      requestsEnded: this.requestsEnded,
      launches: this.launches,
      deviceUsedBytes: this.bytes,
      deviceBudgetBytes: 0,
      poolsPushed: 0,
      poolsDrained: 0,
    };
  }
}
