/**
 * GGUF version 3 writer. Metadata and tensor infos are held in memory; tensor
 * data may be given up front or produced lazily, one tensor at a time, so
 * writing a 1 GB model needs only the largest tensor in memory at once.
 * Alignment is `general.alignment` (a uint32) when set, else 32.
 */
import { promises as fs } from "node:fs";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GgufValueType,
  ggmlBlockElements,
  ggmlTypeName,
  ggufValueTypeName,
  isKnownGgmlType,
  tensorBytes,
} from "./ggufFormat";
import type { GgufArray } from "./ggufReader";

/** Elements accepted by addArray: plain JS arrays or typed arrays; nested arrays as GgufArray objects. */
export type GgufArrayInput =
  | readonly string[]
  | readonly boolean[]
  | readonly number[]
  | readonly bigint[]
  | readonly GgufArray[]
  | ArrayLike<number>
  | ArrayLike<bigint>;

type Scalar = number | bigint | boolean | string;

interface Entry {
  key: string;
  type: GgufValueType;
  value: Scalar | { elementType: GgufValueType; values: GgufArrayInput };
}

interface PendingTensor {
  name: string;
  dims: number[];
  type: number;
  byteLength: number;
  produce: () => Uint8Array;
}

/** A growable little-endian byte buffer. */
class ByteSink {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  /** Makes room for n bytes and returns where they start. It may replace `view`, so call it before using `view`. */
  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.length + n) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u8(v: number): void {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
  }
  i8(v: number): void {
    const at = this.reserve(1);
    this.view.setInt8(at, v);
  }
  u16(v: number): void {
    const at = this.reserve(2);
    this.view.setUint16(at, v, true);
  }
  i16(v: number): void {
    const at = this.reserve(2);
    this.view.setInt16(at, v, true);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.reserve(4);
    this.view.setInt32(at, v, true);
  }
  u64(v: bigint): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, v, true);
  }
  i64(v: bigint): void {
    const at = this.reserve(8);
    this.view.setBigInt64(at, v, true);
  }
  f32(v: number): void {
    const at = this.reserve(4);
    this.view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.reserve(8);
    this.view.setFloat64(at, v, true);
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(BigInt(b.length));
    this.bytes(b);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad); // fresh bytes are zero
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function checkInteger(key: string, v: number | bigint, min: bigint, max: bigint, typeName: string): bigint {
  if (typeof v === "number" && !Number.isInteger(v)) throw new Error(`GGUF key "${key}": ${v} is not an integer (${typeName})`);
  const b = BigInt(v);
  if (b < min || b > max) throw new Error(`GGUF key "${key}": ${v} does not fit ${typeName}`);
  return b;
}

