/**
 * The forward pass as a list of dispatches, built once at load: every bind
 * group and every kernel's fixed parameters are made here, so evaluating a
 * chunk only records these dispatches with workgroup counts for its rows.
 */
import type { LlamaHyperParams } from "../gguf/llamaHyperParams";
import type { ActivationBuffers } from "./activationBuffers";
import type { GpuMatrix } from "./gpuWeights";
import type { GpuResources } from "./gpuResources";
import { attentionSplits } from "./kernels/attention";
import { MATMUL_TILE } from "./kernels/q8_0Matmul";
import { MATVEC_ROWS_PER_GROUP } from "./kernels/q8_0Matvec";
import type { KernelPipelines } from "./kernelPipelines";

export type Groups = [number, number, number];

export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  groups(rows: number, pos0: number): Groups;
}

/** A product has a matrix-vector kernel for a few rows (decode) and a tiled one for many (prefill). */
export interface ProductDispatch {
  label: string;
  few: Dispatch;
  many: Dispatch;
}

export type ProgramStep = Dispatch | ProductDispatch;

export interface ForwardProgram {
  head: ProgramStep[];
  layers: ProgramStep[][];
  tail: ProgramStep[];
  /** The greedy token of the tail's first row. */
  argmax: ProgramStep[];
  paramBuffer: GPUBuffer;
}

/** Rows up to which decode's matrix-vector kernel is used. */
const FEW_ROWS = 4;

export interface LayerWeights {
  /** q, k and v stacked, when all three are Q8_0; gate and up likewise. */
  qkv?: GpuMatrix;
  gateUp?: GpuMatrix;
  attnNorm: GPUBuffer;
  wq: GpuMatrix;
  wk: GpuMatrix;
  wv: GpuMatrix;
  wo: GpuMatrix;
  ffnNorm: GPUBuffer;
  gate: GpuMatrix;
  up: GpuMatrix;
  down: GpuMatrix;
}

export interface ModelWeights {
  embedding: GpuMatrix;
  outputNorm: GPUBuffer;
  output: GpuMatrix;
  layers: LayerWeights[];
}

type ParamValue = number | { f32: number };
const PARAM_STRIDE = 256; // minUniformBufferOffsetAlignment on every adapter

/** Fixed 16-byte parameter records, one per dispatch, packed into one uniform buffer. */
class ParamBlock {
  private readonly records: ParamValue[][] = [];
  add(values: ParamValue[]): number {
    this.records.push(values);
    return (this.records.length - 1) * PARAM_STRIDE;
  }
  upload(res: GpuResources, usage: GPUBufferUsage): GPUBuffer {
    const buffer = res.createBuffer("kernel_params", Math.max(1, this.records.length) * PARAM_STRIDE, usage.UNIFORM, true);
    const view = new DataView(buffer.getMappedRange());
    this.records.forEach((rec, i) => {
      rec.forEach((v, j) => {
        if (typeof v === "number") view.setUint32(i * PARAM_STRIDE + j * 4, v, true);
        else view.setFloat32(i * PARAM_STRIDE + j * 4, v.f32, true);
      });
    });
    buffer.unmap();
    return buffer;
  }
}

const ceil = (a: number, b: number) => Math.ceil(a / b);

