/**
 * Model tensors uploaded once at load. Q8_0 blocks (34 bytes, not 4-byte
 * aligned) are re-laid into a plane of int8 quants (8 words a block) and a
 * plane of f16 scales at a 256-byte aligned offset, so WGSL reads whole
 * words. F16 and BF16 are widened to f32. Each tensor is read from the file
 * on its own straight into a mapped GPU buffer: the whole file is never in
 * memory at once.
 */
import { GgmlType, ggmlTypeName, Q8_0_BLOCK_BYTES, QK8_0 } from "../gguf/ggufFormat";
import type { GgufHeader, GgufTensorInfo } from "../gguf/ggufReader";
import { readTensorBytes } from "../gguf/ggufTensorData";
import { bf16BitsToF32, f16BitsToF32 } from "../gguf/quantize";
import type { GpuResources } from "./gpuResources";

export interface GpuMatrix {
  name: string;
  kind: "q8_0" | "float";
  rows: number;
  cols: number;
  buffer: GPUBuffer;
  /** q8_0: byte length of the quant plane, and where the scale plane starts. */
  quantBytes: number;
  scaleOffset: number;
  scaleBytes: number;
  /** F16 weights: activations are rounded to f16 before the product, as llama.cpp does. */
  roundInput: boolean;
  /** Bytes of this tensor in the file: what one pass over it reads. */
  fileBytes: number;
}

const SUPPORTED = [GgmlType.Q8_0, GgmlType.F16, GgmlType.BF16, GgmlType.F32];

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function findChecked(h: GgufHeader, name: string, dims: number[]): GgufTensorInfo {
  const t = h.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`${h.path}: tensor "${name}" is missing`);
  const want = dims.join(" x ");
  const got = t.dims.join(" x ");
  const padded = [...t.dims];
  while (padded.length > dims.length && padded[padded.length - 1] === 1) padded.pop();
  if (padded.length !== dims.length || padded.some((d, i) => d !== dims[i])) {
    throw new Error(`${h.path}: tensor "${name}" has shape [${got}], expected [${want}]`);
  }
  if (!SUPPORTED.includes(t.type)) {
    throw new Error(`${h.path}: tensor "${name}" has type ${ggmlTypeName(t.type)}, which the WebGPU backend does not support (Q8_0, F16, BF16, F32)`);
  }
  return t;
}

/** A [rows x cols] matrix (GGUF dims [cols, rows]). */
export function uploadMatrix(res: GpuResources, usage: GPUBufferUsage, file: string, h: GgufHeader, name: string, rows: number, cols: number): GpuMatrix {
  const t = findChecked(h, name, [cols, rows]);
  if (t.type === GgmlType.Q8_0) return uploadStackedQ8(res, usage, file, h, name, [{ name, rows }], cols)!;
  const bytes = readTensorBytes(file, h, name);
  const buffer = res.createBuffer(name, rows * cols * 4, usage.STORAGE, true);
  widenInto(new Float32Array(buffer.getMappedRange(), 0, rows * cols), bytes, t.type);
  buffer.unmap();
  return { name, kind: "float", rows, cols, buffer, quantBytes: 0, scaleOffset: 0, scaleBytes: 0, roundInput: t.type === GgmlType.F16, fileBytes: bytes.length };
}

/**
 * Q8_0 matrices re-laid into one pair of planes, row after row: a single matrix, or several that read the same
 * input (q, k and v; gate and up) so one dispatch computes them all. Undefined unless every part is Q8_0.
 */
export function uploadStackedQ8(res: GpuResources, usage: GPUBufferUsage, file: string, h: GgufHeader, label: string, parts: { name: string; rows: number }[], cols: number): GpuMatrix | undefined {
  const infos = parts.map((p) => findChecked(h, p.name, [cols, p.rows]));
  if (infos.some((t) => t.type !== GgmlType.Q8_0)) return undefined;
  const rows = parts.reduce((a, p) => a + p.rows, 0);
  const blocks = (rows * cols) / QK8_0;
  const quantBytes = blocks * QK8_0;
  const scaleOffset = align(quantBytes, 256);
  const scaleBytes = align(blocks * 2, 4);
  const buffer = res.createBuffer(label, scaleOffset + scaleBytes, usage.STORAGE, true);
  const mapped = buffer.getMappedRange();
  const quants = new Uint8Array(mapped, 0, quantBytes);
  const scales = new Uint16Array(mapped, scaleOffset, blocks);
  let b0 = 0;
  let fileBytes = 0;
  for (const p of parts) {
    const bytes = readTensorBytes(file, h, p.name);
    fileBytes += bytes.length;
    const src = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = (p.rows * cols) / QK8_0;
    for (let b = 0; b < n; b++) {
      const at = b * Q8_0_BLOCK_BYTES;
      scales[b0 + b] = src.getUint16(at, true);
      quants.set(bytes.subarray(at + 2, at + Q8_0_BLOCK_BYTES), (b0 + b) * QK8_0);
    }
    b0 += n;
  }
  buffer.unmap();
  return { name: label, kind: "q8_0", rows, cols, buffer, quantBytes, scaleOffset, scaleBytes, roundInput: false, fileBytes };
}

/** A vector (norm weights, RoPE frequency factors) as f32. */
export function uploadVector(res: GpuResources, usage: GPUBufferUsage, file: string, h: GgufHeader, name: string, n: number): GPUBuffer {
  return uploadFloats(res, usage, name, readVector(file, h, name, n));
}

export function readVector(file: string, h: GgufHeader, name: string, n: number): Float32Array {
  const t = findChecked(h, name, [n]);
  if (t.type === GgmlType.Q8_0) throw new Error(`${h.path}: tensor "${name}" is Q8_0; vectors must be F32, F16 or BF16`);
  const out = new Float32Array(n);
  widenInto(out, readTensorBytes(file, h, name), t.type);
  return out;
}

export function uploadFloats(res: GpuResources, usage: GPUBufferUsage, label: string, values: Float32Array): GPUBuffer {
  const buffer = res.createBuffer(label, values.byteLength, usage.STORAGE, true);
  new Float32Array(buffer.getMappedRange(), 0, values.length).set(values);
  buffer.unmap();
  return buffer;
}

function widenInto(out: Float32Array, bytes: Uint8Array, type: number): void {
  const src = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = out.length;
  if (type === GgmlType.F32) {
    for (let i = 0; i < n; i++) out[i] = src.getFloat32(4 * i, true);
  } else if (type === GgmlType.F16) {
    for (let i = 0; i < n; i++) out[i] = f16BitsToF32(src.getUint16(2 * i, true));
  } else {
    for (let i = 0; i < n; i++) out[i] = bf16BitsToF32(src.getUint16(2 * i, true));
  }
}
