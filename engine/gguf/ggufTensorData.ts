/**
 * Tensor data as float64, dequantized exactly (F32, F16, BF16, Q8_0), for
 * tests and the reference forward pass. Reads only the tensor's own bytes
 * when given a path.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { GgmlType, ggmlTypeName } from "./ggufFormat";
import { findTensor, type GgufHeader, type GgufTensorInfo } from "./ggufReader";
import { bf16BitsToF32, dequantizeQ8_0, f16BitsToF32 } from "./quantize";

function elementCount(t: GgufTensorInfo): number {
  return t.dims.reduce((a, b) => a * b, 1);
}

/** The raw bytes of tensor `name`, from a whole-file buffer or by reading them from `source` as a path. */
export function readTensorBytes(source: string | Uint8Array, header: GgufHeader, name: string): Uint8Array {
  const t = findTensor(header, name);
  if (t.byteLength === 0) throw new Error(`${header.path}: tensor "${name}" has type ${ggmlTypeName(t.type)}, which cannot be read`);
  if (typeof source !== "string") {
    if (t.offset + t.byteLength > source.length) {
      throw new Error(`${header.path}: tensor "${name}" ends at ${t.offset + t.byteLength}, past the ${source.length} bytes given`);
    }
    return source.subarray(t.offset, t.offset + t.byteLength);
  }
  const out = new Uint8Array(t.byteLength);
  const fd = openSync(source, "r");
  try {
    let filled = 0;
    while (filled < out.length) {
      const n = readSync(fd, out, filled, out.length - filled, t.offset + filled);
      if (n === 0) throw new Error(`${source}: file ends inside tensor "${name}"`);
      filled += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Decodes `bytes` of `type` holding `n` values into float64, exactly. */
export function decodeTensor(bytes: Uint8Array, type: number, n: number, what: string): Float64Array {
  const out = new Float64Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case GgmlType.F32:
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case GgmlType.F16:
      for (let i = 0; i < n; i++) out[i] = f16BitsToF32(view.getUint16(2 * i, true));
      return out;
    case GgmlType.BF16:
      for (let i = 0; i < n; i++) out[i] = bf16BitsToF32(view.getUint16(2 * i, true));
      return out;
    case GgmlType.Q8_0:
      dequantizeQ8_0(bytes, n, out);
      return out;
    default:
      throw new Error(`${what} has type ${ggmlTypeName(type)}, which cannot be dequantized`);
  }
}

/** Tensor `name` as float64 values in file order (row after row, dims[0] values per row). */
export function readTensorAsFloat64(source: string | Uint8Array, header: GgufHeader, name: string): Float64Array {
  const t = findTensor(header, name);
  const bytes = readTensorBytes(source, header, name);
  return decodeTensor(bytes, t.type, elementCount(t), `${header.path}: tensor "${name}"`);
}
