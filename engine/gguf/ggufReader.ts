/**
 * GGUF header reader: metadata and tensor infos, fully validated.
 *
 * The layout is described in ggufFormat.ts. Every count and length is checked
 * against the bytes left in the file before anything is allocated, so a
 * hostile file fails at once with a message naming the file and the key or
 * tensor at fault instead of asking for gigabytes.
 */
import { promises as fs } from "node:fs";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GgufValueType,
  ggmlBlockElements,
  ggmlTypeName,
  ggufScalarSize,
  ggufValueTypeName,
  isGgufValueType,
  isKnownGgmlType,
  tensorBytes,
} from "./ggufFormat";

/** A metadata array: numeric arrays as typed arrays, strings as string[], bools as boolean[]. */
export interface GgufArray {
  kind: "array";
  elementType: GgufValueType;
  values:
    | string[]
    | boolean[]
    | Uint8Array
    | Int8Array
    | Uint16Array
    | Int16Array
    | Uint32Array
    | Int32Array
    | Float32Array
    | Float64Array
    | BigUint64Array
    | BigInt64Array
    | GgufArray[];
}
/** Integers are numbers when they are safe integers, bigint otherwise. */
export type GgufValue = number | bigint | boolean | string | GgufArray;

export interface GgufTensorInfo {
  name: string;
  dims: number[]; // ne: dims[0] is the row length
  type: number; // ggml type number (GgmlType for the ones we know)
  offset: number; // absolute byte offset of the data in the file
  byteLength: number; // 0 when the type is not one we can size
}

export interface GgufHeader {
  path: string; // or the name given for an in-memory buffer
  version: number;
  alignment: number;
  metadata: Map<string, GgufValue>;
  /** The GGUF type each metadata value was stored with. */
  metadataTypes: Map<string, GgufValueType>;
  tensors: GgufTensorInfo[];
  dataOffset: number;
}

export interface ParseOptions {
  /** Size of the whole file when `bytes` is only its beginning; defaults to bytes.length. */
  fileSize?: number;
}

const MAX_DIMS = 4;
// Smallest possible encodings, used to bound counts before allocating.
const MIN_KV_BYTES = 8 + 4 + 1; // key length, value type, one-byte value
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8; // name length, n_dims, one dim, type, offset
const MIN_NESTED_ARRAY_BYTES = 4 + 8; // element type, count

/** Thrown inside the parser when a prefix of the file ends before the header does. */
class NeedMoreBytes extends Error {
  constructor(readonly needed: number) {
    super(`need ${needed} bytes`);
  }
}

class Cursor {
  pos = 0;
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly name: string,
    readonly fileSize: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(message: string): never {
    throw new Error(`${this.name}: ${message}`);
  }

  /** Bytes left in the file (not only in the buffer) after the cursor. */
  left(): number {
    return this.fileSize - this.pos;
  }