export function buildForwardProgram(
  device: GPUDevice,
  res: GpuResources,
  usage: GPUBufferUsage,
  k: KernelPipelines,
  hp: LlamaHyperParams,
  w: ModelWeights,
  a: ActivationBuffers,
): ForwardProgram {
  const params = new ParamBlock();
  // Bind groups refer to the parameter buffer, which exists only once every record is known.
  const pending: { d: Dispatch; step: GPUBuffer; offset: number; buffers: GPUBindingResource[] }[] = [];
  const bindLimit = res.limit("maxStorageBufferBindingSize");

  function dispatch(label: string, pipeline: GPUComputePipeline, step: GPUBuffer, record: ParamValue[], buffers: GPUBindingResource[], groups: (rows: number, pos0: number) => Groups): Dispatch {
    const d: Dispatch = { label, pipeline, bindGroup: undefined as unknown as GPUBindGroup, groups };
    pending.push({ d, step, offset: params.add(record), buffers });
    return d;
  }

  const whole = (buffer: GPUBuffer): GPUBufferBinding => ({ buffer });
  function checkBindable(m: GpuMatrix): void {
    const largest = m.kind === "q8_0" ? Math.max(m.quantBytes, m.scaleBytes) : m.rows * m.cols * 4;
    if (largest > bindLimit) throw new Error(`WebGPU: tensor "${m.name}" is larger than the ${bindLimit} bytes the adapter can bind`);
  }
  function planes(m: GpuMatrix): GPUBufferBinding[] {
    return [
      { buffer: m.buffer, offset: 0, size: m.quantBytes },
      { buffer: m.buffer, offset: m.scaleOffset, size: m.scaleBytes },
    ];
  }

  /** RMSNorm into `out`, and into Q8_0 blocks too when a Q8_0 matrix among `ms` reads it. */
  function norm(label: string, step: GPUBuffer, input: GPUBuffer, weight: GPUBuffer, out: GPUBuffer, ms: GpuMatrix[]): Dispatch {
    const quantize = ms.some((m) => m.kind === "q8_0") ? 1 : 0;
    return dispatch(label, k.normQuantize, step, [hp.dim, { f32: hp.normEps }, quantize], [whole(input), whole(weight), whole(out), whole(a.xq), whole(a.xs)], (n) => [1, n, 1]);
  }
  function quantize(label: string, step: GPUBuffer, input: GPUBuffer, width: number): Dispatch {
    return dispatch(label, k.quantize, step, [width], [whole(input), whole(a.xq), whole(a.xs)], (n) => [ceil(width / 4, 256), n, 1]);
  }
  /**
   * y (= or +=) m x, x read quantized when m is Q8_0 and as floats otherwise; output rows of `stride` values
   * (default: the matrix's rows), this product's starting at `offset`.
   */
  function product(label: string, step: GPUBuffer, m: GpuMatrix, floatInput: GPUBuffer, out: GPUBuffer, accumulate: boolean, stride = m.rows, offset = 0): ProgramStep {
    checkBindable(m);
    if (m.kind === "float") {
      return dispatch(label, k.matmulFloat, step, [m.rows, m.cols, accumulate ? 1 : 0, m.roundInput ? 1 : 0, stride, offset], [whole(m.buffer), whole(floatInput), whole(out)], (n) => [ceil(m.rows, 64), n, 1]);
    }
    const record = [m.rows, m.cols, accumulate ? 1 : 0, 0, stride, offset];
    const bufs = [...planes(m), whole(a.xq), whole(a.xs), whole(out)];
    return {
      label,
      few: dispatch(label, k.matvecQ8, step, record, bufs, (n) => [ceil(m.rows, MATVEC_ROWS_PER_GROUP), n, 1]),
      many: dispatch(label, k.matmulQ8, step, record, bufs, (n) => [ceil(m.rows, MATMUL_TILE), ceil(n, MATMUL_TILE), 1]),
    };
  }
  /** Quantizes `input` once for the Q8_0 matrices among `ms` that read it. */
  function quantizeFor(label: string, step: GPUBuffer, input: GPUBuffer, width: number, ms: GpuMatrix[]): ProgramStep[] {
    return ms.some((m) => m.kind === "q8_0") ? [quantize(label, step, input, width)] : [];
  }

  const rows = a.stepRows;
  const qDim = hp.nHeads * hp.headDim;
  const kvDim = hp.nKvHeads * hp.headDim;
  const qkvWidth = qDim + 2 * kvDim;
  const head: ProgramStep[] = [
    w.embedding.kind === "q8_0"
      ? dispatch("embed", k.embedQ8, rows, [hp.dim, w.embedding.scaleOffset / 4, hp.vocab], [whole(a.tokens), whole(w.embedding.buffer), whole(a.x)], (n) => [1, n, 1])
      : dispatch("embed", k.embedFloat, rows, [hp.dim, 0, hp.vocab], [whole(a.tokens), whole(w.embedding.buffer), whole(a.x)], (n) => [1, n, 1]),
  ];
  const layers = w.layers.map((L, l) => {
    const b = `blk.${l}`;
    const pairs = (hp.nHeads + 2 * hp.nKvHeads) * (hp.headDim / 2);
    return [
      norm(`${b}.attn_norm`, rows, a.x, L.attnNorm, a.xn, [L.wq, L.wk, L.wv]),
      ...(L.qkv
        ? [product(`${b}.attn_qkv`, rows, L.qkv, a.xn, a.qkv, false)]
        : [
            product(`${b}.attn_q`, rows, L.wq, a.xn, a.qkv, false, qkvWidth, 0),
            product(`${b}.attn_k`, rows, L.wk, a.xn, a.qkv, false, qkvWidth, qDim),
            product(`${b}.attn_v`, rows, L.wv, a.xn, a.qkv, false, qkvWidth, qDim + kvDim),
          ]),
      dispatch(`${b}.rope_kv`, k.ropeStoreKv, rows, [hp.nHeads, hp.nKvHeads, hp.headDim, hp.ropeDim], [whole(a.qkv), whole(a.angles), whole(a.kCache[l]), whole(a.vCache[l])], (n) => [ceil(pairs, 64), n, 1]),
      dispatch(`${b}.attention`, k.attention, rows, [hp.nHeads, hp.nKvHeads, hp.headDim, { f32: 1 / Math.sqrt(hp.headDim) }, qkvWidth], [whole(a.qkv), whole(a.kCache[l]), whole(a.vCache[l]), whole(a.attn), whole(a.partials)], (n, pos0) => [hp.nHeads, n, attentionSplits(n, pos0 + n)]),
      dispatch(`${b}.attention_combine`, k.attentionCombine, rows, [hp.nHeads, hp.headDim], [whole(a.partials), whole(a.attn)], (n, pos0) => {
        const splits = attentionSplits(n, pos0 + n);
        return splits === 1 ? [0, 0, 0] : [hp.nHeads, n, splits];
      }),
      ...quantizeFor(`${b}.attn_out_q8`, rows, a.attn, qDim, [L.wo]),
      product(`${b}.attn_output`, rows, L.wo, a.attn, a.x, true),
      norm(`${b}.ffn_norm`, rows, a.x, L.ffnNorm, a.xn, [L.gate, L.up]),
      ...(L.gateUp
        ? [product(`${b}.ffn_gate_up`, rows, L.gateUp, a.xn, a.gateUp, false)]
        : [
            product(`${b}.ffn_gate`, rows, L.gate, a.xn, a.gateUp, false, 2 * hp.ffnDim, 0),
            product(`${b}.ffn_up`, rows, L.up, a.xn, a.gateUp, false, 2 * hp.ffnDim, hp.ffnDim),
          ]),
      dispatch(`${b}.swiglu`, k.swiglu, rows, [hp.ffnDim, L.down.kind === "q8_0" ? 1 : 0], [whole(a.gateUp), whole(a.h), whole(a.xq), whole(a.xs)], (n) => [ceil(hp.ffnDim / 4, 256), n, 1]),
      product(`${b}.ffn_down`, rows, L.down, a.h, a.x, true),
    ];
  });
  const out = a.stepOut;
  const tail: ProgramStep[] = [
    norm("output_norm", out, a.x, w.outputNorm, a.xn, [w.output]),
    product("output", out, w.output, a.xn, a.logits, false),
  ];

  const argmax: ProgramStep[] = [dispatch("argmax", k.argmaxRow, out, [hp.vocab], [whole(a.logits), whole(a.best)], () => [1, 1, 1])];

  const paramBuffer = params.upload(res, usage);
  for (const { d, step, offset, buffers } of pending) {
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: step } },
      { binding: 1, resource: { buffer: paramBuffer, offset, size: 32 } },
      ...buffers.map((resource, i) => ({ binding: i + 2, resource })),
    ];
    d.bindGroup = device.createBindGroup({ label: d.label, layout: d.pipeline.getBindGroupLayout(0), entries });
  }
  return { head, layers, tail, argmax, paramBuffer };
}

function isProduct(s: ProgramStep): s is ProductDispatch {
  return (s as ProductDispatch).few !== undefined;
}

/** Records `steps` into a compute pass for `rows` rows from position `pos0`; returns the number of dispatches. */
export function recordSteps(pass: GPUComputePassEncoder, steps: ProgramStep[], rows: number, pos0: number): number {
  let n = 0;
  for (const s of steps) {
    const d = isProduct(s) ? (rows <= FEW_ROWS ? s.few : s.many) : s;
    const [x, y, z] = d.groups(rows, pos0);
    if (x === 0) continue; // a step with nothing to do for this chunk
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    n++;
  }
  return n;
}
