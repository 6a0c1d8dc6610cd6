/**
 * The buffer plan: every activation, the KV cache of every slot, the RoPE
 * angle table, the step records and the read-back buffer, sized for the
 * largest chunk and created once when the model loads.
 */
import type { LlamaHyperParams } from "../gguf/llamaHyperParams";
import type { GpuResources } from "./gpuResources";
import { ATTENTION_PARTIALS } from "./kernels/attention";
import { uploadFloats } from "./gpuWeights";

export interface ActivationShape {
  hp: LlamaHyperParams;
  nBatch: number;
  nCtx: number;
  nSlots: number;
  /** Widest input of any Q8_0 matrix; 0 when there is none. */
  quantizedWidth: number;
  /** Divisors of each RoPE pair's frequency (rope_freqs.weight), when the model has them. */
  ropeFreqs?: Float32Array;
}

export interface ActivationBuffers {
  tokens: GPUBuffer;
  x: GPUBuffer;
  xn: GPUBuffer;
  /** Each row: queries, keys, values. */
  qkv: GPUBuffer;
  attn: GPUBuffer;
  /** Each row: gate values, then up values. */
  gateUp: GPUBuffer;
  h: GPUBuffer;
  xq: GPUBuffer;
  xs: GPUBuffer;
  logits: GPUBuffer;
  readback: GPUBuffer;
  /** The greedy token of the last row and its score, and their read-back copy. */
  best: GPUBuffer;
  bestReadback: GPUBuffer;
  /** Step records: the layers' rows, and the rows whose logits are wanted. */
  stepRows: GPUBuffer;
  stepOut: GPUBuffer;
  angles: GPUBuffer;
  /** Attention's per-split partial results (see kernels/attention.ts). */
  partials: GPUBuffer;
  kCache: GPUBuffer[];
  vCache: GPUBuffer[];
}

/** cos and sin of every position's angle for every rotated pair, computed in float64. */
export function ropeAngles(hp: LlamaHyperParams, nCtx: number, ropeFreqs?: Float32Array): Float32Array {
  const pairs = hp.ropeDim / 2;
  const out = new Float32Array(nCtx * pairs * 2);
  for (let pos = 0; pos < nCtx; pos++) {
    const p = pos / hp.ropeScaleLinear;
    for (let i = 0; i < pairs; i++) {
      let theta = p * Math.pow(hp.ropeFreqBase, (-2 * i) / hp.ropeDim);
      if (ropeFreqs) theta /= ropeFreqs[i];
      out[(pos * pairs + i) * 2] = Math.cos(theta);
      out[(pos * pairs + i) * 2 + 1] = Math.sin(theta);
    }
  }
  return out;
}

export function createActivations(res: GpuResources, usage: GPUBufferUsage, s: ActivationShape): ActivationBuffers {
  const { hp, nBatch: b } = s;
  const f = 4;
  const storage = usage.STORAGE;
  const qDim = hp.nHeads * hp.headDim;
  const kvDim = hp.nKvHeads * hp.headDim;
  const cacheBytes = s.nSlots * s.nCtx * kvDim * 2; // f16
  const bindLimit = res.limit("maxStorageBufferBindingSize");
  if (cacheBytes > bindLimit) {
    throw new Error(`WebGPU: a layer's KV cache (${s.nSlots} slots x ${s.nCtx} positions) needs ${cacheBytes} bytes; the adapter binds at most ${bindLimit}`);
  }
  const kCache: GPUBuffer[] = [];
  const vCache: GPUBuffer[] = [];
  for (let l = 0; l < hp.nLayers; l++) {
    kCache.push(res.createBuffer(`blk.${l}.k_cache`, cacheBytes, storage));
    vCache.push(res.createBuffer(`blk.${l}.v_cache`, cacheBytes, storage));
  }
  const qw = Math.max(s.quantizedWidth, 32);
  return {
    tokens: res.createBuffer("tokens", b * 4, storage | usage.COPY_DST),
    x: res.createBuffer("x", b * hp.dim * f, storage),
    xn: res.createBuffer("x_norm", b * hp.dim * f, storage),
    qkv: res.createBuffer("qkv", b * (qDim + 2 * kvDim) * f, storage),
    attn: res.createBuffer("attn_out", b * qDim * f, storage),
    gateUp: res.createBuffer("ffn_gate_up", b * 2 * hp.ffnDim * f, storage),
    h: res.createBuffer("ffn_hidden", b * hp.ffnDim * f, storage),
    xq: res.createBuffer("act_q8_quants", b * qw, storage),
    xs: res.createBuffer("act_q8_scales", (b * qw) / 8, storage),
    logits: res.createBuffer("logits", b * hp.vocab * f, storage | usage.COPY_SRC),
    readback: res.createBuffer("logits_readback", b * hp.vocab * f, usage.MAP_READ | usage.COPY_DST),
    best: res.createBuffer("argmax", 8, storage | usage.COPY_SRC),
    bestReadback: res.createBuffer("argmax_readback", 8, usage.MAP_READ | usage.COPY_DST),
    stepRows: res.createBuffer("step_rows", 16, usage.UNIFORM | usage.COPY_DST),
    stepOut: res.createBuffer("step_out", 16, usage.UNIFORM | usage.COPY_DST),
    partials: res.createBuffer("attention_partials", ATTENTION_PARTIALS * hp.nHeads * (hp.headDim + 2) * f, storage),
    angles: uploadFloats(res, usage, "rope_angles", ropeAngles(hp, s.nCtx, s.ropeFreqs)),
    kCache,
    vCache,
  };
}
