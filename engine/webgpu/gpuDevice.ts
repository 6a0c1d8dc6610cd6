/**
 * One WebGPU adapter and device for a model: the highest limits the adapter
 * offers (weights are large), the packed int8 dot product where WGSL has it,
 * and every device error or loss recorded so the next request can report it.
 */
import type { DotPath } from "./kernels/wgslCommon";
import { loadDawn } from "./dawnLoader";

export interface GpuAdapterFacts {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software implementation (llvmpipe, SwiftShader): correct, but slower than the CPU backend. */
  software: boolean;
}

export interface GpuDeviceOptions {
  /** Accept a software adapter; "auto" backend selection does not. */
  allowSoftware: boolean;
  /** "auto": packed dot products where the adapter's WGSL has them. */
  dot?: DotPath | "auto";
}

export class GpuDevice {
  /** The first device error or the loss, once one happened; the device is then unusable. */
  failure = "";
  private closing = false;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: GpuAdapterFacts,
    readonly dot: DotPath,
    readonly usage: GPUBufferUsage,
    readonly mapMode: GPUMapMode,
  ) {
    device.addEventListener("uncapturederror", (ev) => {
      const msg = (ev as GPUUncapturedErrorEvent).error?.message ?? "unknown error";
      if (!this.failure) this.failure = `WebGPU error: ${msg}`;
    });
    void device.lost.then((info) => {
      if (!this.failure && !this.closing) this.failure = `WebGPU device lost: ${info.message || info.reason}`;
    });
  }

  static async open(options: GpuDeviceOptions): Promise<GpuDevice> {
    const dawn = loadDawn();
    const adapter = await dawn.gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) throw new Error("WebGPU: no adapter (is a Vulkan, Metal or D3D12 driver installed?)");
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    const facts: GpuAdapterFacts = {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      software: info.isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.device} ${info.description} ${info.architecture}`),
    };
    if (facts.software && !options.allowSoftware) {
      throw new Error(`WebGPU: the only adapter is a software renderer (${facts.description || facts.device}), slower than the CPU backend`);
    }
    const packed = dawn.gpu.wgslLanguageFeatures.has("packed_4x8_integer_dot_product");
    const want = options.dot ?? "auto";
    if (want === "packed" && !packed) throw new Error("WebGPU: this adapter's WGSL lacks packed_4x8_integer_dot_product");
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
        maxStorageBuffersPerShaderStage: Math.min(adapter.limits.maxStorageBuffersPerShaderStage, 10),
      },
    });
    return new GpuDevice(device, facts, want === "auto" ? (packed ? "packed" : "float") : want, dawn.globals.GPUBufferUsage, dawn.globals.GPUMapMode);
  }

  /** Destroys the device on purpose: its loss is then not a failure. */
  close(): void {
    this.closing = true;
    this.device.destroy();
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  describe(): string {
    const a = this.adapter;
    const name = a.description || a.device || "WebGPU adapter";
    return `${name} (${[a.vendor, a.architecture].filter(Boolean).join(", ") || "unknown vendor"}; WebGPU through Dawn)`;
  }
}
