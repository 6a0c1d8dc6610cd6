import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GgmlType, GgufValueType } from "../../engine/gguf/ggufFormat";
import { metaArray, metaBoolOr, metaNumber, metaString, parseGgufHeader, readGgufHeader } from "../../engine/gguf/ggufReader";
import { GgufWriter } from "../../engine/gguf/ggufWriter";
import { concat, kv, rawGguf, str, tensorInfo, u32, u64 } from "./rawGguf";

const NAME = "bad.gguf";
const parse = (bytes: Uint8Array) => parseGgufHeader(bytes, NAME);
const F32 = GgmlType.F32;

/** A valid file with two F32 tensors of 8 values (32 bytes each) at offsets 0 and 32. */
function twoTensors(offsets: [number | bigint, number | bigint] = [0, 32], dataBytes = 64): Uint8Array {
  return rawGguf({
    kvs: [kv("general.architecture", GgufValueType.STRING, str("llama"))],
    tensors: [tensorInfo("a", [8], F32, offsets[0]), tensorInfo("b", [8], F32, offsets[1])],
    data: new Uint8Array(dataBytes),
  });
}

describe("the GGUF reader on malformed files", () => {
  it("accepts the valid fixture the other cases break", () => {
    const h = parse(twoTensors());
    expect(h.tensors.map((t) => [t.name, t.offset - h.dataOffset, t.byteLength])).toEqual([
      ["a", 0, 32],
      ["b", 32, 32],
    ]);
  });

  it("rejects the file truncated at every byte, naming the file", () => {
    const whole = new GgufWriter()
      .addString("general.architecture", "llama")
      .addArray("tokenizer.ggml.tokens", GgufValueType.STRING, ["a", "bb", "ccc"])
      .addArray("tokenizer.ggml.scores", GgufValueType.FLOAT32, [0.5, 1, 2])
      .addU64("big", 1n << 60n)
      .addTensor("w", [32, 2], GgmlType.Q8_0, new Uint8Array(68))
      .addTensor("v", [8], GgmlType.F32, new Uint8Array(32)) // ends the file: no padding after the data
      .toBytes();
    for (let cut = 0; cut < whole.length; cut++) {
      expect(() => parse(whole.subarray(0, cut)), `cut at ${cut}`).toThrow(
        /^bad\.gguf: (file is truncated: |.* \(truncated or corrupt file\)$|tensor "[wv]" .* extends past the end of the file)/,
      );
    }
    expect(() => parse(whole)).not.toThrow();
  });

  it("says which part a truncated header was reading", () => {
    const whole = rawGguf({ kvs: [kv("general.architecture", GgufValueType.STRING, str("llama"))] });
    expect(() => parse(whole.subarray(0, 6))).toThrow("bad.gguf: file is truncated: the version needs 4 bytes at offset 4, but only 2 remain");
    const inValue = 24 + 8 + 20 + 4 + 8 + 2; // two bytes into "llama"
    expect(() => parse(whole.subarray(0, inValue))).toThrow(
      'bad.gguf: the length 5 of the value of key "general.architecture" runs past the end of the file: 2 bytes left at offset 64 (truncated or corrupt file)',
    );
  });

  it("rejects a bad magic", () => {
    expect(() => parse(rawGguf({ magic: new TextEncoder().encode("GGML") }))).toThrow(
      'bad.gguf: not a GGUF file (magic bytes 47 47 4d 4c, expected 47 47 55 46 "GGUF")',
    );
  });

  it("rejects versions other than 2 and 3", () => {
    expect(() => parse(rawGguf({ version: 1 }))).toThrow("bad.gguf: GGUF version 1 is not supported (only versions 2 and 3)");
    expect(() => parse(rawGguf({ version: 4 }))).toThrow("bad.gguf: unknown GGUF version 4 (only versions 2 and 3 are supported)");
    expect(() => parse(rawGguf({ version: 0x03000000 }))).toThrow(/looks byte-swapped: big-endian GGUF files are not supported/);
    expect(parse(rawGguf({ version: 2 })).version).toBe(2);
  });

  it("rejects huge tensor and metadata counts before allocating anything", () => {
    const t0 = performance.now();
    expect(() => parse(rawGguf({ nTensors: 1n << 62n }))).toThrow(/^bad\.gguf: the tensor count 4611686018427387904 cannot fit in the \d+ bytes left at offset 16 \(truncated or corrupt file\)$/);
    expect(() => parse(rawGguf({ nKv: 0xffffffffffffffffn }))).toThrow(/^bad\.gguf: the metadata count 18446744073709551615 cannot fit/);
    expect(() => parse(rawGguf({ nKv: 1000 }))).toThrow(/metadata count 1000 cannot fit/);
    expect(performance.now() - t0).toBeLessThan(100);
  });

  it("rejects a string length that runs past the end of the file", () => {
    const bytes = rawGguf({ nKv: 1, kvs: [concat(u64(1n << 40n), new Uint8Array(16))] });
    expect(() => parse(bytes)).toThrow(/^bad\.gguf: the length 1099511627776 of the key of metadata entry 0 runs past the end of the file/);
    const value = rawGguf({ kvs: [kv("name", GgufValueType.STRING, concat(u64(1000), new Uint8Array(4)))] });
    expect(() => parse(value)).toThrow(/the length 1000 of the value of key "name" runs past the end/);
  });

  it("rejects array counts larger than the bytes left", () => {
    const floats = rawGguf({ kvs: [kv("scores", GgufValueType.ARRAY, concat(u32(GgufValueType.FLOAT32), u64(1n << 50n)))] });
    expect(() => parse(floats)).toThrow(/^bad\.gguf: the element count of key "scores" 1125899906842624 cannot fit/);
    const strings = rawGguf({ kvs: [kv("tokens", GgufValueType.ARRAY, concat(u32(GgufValueType.STRING), u64(100), str("a")))] });
    expect(() => parse(strings)).toThrow(/element count of key "tokens" 100 cannot fit/);
    const nested = rawGguf({ kvs: [kv("nested", GgufValueType.ARRAY, concat(u32(GgufValueType.ARRAY), u64(1n << 40n)))] });
    expect(() => parse(nested)).toThrow(/element count of key "nested" \d+ cannot fit/);
  });

  it("rejects unknown value types, in values and in arrays", () => {
    expect(() => parse(rawGguf({ kvs: [kv("x", 13, u32(0))] }))).toThrow('bad.gguf: key "x" has unknown value type 13');
    const arr = rawGguf({ kvs: [kv("y", GgufValueType.ARRAY, concat(u32(99), u64(0)))] });
    expect(() => parse(arr)).toThrow('bad.gguf: the elements of key "y" has unknown value type 99');
  });

  it("rejects a bool that is neither 0 nor 1", () => {
    expect(() => parse(rawGguf({ kvs: [kv("flag", GgufValueType.BOOL, new Uint8Array([2]))] }))).toThrow(
      'bad.gguf: the value of key "flag" is a bool holding 2, expected 0 or 1',
    );
  });

  it("rejects a key that appears twice, and an empty key", () => {
    const k = kv("general.name", GgufValueType.STRING, str("x"));
    expect(() => parse(rawGguf({ kvs: [k, k] }))).toThrow('bad.gguf: key "general.name" appears twice');
    expect(() => parse(rawGguf({ kvs: [kv("", GgufValueType.UINT8, new Uint8Array([0]))] }))).toThrow("bad.gguf: metadata entry 0 has an empty key");
  });

  it("rejects an alignment that is not a uint32 power of two", () => {
    for (const a of [0, 3, 48]) {
      const bytes = rawGguf({ kvs: [kv("general.alignment", GgufValueType.UINT32, u32(a))] });
      expect(() => parse(bytes)).toThrow(`bad.gguf: key "general.alignment" is ${a}, expected a power of two`);
    }
    const wide = rawGguf({ kvs: [kv("general.alignment", GgufValueType.UINT64, u64(32))] });
    expect(() => parse(wide)).toThrow('bad.gguf: key "general.alignment" has type uint64, expected uint32');
  });

  it("rejects tensors with 0 or more than 4 dimensions, or a dimension that is not positive", () => {
    const withInfo = (info: Uint8Array) => rawGguf({ tensors: [info], data: new Uint8Array(64) });
    expect(() => parse(withInfo(tensorInfo("t", [], F32, 0)))).toThrow('bad.gguf: tensor "t" has 0 dimensions, expected 1 to 4');
    expect(() => parse(withInfo(tensorInfo("t", [1, 1, 1, 1, 1], F32, 0)))).toThrow('bad.gguf: tensor "t" has 5 dimensions, expected 1 to 4');
    expect(() => parse(withInfo(tensorInfo("t", [4, 0], F32, 0)))).toThrow('bad.gguf: tensor "t" has dimension 1 of 0, expected a positive size');
    expect(() => parse(withInfo(tensorInfo("t", [-4], F32, 0)))).toThrow('bad.gguf: tensor "t" has dimension 0 of -4, expected a positive size');
    expect(() => parse(withInfo(tensorInfo("t", [1n << 40n, 1n << 40n], F32, 0)))).toThrow('bad.gguf: tensor "t" has too many elements');
  });

  it("rejects a Q8_0 tensor whose rows do not split into blocks of 32", () => {
    const bytes = rawGguf({ tensors: [tensorInfo("q", [33, 2], GgmlType.Q8_0, 0)], data: new Uint8Array(128) });
    expect(() => parse(bytes)).toThrow('bad.gguf: tensor "q" has rows of 33 Q8_0 values, not a multiple of the block size 32');
  });

  it("rejects a misaligned tensor offset", () => {
    expect(() => parse(twoTensors([0, 36], 96))).toThrow('bad.gguf: tensor "b" has offset 36, not a multiple of the alignment 32');
  });

  it("rejects a tensor that extends past the end of the file", () => {
    expect(() => parse(twoTensors([0, 64]))).toThrow('bad.gguf: tensor "b" (offset 64, 32 bytes) extends past the end of the file (64 bytes of tensor data)');
    expect(() => parse(twoTensors([0, 1n << 60n]))).toThrow(/tensor "b" \(offset 1152921504606846976, 32 bytes\) extends past the end/);
  });

  it("rejects overlapping tensors", () => {
    const bytes = rawGguf({
      tensors: [tensorInfo("a", [16], F32, 0), tensorInfo("b", [8], F32, 32)],
      data: new Uint8Array(64),
    });
    expect(() => parse(bytes)).toThrow('bad.gguf: tensor "b" overlaps tensor "a"');
  });

  it("rejects a tensor name that appears twice", () => {
    expect(() => parse(rawGguf({ tensors: [tensorInfo("a", [8], F32, 0), tensorInfo("a", [8], F32, 32)], data: new Uint8Array(64) }))).toThrow(
      'bad.gguf: tensor "a" appears twice',
    );
  });

  it("accepts a tensor of a type it cannot size, with byteLength 0", () => {
    const h = parse(rawGguf({ tensors: [tensorInfo("q4", [32], 2, 0)], data: new Uint8Array(32) }));
    expect(h.tensors[0]).toMatchObject({ name: "q4", type: 2, byteLength: 0 });
  });

  it("checks tensor extents against the real file size when given only a prefix", () => {
    const whole = twoTensors();
    const prefixLength = whole.length - 64;
    expect(parseGgufHeader(whole.subarray(0, prefixLength), NAME, { fileSize: whole.length }).tensors).toHaveLength(2);
    expect(() => parseGgufHeader(whole.subarray(0, prefixLength), NAME, { fileSize: whole.length - 1 })).toThrow(/tensor "b" .* extends past the end/);
    expect(() => parseGgufHeader(whole.subarray(0, 40), NAME, { fileSize: whole.length })).toThrow(/^bad\.gguf: the header continues past the 40 bytes given/);
  });
});

