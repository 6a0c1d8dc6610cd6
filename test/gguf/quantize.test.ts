import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GgmlType, Q8_0_BLOCK_BYTES } from "../../engine/gguf/ggufFormat";
import { parseGgufHeader } from "../../engine/gguf/ggufReader";
import { readTensorAsFloat64, readTensorBytes } from "../../engine/gguf/ggufTensorData";
import { bf16BitsToF32, dequantizeQ8_0, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, quantizeQ8_0 } from "../../engine/gguf/quantize";
import { STORIES_F32, STORIES_Q8_0 } from "../reference/testdata";

const isNaNHalf = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe("IEEE half conversion", () => {
  it("maps every non-NaN half to a float and back to the same bits", () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if (!isNaNHalf(h) && f32ToF16Bits(f16BitsToF32(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it("decodes the landmarks: one, the largest, the smallest subnormal, infinity", () => {
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
  });

  it("rounds halfway cases to the even neighbour, in normals and subnormals", () => {
    const ulpAt1 = 2 ** -10;
    expect(f32ToF16Bits(1 + ulpAt1 / 2)).toBe(0x3c00); // tie, 0x3c00 is even
    expect(f32ToF16Bits(1 + (3 * ulpAt1) / 2)).toBe(0x3c02); // tie, rounds up to even
    expect(f32ToF16Bits(1 + ulpAt1 / 2 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // half the smallest subnormal: tie to zero
    expect(f32ToF16Bits(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 subnormal units: tie to 2
    expect(f32ToF16Bits(-5 * 2 ** -25)).toBe(0x8002); // 2.5 units: tie to 2
    expect(f32ToF16Bits(2 ** -14 - 2 ** -26)).toBe(0x0400); // rounds up into the smallest normal
  });

  it("overflows to infinity past the largest half, and keeps NaN a NaN", () => {
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // tie between 65504 and 65536 goes to the even (infinite) one
    expect(f32ToF16Bits(1e10)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(isNaNHalf(f32ToF16Bits(NaN))).toBe(true);
    expect(f32ToF16Bits(1e-30)).toBe(0);
  });
});

describe("bfloat16 conversion", () => {
  it("maps every non-NaN bfloat16 to a float and back to the same bits", () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const isNaN = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
      if (!isNaN && f32ToBf16Bits(bf16BitsToF32(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it("rounds halfway cases to even and keeps NaN quiet", () => {
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie, even below
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, even above
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
  });
});

describe("Q8_0 quantization", () => {
  it("scales each block by amax / 127 and rounds ties away from zero", () => {
    const x = new Float32Array(32);
    x[0] = 127; // d = 1, so the values are their own quants
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = 0.49;
    x[4] = -127;
    x[5] = 63.5;
    const block = quantizeQ8_0(x);
    expect(block.length).toBe(Q8_0_BLOCK_BYTES);
    expect(block[0] | (block[1] << 8)).toBe(0x3c00); // d = 1.0 as half
    const q = new Int8Array(block.buffer, 2, 32);
    expect(Array.from(q.subarray(0, 6))).toEqual([127, 3, -3, 0, -127, 64]);
  });

  it("writes a zero scale and zero quants for an all-zero block", () => {
    const block = quantizeQ8_0(new Float32Array(32));
    expect(Array.from(block)).toEqual(new Array(34).fill(0));
  });

  it("dequantizes to within half a step of the input (plus the rounding of the half scale)", () => {
    const x = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
    const back = dequantizeQ8_0(quantizeQ8_0(x), x.length);
    for (let b = 0; b < 8; b++) {
      const block = x.subarray(b * 32, b * 32 + 32);
      const step = Math.max(...Array.from(block, Math.abs)) / 127;
      // The scale is stored as a half (relative error up to 2^-11) and multiplies quants up to 127.
      const bound = step * (0.5 + 127 * 2 ** -11);
      let worst = 0;
      for (let j = 0; j < 32; j++) worst = Math.max(worst, Math.abs(back[b * 32 + j] - block[j]));
      expect(worst).toBeLessThanOrEqual(bound);
    }
  });

  it("refuses a length that is not a multiple of 32", () => {
    expect(() => quantizeQ8_0(new Float32Array(33))).toThrow(/multiple of 32/);
  });

  it("reproduces llama-quantize's blocks for every Q8_0 tensor of stories260K", () => {
    const f32Bytes = new Uint8Array(readFileSync(STORIES_F32));
    const q8Bytes = new Uint8Array(readFileSync(STORIES_Q8_0));
    const f32 = parseGgufHeader(f32Bytes, STORIES_F32);
    const q8 = parseGgufHeader(q8Bytes, STORIES_Q8_0);
    let tensors = 0;
    let blocks = 0;
    let differingBytes = 0;
    for (const t of q8.tensors.filter((t) => t.type === GgmlType.Q8_0)) {
      const ours = quantizeQ8_0(readTensorAsFloat64(f32Bytes, f32, t.name));
      const theirs = readTensorBytes(q8Bytes, q8, t.name);
      expect(ours.length).toBe(theirs.length);
      for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) differingBytes++;
      tensors++;
      blocks += ours.length / Q8_0_BLOCK_BYTES;
    }
    console.log(`Q8_0 requantization: ${tensors} tensors, ${blocks} blocks, ${differingBytes} differing bytes`);
    expect(tensors).toBeGreaterThanOrEqual(20);
    expect(differingBytes).toBe(0);
  });

  it("reproduces llama-quantize's F16 fallback tensors (ffn_down) bit for bit", () => {
    const f32Bytes = new Uint8Array(readFileSync(STORIES_F32));
    const q8Bytes = new Uint8Array(readFileSync(STORIES_Q8_0));
    const f32 = parseGgufHeader(f32Bytes, STORIES_F32);
    const q8 = parseGgufHeader(q8Bytes, STORIES_Q8_0);
    const f16 = q8.tensors.filter((t) => t.type === GgmlType.F16);
    expect(f16.map((t) => t.name)).toContain("blk.0.ffn_down.weight");
    for (const t of f16) {
      const values = readTensorAsFloat64(f32Bytes, f32, t.name);
      const theirs = readTensorBytes(q8Bytes, q8, t.name);
      const view = new DataView(theirs.buffer, theirs.byteOffset, theirs.byteLength);
      for (let i = 0; i < values.length; i++) {
        if (f32ToF16Bits(values[i]) !== view.getUint16(2 * i, true)) throw new Error(`${t.name}[${i}] differs`);
      }
    }
  });
});