const LIMITS: Partial<Record<GgufValueType, [bigint, bigint]>> = {
  [GgufValueType.UINT8]: [0n, 0xffn],
  [GgufValueType.INT8]: [-0x80n, 0x7fn],
  [GgufValueType.UINT16]: [0n, 0xffffn],
  [GgufValueType.INT16]: [-0x8000n, 0x7fffn],
  [GgufValueType.UINT32]: [0n, 0xffffffffn],
  [GgufValueType.INT32]: [-0x80000000n, 0x7fffffffn],
  [GgufValueType.UINT64]: [0n, 0xffffffffffffffffn],
  [GgufValueType.INT64]: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

function writeScalar(sink: ByteSink, key: string, type: GgufValueType, v: Scalar): void {
  const limits = LIMITS[type];
  if (limits) {
    if (typeof v !== "number" && typeof v !== "bigint") throw new Error(`GGUF key "${key}": expected an integer for ${ggufValueTypeName(type)}, got ${typeof v}`);
    const b = checkInteger(key, v, limits[0], limits[1], ggufValueTypeName(type));
    switch (type) {
      case GgufValueType.UINT8: return sink.u8(Number(b));
      case GgufValueType.INT8: return sink.i8(Number(b));
      case GgufValueType.UINT16: return sink.u16(Number(b));
      case GgufValueType.INT16: return sink.i16(Number(b));
      case GgufValueType.UINT32: return sink.u32(Number(b));
      case GgufValueType.INT32: return sink.i32(Number(b));
      case GgufValueType.UINT64: return sink.u64(b);
      default: return sink.i64(b);
    }
  }
  switch (type) {
    case GgufValueType.FLOAT32:
    case GgufValueType.FLOAT64:
      if (typeof v !== "number") throw new Error(`GGUF key "${key}": expected a number for ${ggufValueTypeName(type)}, got ${typeof v}`);
      return type === GgufValueType.FLOAT32 ? sink.f32(v) : sink.f64(v);
    case GgufValueType.BOOL:
      if (typeof v !== "boolean") throw new Error(`GGUF key "${key}": expected a boolean, got ${typeof v}`);
      return sink.u8(v ? 1 : 0);
    case GgufValueType.STRING:
      if (typeof v !== "string") throw new Error(`GGUF key "${key}": expected a string, got ${typeof v}`);
      return sink.string(v);
    default:
      throw new Error(`GGUF key "${key}": ${ggufValueTypeName(type)} is not a scalar type`);
  }
}

function writeArray(sink: ByteSink, key: string, elementType: GgufValueType, values: GgufArrayInput): void {
  sink.u32(elementType);
  sink.u64(BigInt(values.length));
  if (elementType === GgufValueType.ARRAY) {
    for (const inner of values as readonly GgufArray[]) writeArray(sink, key, inner.elementType, inner.values as GgufArrayInput);
    return;
  }
  for (let i = 0; i < values.length; i++) writeScalar(sink, key, elementType, (values as ArrayLike<Scalar>)[i]);
}

export class GgufWriter {
  private readonly entries: Entry[] = [];
  private readonly keys = new Set<string>();
  private readonly tensors: PendingTensor[] = [];

  /** Adds a metadata value of any scalar type. */
  add(key: string, type: GgufValueType, value: Scalar): this {
    if (type === GgufValueType.ARRAY) throw new Error(`GGUF key "${key}": use addArray for arrays`);
    // Encode once now so a bad value fails at the call that added it.
    writeScalar(new ByteSink(), key, type, value);
    return this.push({ key, type, value });
  }

  addString(key: string, v: string): this { return this.add(key, GgufValueType.STRING, v); }
  addBool(key: string, v: boolean): this { return this.add(key, GgufValueType.BOOL, v); }
  addU8(key: string, v: number): this { return this.add(key, GgufValueType.UINT8, v); }
  addI8(key: string, v: number): this { return this.add(key, GgufValueType.INT8, v); }
  addU16(key: string, v: number): this { return this.add(key, GgufValueType.UINT16, v); }
  addI16(key: string, v: number): this { return this.add(key, GgufValueType.INT16, v); }
  addU32(key: string, v: number): this { return this.add(key, GgufValueType.UINT32, v); }
  addI32(key: string, v: number): this { return this.add(key, GgufValueType.INT32, v); }
  addU64(key: string, v: number | bigint): this { return this.add(key, GgufValueType.UINT64, v); }
  addI64(key: string, v: number | bigint): this { return this.add(key, GgufValueType.INT64, v); }
  addF32(key: string, v: number): this { return this.add(key, GgufValueType.FLOAT32, v); }
  addF64(key: string, v: number): this { return this.add(key, GgufValueType.FLOAT64, v); }

  addArray(key: string, elementType: GgufValueType, values: GgufArrayInput): this {
    writeArray(new ByteSink(), key, elementType, values);
    return this.push({ key, type: GgufValueType.ARRAY, value: { elementType, values } });
  }

  private push(entry: Entry): this {
    if (this.keys.has(entry.key)) throw new Error(`GGUF key "${entry.key}" was added twice`);
    this.keys.add(entry.key);
    this.entries.push(entry);
    return this;
  }

  /**
   * Adds a tensor. `dims` is ne (dims[0] is the row length). The data is either
   * the bytes themselves or a byte length and a function called once when the
   * tensor is written.
   */
  addTensor(name: string, dims: number[], type: number, data: Uint8Array): this;
  addTensor(name: string, dims: number[], type: number, byteLength: number, produce: () => Uint8Array): this;
  addTensor(name: string, dims: number[], type: number, data: Uint8Array | number, produce?: () => Uint8Array): this {
    const what = `GGUF tensor "${name}"`;
    if (this.tensors.some((t) => t.name === name)) throw new Error(`${what} was added twice`);
    if (dims.length < 1 || dims.length > 4) throw new Error(`${what} has ${dims.length} dimensions, expected 1 to 4`);
    if (!dims.every((d) => Number.isSafeInteger(d) && d > 0)) throw new Error(`${what} has dims [${dims.join(", ")}], expected positive integers`);
    const byteLength = typeof data === "number" ? data : data.length;
    if (isKnownGgmlType(type)) {
      const block = ggmlBlockElements(type);
      if (dims[0] % block !== 0) throw new Error(`${what}: rows of ${dims[0]} ${ggmlTypeName(type)} values are not a multiple of ${block}`);
      const expected = tensorBytes(type, dims.reduce((a, b) => a * b, 1));
      if (byteLength !== expected) throw new Error(`${what}: ${byteLength} bytes given, ${ggmlTypeName(type)} [${dims.join(", ")}] needs ${expected}`);
    }
    const bytes = typeof data === "number" ? undefined : data;
    const make = bytes ? () => bytes : produce;
    if (!make) throw new Error(`${what}: a byte length needs a function producing the bytes`);
    this.tensors.push({ name, dims: [...dims], type, byteLength, produce: make });
    return this;
  }

  get alignment(): number {
    const entry = this.entries.find((e) => e.key === "general.alignment");
    if (!entry) return GGUF_DEFAULT_ALIGNMENT;
    const a = entry.value;
    if (entry.type !== GgufValueType.UINT32 || typeof a !== "number" || a === 0 || (a & (a - 1)) !== 0) {
      throw new Error(`GGUF key "general.alignment" must be a uint32 power of two`);
    }
    return a;
  }

  /** The header: magic to the padding before the tensor data. */
  headerBytes(): Uint8Array {
    const alignment = this.alignment;
    const sink = new ByteSink();
    sink.u32(GGUF_MAGIC);
    sink.u32(3);
    sink.u64(BigInt(this.tensors.length));
    sink.u64(BigInt(this.entries.length));
    for (const e of this.entries) {
      sink.string(e.key);
      sink.u32(e.type);
      if (e.type === GgufValueType.ARRAY) {
        const a = e.value as { elementType: GgufValueType; values: GgufArrayInput };
        writeArray(sink, e.key, a.elementType, a.values);
      } else {
        writeScalar(sink, e.key, e.type, e.value as Scalar);
      }
    }
    let offset = 0;
    for (const t of this.tensors) {
      sink.string(t.name);
      sink.u32(t.dims.length);
      for (const d of t.dims) sink.i64(BigInt(d));
      sink.u32(t.type);
      sink.u64(BigInt(offset));
      offset += alignUp(t.byteLength, alignment);
    }
    sink.padTo(alignment);
    return sink.result();
  }

  /** Total bytes of the file. */
  fileSize(): number {
    const alignment = this.alignment;
    return this.headerBytes().length + this.tensors.reduce((sum, t) => sum + alignUp(t.byteLength, alignment), 0);
  }

  /** The whole file in memory (small files, tests). */
  toBytes(): Uint8Array {
    const alignment = this.alignment;
    const header = this.headerBytes();
    const total = header.length + this.tensors.reduce((sum, t) => sum + alignUp(t.byteLength, alignment), 0);
    const out = new Uint8Array(total);
    out.set(header);
    let at = header.length;
    for (const t of this.tensors) {
      out.set(this.produced(t), at);
      at += alignUp(t.byteLength, alignment);
    }
    return out;
  }

  /** Streams the file to `path`: the header, then each tensor as it is produced. */
  async writeFile(path: string): Promise<void> {
    const alignment = this.alignment;
    const file = await fs.open(path, "w");
    try {
      await writeAll(file, this.headerBytes());
      const padding = new Uint8Array(alignment);
      for (const t of this.tensors) {
        await writeAll(file, this.produced(t));
        const pad = alignUp(t.byteLength, alignment) - t.byteLength;
        if (pad > 0) await writeAll(file, padding.subarray(0, pad));
      }
    } finally {
      await file.close();
    }
  }

  private produced(t: PendingTensor): Uint8Array {
    const bytes = t.produce();
    if (bytes.length !== t.byteLength) throw new Error(`GGUF tensor "${t.name}": produced ${bytes.length} bytes, expected ${t.byteLength}`);
    return bytes;
  }
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

async function writeAll(file: fs.FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}
