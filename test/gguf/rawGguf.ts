/**
 * Byte-level GGUF builder for malformed-file tests: it writes whatever it is
 * told, including counts, offsets and types no valid writer would produce.
 */

export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

export function u64(v: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function str(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  return concat(u64(b.length), b);
}

/** A key/value: key, value type, then the already-encoded value. */
export function kv(key: string, type: number, value: Uint8Array): Uint8Array {
  return concat(str(key), u32(type), value);
}

export function tensorInfo(name: string, dims: (number | bigint)[], type: number, offset: number | bigint): Uint8Array {
  return concat(str(name), u32(dims.length), ...dims.map((d) => u64(BigInt.asUintN(64, BigInt(d)))), u32(type), u64(offset));
}

export interface RawGgufParts {
  magic?: Uint8Array;
  version?: number;
  nTensors?: number | bigint; // defaults to tensors.length
  nKv?: number | bigint; // defaults to kvs.length
  kvs?: Uint8Array[];
  tensors?: Uint8Array[];
  alignment?: number; // padding before the data (the file's general.alignment, if any, is up to kvs)
  data?: Uint8Array;
}

export function rawGguf(p: RawGgufParts): Uint8Array {
  const kvs = p.kvs ?? [];
  const tensors = p.tensors ?? [];
  const head = concat(
    p.magic ?? new TextEncoder().encode("GGUF"),
    u32(p.version ?? 3),
    u64(p.nTensors ?? tensors.length),
    u64(p.nKv ?? kvs.length),
    ...kvs,
    ...tensors,
  );
  const alignment = p.alignment ?? 32;
  const padded = Math.ceil(head.length / alignment) * alignment;
  return concat(head, new Uint8Array(padded - head.length), p.data ?? new Uint8Array(0));
}