describe("readGgufHeader on malformed files", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ghostline-gguf-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("names the file when it is truncated", async () => {
    const file = path.join(dir, "short.gguf");
    writeFileSync(file, twoTensors().subarray(0, 60));
    await expect(readGgufHeader(file)).rejects.toThrow(/^\/.*short\.gguf: the tensor count 2 cannot fit .* \(truncated or corrupt file\)$/);
  });

  it("fails fast on a hostile count in a file larger than the first read", async () => {
    const file = path.join(dir, "hostile.gguf");
    const strings = kv("tokens", GgufValueType.ARRAY, concat(u32(GgufValueType.STRING), u64(1n << 32n)));
    writeFileSync(file, concat(rawGguf({ kvs: [strings] }), new Uint8Array(3 << 20)));
    await expect(readGgufHeader(file)).rejects.toThrow(`${file}: the element count of key "tokens" 4294967296 cannot fit`);
  });
});

describe("typed metadata accessors", () => {
  const h = parse(
    new GgufWriter()
      .addString("general.name", "tiny")
      .addU32("llama.block_count", 2)
      .addBool("flag", true)
      .addU64("huge", 1n << 60n)
      .addArray("list", GgufValueType.INT32, [1, 2])
      .toBytes(),
  );

  it("return values of the right type", () => {
    expect(metaString(h, "general.name")).toBe("tiny");
    expect(metaNumber(h, "llama.block_count")).toBe(2);
    expect(metaBoolOr(h, "flag", false)).toBe(true);
    expect(metaBoolOr(h, "absent", false)).toBe(false);
    expect(Array.from(metaArray(h, "list").values as Int32Array)).toEqual([1, 2]);
  });

  it("name the file and key when a key is missing or has another type", () => {
    expect(() => metaString(h, "general.architecture")).toThrow('bad.gguf: key "general.architecture" is missing');
    expect(() => metaNumber(h, "general.name")).toThrow('bad.gguf: key "general.name" has type string, expected a number');
    expect(() => metaString(h, "llama.block_count")).toThrow('bad.gguf: key "llama.block_count" has type uint32, expected a string');
    expect(() => metaArray(h, "flag")).toThrow('bad.gguf: key "flag" has type bool, expected an array');
    expect(() => metaNumber(h, "huge")).toThrow('bad.gguf: key "huge" is 1152921504606846976, too large for a JavaScript number');
  });
});
