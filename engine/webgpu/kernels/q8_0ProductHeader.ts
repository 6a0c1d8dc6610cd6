/**
 * What the Q8_0 product kernels share: their parameters (output rows, input
 * width, accumulate into y or overwrite it, and where each output row sits in
 * y) and their bindings: the weights' quant and half-scale planes, the
 * activations' quants and scales, the output.
 */
import { dot4Wgsl, HALF_AT, STEP_STRUCT, type DotPath } from "./wgslCommon";

export function q8_0ProductHeader(dot: DotPath): string {
  return /* wgsl */ `
${STEP_STRUCT}
${HALF_AT}
${dot4Wgsl(dot)}
struct Params { rows: u32, k: u32, accumulate: u32, _p: u32, yStride: u32, yOffset: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> wq: array<vec4u>;
@group(0) @binding(3) var<storage, read> ws: array<u32>;
@group(0) @binding(4) var<storage, read> xq: array<vec4u>;
@group(0) @binding(5) var<storage, read> xs: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
`;
}
