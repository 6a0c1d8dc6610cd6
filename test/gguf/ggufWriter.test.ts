import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GgmlType, GgufValueType } from "../../engine/gguf/ggufFormat";
import { parseGgufHeader, readGgufHeader, type GgufArray } from "../../engine/gguf/ggufReader";
import { readTensorAsFloat64 } from "../../engine/gguf/ggufTensorData";
import { GgufWriter } from "../../engine/gguf/ggufWriter";
import { bf16BitsToF32, encodeBf16, encodeF16, encodeF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, quantizeQ8_0, dequantizeQ8_0 } from "../../engine/gguf/quantize";

const integerOf = (v: bigint) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
const dir = mkdtempSync(path.join(os.tmpdir(), "ghostline-writer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("GGUF writer and reader round trip", () => {
  it("keeps every scalar value type, with its type", () => {
    const w = new GgufWriter()
      .addU8("u8", 255)
      .addI8("i8", -128)
      .addU16("u16", 65535)
      .addI16("i16", -32768)
      .addU32("u32", 4294967295)
      .addI32("i32", -2147483648)
      .addU64("u64.small", 12345)
      .addU64("u64.big", 0xffffffffffffffffn)
      .addI64("i64", -(1n << 62n))
      .addF32("f32", 0.1)
      .addF64("f64", 0.1)
      .addBool("bool.true", true)
      .addBool("bool.false", false)
      .addString("string", "héllo ▁world 🦙")
      .addString("empty", "");
    const h = parseGgufHeader(w.toBytes(), "scalars.gguf");
    expect(h.version).toBe(3);
    expect(Object.fromEntries(h.metadata)).toEqual({
      u8: 255,
      i8: -128,
      u16: 65535,
      i16: -32768,
      u32: 4294967295,
      i32: -2147483648,
      "u64.small": 12345,
      "u64.big": 0xffffffffffffffffn,
      i64: -(1n << 62n),
      f32: Math.fround(0.1),
      f64: 0.1,
      "bool.true": true,
      "bool.false": false,
      string: "héllo ▁world 🦙",
      empty: "",
    });
    const T = GgufValueType;
    expect(Object.fromEntries(h.metadataTypes)).toEqual({
      u8: T.UINT8, i8: T.INT8, u16: T.UINT16, i16: T.INT16, u32: T.UINT32, i32: T.INT32,
      "u64.small": T.UINT64, "u64.big": T.UINT64, i64: T.INT64, f32: T.FLOAT32, f64: T.FLOAT64,
      "bool.true": T.BOOL, "bool.false": T.BOOL, string: T.STRING, empty: T.STRING,
    });
  });

  it("keeps arrays of every element type, including arrays of arrays", () => {
    const T = GgufValueType;
    const nested: GgufArray[] = [
      { kind: "array", elementType: T.INT32, values: Int32Array.from([1, -2]) },
      { kind: "array", elementType: T.STRING, values: ["x"] },
    ];
    const w = new GgufWriter()
      .addArray("u8", T.UINT8, [0, 255])
      .addArray("i8", T.INT8, [-128, 127])
      .addArray("u16", T.UINT16, [0, 65535])
      .addArray("i16", T.INT16, [-32768, 32767])
      .addArray("u32", T.UINT32, [0, 4294967295])
      .addArray("i32", T.INT32, new Int32Array([-5, 7]))
      .addArray("u64", T.UINT64, [0n, 0xffffffffffffffffn])
      .addArray("i64", T.INT64, [-1n, 1n << 62n])
      .addArray("f32", T.FLOAT32, new Float32Array([0.5, -1.25]))
      .addArray("f64", T.FLOAT64, [0.1, -1e300])
      .addArray("bool", T.BOOL, [true, false, true])
      .addArray("string", T.STRING, ["a", "", "▁b", "<0x0A>"])
      .addArray("empty", T.FLOAT32, [])
      .addArray("nested", T.ARRAY, nested);
    const h = parseGgufHeader(w.toBytes(), "arrays.gguf");
    const get = (k: string) => h.metadata.get(k) as GgufArray;
    expect(get("u8").values).toEqual(new Uint8Array([0, 255]));
    expect(get("i8").values).toEqual(new Int8Array([-128, 127]));
    expect(get("u16").values).toEqual(new Uint16Array([0, 65535]));
    expect(get("i16").values).toEqual(new Int16Array([-32768, 32767]));
    expect(get("u32").values).toEqual(new Uint32Array([0, 4294967295]));
    expect(get("i32").values).toEqual(new Int32Array([-5, 7]));
    expect(get("u64").values).toEqual(new BigUint64Array([0n, 0xffffffffffffffffn]));
    expect(get("i64").values).toEqual(new BigInt64Array([-1n, 1n << 62n]));
    expect(get("f32").values).toEqual(new Float32Array([0.5, -1.25]));
    expect(get("f64").values).toEqual(new Float64Array([0.1, -1e300]));
    expect(get("bool").values).toEqual([true, false, true]);
    expect(get("string").values).toEqual(["a", "", "▁b", "<0x0A>"]);
    expect(get("empty")).toEqual({ kind: "array", elementType: T.FLOAT32, values: new Float32Array(0) });
    expect(get("nested")).toEqual({ kind: "array", elementType: T.ARRAY, values: nested });
  });

  it("keeps a header of many kilobytes intact while its buffer grows", () => {
    const w = new GgufWriter();
    for (let i = 0; i < 3000; i++) {
      if (i % 3 === 0) w.addU64(`k${i}`, BigInt(i) << 40n);
      else if (i % 3 === 1) w.addF64(`k${i}`, i / 7);
      else w.addString(`k${i}`, "x".repeat(i % 50));
    }
    const h = parseGgufHeader(w.toBytes(), "big-header.gguf");
    expect(h.metadata.size).toBe(3000);
    for (let i = 0; i < 3000; i++) {
      const expected = i % 3 === 0 ? integerOf(BigInt(i) << 40n) : i % 3 === 1 ? i / 7 : "x".repeat(i % 50);
      if (h.metadata.get(`k${i}`) !== expected) throw new Error(`k${i} is ${h.metadata.get(`k${i}`)}, expected ${expected}`);
    }
  });

  it("keeps tensors of every type, values decoded exactly", () => {
    const values = Float32Array.from({ length: 64 }, (_, i) => Math.fround(Math.sin(i) * 3 + (i === 5 ? 1e-6 : 0)));
    const w = new GgufWriter()
      .addTensor("f32", [16, 4], GgmlType.F32, encodeF32(values))
      .addTensor("f16", [64], GgmlType.F16, encodeF16(values))
      .addTensor("bf16", [8, 2, 2, 2], GgmlType.BF16, encodeBf16(values))
      .addTensor("q8_0", [32, 2], GgmlType.Q8_0, quantizeQ8_0(values))
      .addTensor("q4_0", [32], 2, new Uint8Array(18)); // a type we only carry
    const bytes = w.toBytes();
    const h = parseGgufHeader(bytes, "tensors.gguf");
    expect(h.tensors.map((t) => [t.name, t.dims, t.type, t.byteLength])).toEqual([
      ["f32", [16, 4], GgmlType.F32, 256],
      ["f16", [64], GgmlType.F16, 128],
      ["bf16", [8, 2, 2, 2], GgmlType.BF16, 128],
      ["q8_0", [32, 2], GgmlType.Q8_0, 68],
      ["q4_0", [32], 2, 0],
    ]);
    for (const t of h.tensors) expect(t.offset % 32).toBe(0);
    expect(Array.from(readTensorAsFloat64(bytes, h, "f32"))).toEqual(Array.from(values));
    expect(Array.from(readTensorAsFloat64(bytes, h, "f16"))).toEqual(Array.from(values, (v) => f16BitsToF32(f32ToF16Bits(v))));
    expect(Array.from(readTensorAsFloat64(bytes, h, "bf16"))).toEqual(Array.from(values, (v) => bf16BitsToF32(f32ToBf16Bits(v))));
    expect(Array.from(readTensorAsFloat64(bytes, h, "q8_0"))).toEqual(Array.from(dequantizeQ8_0(quantizeQ8_0(values), 64)));
    expect(() => readTensorAsFloat64(bytes, h, "q4_0")).toThrow('tensors.gguf: tensor "q4_0" has type ggml type 2, which cannot be read');
    expect(() => readTensorAsFloat64(bytes, h, "nope")).toThrow('tensors.gguf: tensor "nope" is missing');
  });

  it("honours general.alignment for the data section and every tensor", () => {
    const w = new GgufWriter()
      .addU32("general.alignment", 256)
      .addTensor("a", [3], GgmlType.F32, encodeF32([1, 2, 3]))
      .addTensor("b", [5], GgmlType.F16, encodeF16([1, 2, 3, 4, 5]));
    const bytes = w.toBytes();
    const h = parseGgufHeader(bytes, "aligned.gguf");
    expect(h.alignment).toBe(256);
    expect(h.dataOffset % 256).toBe(0);
    expect(h.tensors.map((t) => (t.offset - h.dataOffset) % 256)).toEqual([0, 0]);
    expect(h.tensors[1].offset - h.tensors[0].offset).toBe(256);
    expect(Array.from(readTensorAsFloat64(bytes, h, "b"))).toEqual([1, 2, 3, 4, 5]);
  });

  it("streams lazily produced tensors to the same bytes toBytes gives, producing each once", async () => {
    const calls: string[] = [];
    const w = new GgufWriter().addString("general.architecture", "llama");
    for (const [name, n] of [["x", 96], ["y", 7], ["z", 64]] as const) {
      const type = n % 32 === 0 ? GgmlType.Q8_0 : GgmlType.F32;
      const data = Float32Array.from({ length: n }, (_, i) => i - n / 3);
      const bytes = type === GgmlType.Q8_0 ? quantizeQ8_0(data) : encodeF32(data);
      w.addTensor(name, [n], type, bytes.length, () => {
        calls.push(name);
        return bytes;
      });
    }
    const file = path.join(dir, "lazy.gguf");
    await w.writeFile(file);
    expect(calls).toEqual(["x", "y", "z"]);
    expect(new Uint8Array(readFileSync(file))).toEqual(w.toBytes());
    expect(w.fileSize()).toBe(readFileSync(file).length);
    const h = await readGgufHeader(file);
    expect(h.tensors.map((t) => t.name)).toEqual(["x", "y", "z"]);
    expect(Array.from(readTensorAsFloat64(file, h, "y"))).toEqual(Array.from({ length: 7 }, (_, i) => Math.fround(i - 7 / 3)));
  });

  it("accepts files that say version 2", () => {
    const bytes = new GgufWriter().addString("general.name", "v2").addTensor("t", [2], GgmlType.F32, encodeF32([1, 2])).toBytes();
    bytes[4] = 2;
    const h = parseGgufHeader(bytes, "v2.gguf");
    expect(h.version).toBe(2);
    expect(Array.from(readTensorAsFloat64(bytes, h, "t"))).toEqual([1, 2]);
  });
});

