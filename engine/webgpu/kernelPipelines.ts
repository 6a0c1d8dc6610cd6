/** Compiles every WGSL kernel once per device; a shader that fails to compile names itself and the line. */
import { ARGMAX_ROW_WGSL } from "./kernels/argmaxRow";
import { ATTENTION_COMBINE_WGSL, ATTENTION_WGSL } from "./kernels/attention";
import { embedRowsWgsl } from "./kernels/embedRows";
import { FLOAT_MATMUL_WGSL } from "./kernels/floatMatmul";
import { q8_0MatmulWgsl } from "./kernels/q8_0Matmul";
import { q8_0MatvecWgsl } from "./kernels/q8_0Matvec";
import { NORM_QUANTIZE_WGSL } from "./kernels/normQuantize";
import { QUANTIZE_ROWS_WGSL } from "./kernels/quantizeRows";
import { ROPE_STORE_KV_WGSL } from "./kernels/ropeStoreKv";
import { SWIGLU_WGSL } from "./kernels/swiglu";
import type { DotPath } from "./kernels/wgslCommon";

export interface KernelPipelines {
  embedQ8: GPUComputePipeline;
  embedFloat: GPUComputePipeline;
  normQuantize: GPUComputePipeline;
  quantize: GPUComputePipeline;
  matvecQ8: GPUComputePipeline;
  matmulQ8: GPUComputePipeline;
  matmulFloat: GPUComputePipeline;
  ropeStoreKv: GPUComputePipeline;
  attention: GPUComputePipeline;
  attentionCombine: GPUComputePipeline;
  swiglu: GPUComputePipeline;
  argmaxRow: GPUComputePipeline;
}

async function compile(device: GPUDevice, name: string, code: string): Promise<GPUComputePipeline> {
  const module = device.createShaderModule({ label: name, code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === "error");
  if (errors.length) {
    throw new Error(`WebGPU: kernel "${name}" does not compile: ${errors.map((e) => `line ${e.lineNum}: ${e.message}`).join("; ")}`);
  }
  return device.createComputePipelineAsync({ label: name, layout: "auto", compute: { module, entryPoint: "main" } });
}

export async function compileKernels(device: GPUDevice, dot: DotPath): Promise<KernelPipelines> {
  const entries = {
    embedQ8: embedRowsWgsl(true),
    embedFloat: embedRowsWgsl(false),
    normQuantize: NORM_QUANTIZE_WGSL,
    quantize: QUANTIZE_ROWS_WGSL,
    matvecQ8: q8_0MatvecWgsl(dot),
    matmulQ8: q8_0MatmulWgsl(dot),
    matmulFloat: FLOAT_MATMUL_WGSL,
    ropeStoreKv: ROPE_STORE_KV_WGSL,
    attention: ATTENTION_WGSL,
    attentionCombine: ATTENTION_COMBINE_WGSL,
    swiglu: SWIGLU_WGSL,
    argmaxRow: ARGMAX_ROW_WGSL,
  };
  const names = Object.keys(entries) as (keyof KernelPipelines)[];
  const compiled = await Promise.all(names.map((n) => compile(device, n, entries[n])));
  return Object.fromEntries(names.map((n, i) => [n, compiled[i]])) as unknown as KernelPipelines;
}
