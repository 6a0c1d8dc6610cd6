/**
 * GGUF constants shared by the TypeScript reader and writer.
 *
 * Layout (versions 2 and 3, little-endian): magic "GGUF", u32 version,
 * u64 tensor count, u64 metadata count, the metadata key/values, the tensor
 * infos, padding to `general.alignment`, then the tensor data. The native
 * reader (native/src/gguf/gguf_file.h) documents the same format.
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** ggml tensor type numbers for the types Ghostline reads and writes. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q8_0 = 8,
  BF16 = 30,
}

export const QK8_0 = 32;
export const Q8_0_BLOCK_BYTES = 34;

/** Bytes of `n` elements of `type` (n a multiple of the block size). */
export function tensorBytes(type: GgmlType, n: number): number {
  switch (type) {
    case GgmlType.F32:
      return n * 4;
    case GgmlType.F16:
    case GgmlType.BF16:
      return n * 2;
    case GgmlType.Q8_0:
      if (n % QK8_0 !== 0) throw new Error(`Q8_0 needs a multiple of ${QK8_0} elements, got ${n}`);
      return (n / QK8_0) * Q8_0_BLOCK_BYTES;
  }
}

/** Bytes of one element of a fixed-size metadata value type; 0 for STRING and ARRAY. */
export function ggufScalarSize(type: GgufValueType): number {
  switch (type) {
    case GgufValueType.UINT8:
    case GgufValueType.INT8:
    case GgufValueType.BOOL:
      return 1;
    case GgufValueType.UINT16:
    case GgufValueType.INT16:
      return 2;
    case GgufValueType.UINT32:
    case GgufValueType.INT32:
    case GgufValueType.FLOAT32:
      return 4;
    case GgufValueType.UINT64:
    case GgufValueType.INT64:
    case GgufValueType.FLOAT64:
      return 8;
    default:
      return 0;
  }
}

export function isGgufValueType(type: number): type is GgufValueType {
  return Number.isInteger(type) && type >= GgufValueType.UINT8 && type <= GgufValueType.FLOAT64;
}

export function ggufValueTypeName(type: number): string {
  return isGgufValueType(type) ? GgufValueType[type].toLowerCase() : `type ${type}`;
}

/** True for the tensor types whose byte size we know (the ones we read and write). */
export function isKnownGgmlType(type: number): type is GgmlType {
  return type === GgmlType.F32 || type === GgmlType.F16 || type === GgmlType.Q8_0 || type === GgmlType.BF16;
}

/** Elements per block: the row length of a tensor must be a multiple of it. */
export function ggmlBlockElements(type: GgmlType): number {
  return type === GgmlType.Q8_0 ? QK8_0 : 1;
}

export function ggmlTypeName(type: number): string {
  return isKnownGgmlType(type) ? GgmlType[type] : `ggml type ${type}`;
}