describe("GGUF writer refusals", () => {
  it("refuses values that do not fit their type", () => {
    expect(() => new GgufWriter().addU8("k", 256)).toThrow('GGUF key "k": 256 does not fit uint8');
    expect(() => new GgufWriter().addI32("k", 1.5)).toThrow('GGUF key "k": 1.5 is not an integer (int32)');
    expect(() => new GgufWriter().addArray("k", GgufValueType.UINT16, [1, -1])).toThrow('GGUF key "k": -1 does not fit uint16');
  });

  it("refuses a key or tensor added twice", () => {
    expect(() => new GgufWriter().addU32("k", 1).addU32("k", 2)).toThrow('GGUF key "k" was added twice');
    const data = encodeF32([1]);
    expect(() => new GgufWriter().addTensor("t", [1], GgmlType.F32, data).addTensor("t", [1], GgmlType.F32, data)).toThrow(
      'GGUF tensor "t" was added twice',
    );
  });

  it("refuses tensor data of the wrong size, given or produced", async () => {
    expect(() => new GgufWriter().addTensor("t", [4], GgmlType.F32, new Uint8Array(12))).toThrow(
      'GGUF tensor "t": 12 bytes given, F32 [4] needs 16',
    );
    expect(() => new GgufWriter().addTensor("q", [48], GgmlType.Q8_0, new Uint8Array(51))).toThrow(/rows of 48 Q8_0 values are not a multiple of 32/);
    const w = new GgufWriter().addTensor("t", [4], GgmlType.F32, 16, () => new Uint8Array(8));
    expect(() => w.toBytes()).toThrow('GGUF tensor "t": produced 8 bytes, expected 16');
    await expect(w.writeFile(path.join(dir, "bad.gguf"))).rejects.toThrow('GGUF tensor "t": produced 8 bytes, expected 16');
  });

  it("refuses an alignment that is not a power of two", () => {
    expect(() => new GgufWriter().addU32("general.alignment", 24).toBytes()).toThrow(/general\.alignment" must be a uint32 power of two/);
  });
});