  need(n: number, what: string): void {
    if (n > this.left()) {
      this.fail(`file is truncated: ${what} needs ${n} bytes at offset ${this.pos}, but only ${Math.max(0, this.left())} remain`);
    }
    if (this.pos + n > this.bytes.length) throw new NeedMoreBytes(this.pos + n);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  i64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A u64 count that must fit in what is left at `minBytesEach` bytes per item. */
  count(what: string, minBytesEach: number): number {
    const n = this.u64(`the ${what}`);
    if (n * BigInt(minBytesEach) > BigInt(Math.max(0, this.left()))) {
      this.fail(`the ${what} ${n} cannot fit in the ${Math.max(0, this.left())} bytes left at offset ${this.pos} (truncated or corrupt file)`);
    }
    return Number(n);
  }

  string(what: string): string {
    const length = this.u64(`the length of ${what}`);
    if (length > BigInt(Math.max(0, this.left()))) {
      this.fail(`the length ${length} of ${what} runs past the end of the file: ${Math.max(0, this.left())} bytes left at offset ${this.pos} (truncated or corrupt file)`);
    }
    const n = Number(length);
    this.need(n, what);
    const s = decodeUtf8(this.bytes, this.pos, n);
    this.pos += n;
    return s;
  }

  /** A copy of `n` bytes, so typed arrays over it are aligned and own their memory. */
  copy(n: number, what: string): ArrayBuffer {
    this.need(n, what);
    const out = new Uint8Array(n);
    out.set(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out.buffer;
  }
}

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

function decodeUtf8(bytes: Uint8Array, start: number, length: number): string {
  // Most keys and vocabulary pieces are short ASCII; skip the decoder for those.
  if (length <= 64) {
    let ascii = true;
    for (let i = start; i < start + length; i++) {
      if (bytes[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      let s = "";
      for (let i = start; i < start + length; i++) s += String.fromCharCode(bytes[i]);
      return s;
    }
  }
  return utf8.decode(bytes.subarray(start, start + length));
}

function integer(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function readScalar(c: Cursor, type: GgufValueType, what: string): GgufValue {
  const size = ggufScalarSize(type);
  c.need(size, what);
  const bytes = c.bytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset + c.pos, size);
  c.pos += size;
  switch (type) {
    case GgufValueType.UINT8:
      return view.getUint8(0);
    case GgufValueType.INT8:
      return view.getInt8(0);
    case GgufValueType.UINT16:
      return view.getUint16(0, true);
    case GgufValueType.INT16:
      return view.getInt16(0, true);
    case GgufValueType.UINT32:
      return view.getUint32(0, true);
    case GgufValueType.INT32:
      return view.getInt32(0, true);
    case GgufValueType.FLOAT32:
      return view.getFloat32(0, true);
    case GgufValueType.UINT64:
      return integer(view.getBigUint64(0, true));
    case GgufValueType.INT64:
      return integer(view.getBigInt64(0, true));
    case GgufValueType.FLOAT64:
      return view.getFloat64(0, true);
    case GgufValueType.BOOL: {
      const b = view.getUint8(0);
      if (b > 1) c.fail(`${what} is a bool holding ${b}, expected 0 or 1`);
      return b === 1;
    }
    default:
      return c.fail(`${what} has a value type ${ggufValueTypeName(type)} that is not a scalar`);
  }
}

function readValueType(c: Cursor, what: string): GgufValueType {
  const type = c.u32(`the value type of ${what}`);
  if (!isGgufValueType(type)) c.fail(`${what} has unknown value type ${type}`);
  return type;
}

function readArray(c: Cursor, what: string): GgufArray {
  const elementType = readValueType(c, `the elements of ${what}`);
  const size = ggufScalarSize(elementType);
  const minEach = elementType === GgufValueType.STRING ? 8 : elementType === GgufValueType.ARRAY ? MIN_NESTED_ARRAY_BYTES : size;
  const n = c.count(`element count of ${what}`, minEach);
  switch (elementType) {
    case GgufValueType.STRING: {
      const values: string[] = new Array(n);
      for (let i = 0; i < n; i++) values[i] = c.string(`${what}[${i}]`);
      return { kind: "array", elementType, values };
    }
    case GgufValueType.ARRAY: {
      const values: GgufArray[] = new Array(n);
      for (let i = 0; i < n; i++) values[i] = readArray(c, `${what}[${i}]`);
      return { kind: "array", elementType, values };
    }
    case GgufValueType.BOOL: {
      const values: boolean[] = new Array(n);
      for (let i = 0; i < n; i++) values[i] = readScalar(c, elementType, `${what}[${i}]`) as boolean;
      return { kind: "array", elementType, values };
    }
    default: {
      // GGUF is little-endian, as are all hosts we run on, so the bytes map straight onto typed arrays.
      const buffer = c.copy(n * size, `the ${n} elements of ${what}`);
      return { kind: "array", elementType, values: typedArrayOf(elementType, buffer) };
    }
  }
}

function typedArrayOf(type: GgufValueType, buffer: ArrayBuffer): GgufArray["values"] {
  switch (type) {
    case GgufValueType.UINT8:
      return new Uint8Array(buffer);
    case GgufValueType.INT8:
      return new Int8Array(buffer);
    case GgufValueType.UINT16:
      return new Uint16Array(buffer);
    case GgufValueType.INT16:
      return new Int16Array(buffer);
    case GgufValueType.UINT32:
      return new Uint32Array(buffer);
    case GgufValueType.INT32:
      return new Int32Array(buffer);
    case GgufValueType.FLOAT32:
      return new Float32Array(buffer);
    case GgufValueType.FLOAT64:
      return new Float64Array(buffer);
    case GgufValueType.UINT64:
      return new BigUint64Array(buffer);
    case GgufValueType.INT64:
      return new BigInt64Array(buffer);
    default:
      throw new Error(`no typed array for ${ggufValueTypeName(type)}`);
  }
}

function readHeader(c: Cursor): GgufHeader {
  const magic = c.u32("the magic");
  if (magic !== GGUF_MAGIC) {
    const seen = Array.from(c.bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    c.fail(`not a GGUF file (magic bytes ${seen}, expected 47 47 55 46 "GGUF")`);
  }
  const version = c.u32("the version");
  if (version !== 2 && version !== 3) {
    if (version === 1) c.fail("GGUF version 1 is not supported (only versions 2 and 3)");
    if ((version & 0xffff) === 0 && version !== 0) c.fail(`version field ${version} looks byte-swapped: big-endian GGUF files are not supported`);
    c.fail(`unknown GGUF version ${version} (only versions 2 and 3 are supported)`);
  }
  const nTensors = c.count("tensor count", MIN_TENSOR_INFO_BYTES);
  const nKv = c.count("metadata count", MIN_KV_BYTES);

  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, GgufValueType>();
  for (let i = 0; i < nKv; i++) {
    const key = c.string(`the key of metadata entry ${i}`);
    const what = `key "${key}"`;
    if (key.length === 0) c.fail(`metadata entry ${i} has an empty key`);
    if (metadata.has(key)) c.fail(`${what} appears twice`);
    const type = readValueType(c, what);
    let value: GgufValue;
    if (type === GgufValueType.STRING) value = c.string(`the value of ${what}`);
    else if (type === GgufValueType.ARRAY) value = readArray(c, what);
    else value = readScalar(c, type, `the value of ${what}`);
    metadata.set(key, value);
    metadataTypes.set(key, type);
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (metadata.has("general.alignment")) {
    const value = metadata.get("general.alignment");
    if (metadataTypes.get("general.alignment") !== GgufValueType.UINT32) {
      c.fail(`key "general.alignment" has type ${ggufValueTypeName(metadataTypes.get("general.alignment")!)}, expected uint32`);
    }
    const a = value as number;
    if (a === 0 || (a & (a - 1)) !== 0) c.fail(`key "general.alignment" is ${a}, expected a power of two`);
    alignment = a;
  }

  const raw: { info: GgufTensorInfo; relOffset: bigint }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = c.string(`the name of tensor ${i}`);
    const what = `tensor "${name}"`;
    if (name.length === 0) c.fail(`tensor ${i} has an empty name`);
    if (names.has(name)) c.fail(`${what} appears twice`);
    names.add(name);
    const nDims = c.u32(`the dimension count of ${what}`);
    if (nDims < 1 || nDims > MAX_DIMS) c.fail(`${what} has ${nDims} dimensions, expected 1 to ${MAX_DIMS}`);
    const dims: number[] = [];
    let elements = 1n;
    for (let d = 0; d < nDims; d++) {
      const ne = c.i64(`dimension ${d} of ${what}`);
      if (ne <= 0n) c.fail(`${what} has dimension ${d} of ${ne}, expected a positive size`);
      elements *= ne;
      if (elements > BigInt(Number.MAX_SAFE_INTEGER)) c.fail(`${what} has too many elements (dims overflow)`);
      dims.push(Number(ne));
    }
    const type = c.u32(`the type of ${what}`);
    const relOffset = c.u64(`the offset of ${what}`);
    if (relOffset % BigInt(alignment) !== 0n) c.fail(`${what} has offset ${relOffset}, not a multiple of the alignment ${alignment}`);
    let byteLength = 0;
    if (isKnownGgmlType(type)) {
      const block = ggmlBlockElements(type);
      if (dims[0] % block !== 0) c.fail(`${what} has rows of ${dims[0]} ${ggmlTypeName(type)} values, not a multiple of the block size ${block}`);
      byteLength = tensorBytes(type, Number(elements));
    }
    raw.push({ info: { name, dims, type, offset: 0, byteLength }, relOffset });
  }

  // The data section starts at the next multiple of the alignment after the tensor infos.
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const dataBytes = c.fileSize - dataOffset;
  for (const { info, relOffset } of raw) {
    if (relOffset + BigInt(info.byteLength) > BigInt(Math.max(0, dataBytes))) {
      c.fail(`tensor "${info.name}" (offset ${relOffset}, ${info.byteLength} bytes) extends past the end of the file (${Math.max(0, dataBytes)} bytes of tensor data)`);
    }
    info.offset = dataOffset + Number(relOffset);
  }
  const sorted = raw.map((r) => r.info).filter((t) => t.byteLength > 0);
  sorted.sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (prev.offset + prev.byteLength > sorted[i].offset) {
      c.fail(`tensor "${sorted[i].name}" overlaps tensor "${prev.name}"`);
    }
  }

  return { path: c.name, version, alignment, metadata, metadataTypes, tensors: raw.map((r) => r.info), dataOffset };
}

/**
 * Parses a whole file or a buffer holding at least the header. Throws Error naming the file and key/tensor.
 * When `bytes` is only the beginning of the file, pass the real size as `options.fileSize`
 * so tensor extents are checked against the file.
 */
export function parseGgufHeader(bytes: Uint8Array, name: string, options: ParseOptions = {}): GgufHeader {
  const fileSize = options.fileSize ?? bytes.length;
  if (fileSize < bytes.length) throw new Error(`${name}: fileSize ${fileSize} is smaller than the ${bytes.length} bytes given`);
  try {
    return readHeader(new Cursor(bytes, name, fileSize));
  } catch (e) {
    if (e instanceof NeedMoreBytes) {
      throw new Error(`${name}: the header continues past the ${bytes.length} bytes given (needs at least ${e.needed})`);
    }
    throw e;
  }
}

const FIRST_READ_BYTES = 1 << 20;

/** Reads just enough of the file (growing reads) to parse the header. */
export async function readGgufHeader(path: string): Promise<GgufHeader> {
  const file = await fs.open(path, "r");
  try {
    const fileSize = (await file.stat()).size;
    let bytes = new Uint8Array(0);
    let want = Math.min(FIRST_READ_BYTES, fileSize);
    for (;;) {
      const grown = new Uint8Array(want);
      grown.set(bytes);
      let filled = bytes.length;
      while (filled < want) {
        const { bytesRead } = await file.read(grown, filled, want - filled, filled);
        if (bytesRead === 0) throw new Error(`${path}: file shrank while reading its header`);
        filled += bytesRead;
      }
      bytes = grown;
      try {
        return readHeader(new Cursor(bytes, path, fileSize));
      } catch (e) {
        if (!(e instanceof NeedMoreBytes)) throw e;
        want = Math.min(fileSize, Math.max(want * 2, e.needed));
      }
    }
  } finally {
    await file.close();
  }
}

function typeOf(h: GgufHeader, key: string): string {
  const t = h.metadataTypes.get(key);
  return t === undefined ? "unknown" : ggufValueTypeName(t);
}

function missing(h: GgufHeader, key: string): never {
  throw new Error(`${h.path}: key "${key}" is missing`);
}

function wrongType(h: GgufHeader, key: string, expected: string): never {
  throw new Error(`${h.path}: key "${key}" has type ${typeOf(h, key)}, expected ${expected}`);
}

export function metaStringOr(h: GgufHeader, key: string, fallback: string | undefined): string | undefined {
  const v = h.metadata.get(key);
  if (v === undefined) return fallback;
  if (typeof v !== "string") wrongType(h, key, "a string");
  return v;
}

export function metaString(h: GgufHeader, key: string): string {
  return metaStringOr(h, key, undefined) ?? missing(h, key);
}

/** Any integer or float type; a 64-bit integer beyond 2^53 is refused rather than rounded. */
export function metaNumberOr(h: GgufHeader, key: string, fallback: number | undefined): number | undefined {
  const v = h.metadata.get(key);
  if (v === undefined) return fallback;
  if (typeof v === "bigint") throw new Error(`${h.path}: key "${key}" is ${v}, too large for a JavaScript number`);
  if (typeof v !== "number") wrongType(h, key, "a number");
  return v;
}

export function metaNumber(h: GgufHeader, key: string): number {
  return metaNumberOr(h, key, undefined) ?? missing(h, key);
}

export function metaBoolOr(h: GgufHeader, key: string, fallback: boolean): boolean {
  const v = h.metadata.get(key);
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") wrongType(h, key, "a bool");
  return v;
}

export function metaArrayOr(h: GgufHeader, key: string): GgufArray | undefined {
  const v = h.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "object") wrongType(h, key, "an array");
  return v;
}

export function metaArray(h: GgufHeader, key: string): GgufArray {
  return metaArrayOr(h, key) ?? missing(h, key);
}

/** The tensor info named `name`; throws naming the file when it is absent. */
export function findTensor(h: GgufHeader, name: string): GgufTensorInfo {
  const t = h.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`${h.path}: tensor "${name}" is missing`);
  return t;
}
