import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadLlamaGguf, type LoadedLlama } from "./llamaFromGguf";
import { llamaForward } from "./llamaReference";
import { STORIES_F32, STORIES_Q8_0, STORIES_REFERENCE } from "./testdata";

interface ReferenceSequence {
  tokens: number[];
  [file: string]: { logits: number[][] } | number[];
}
const reference = JSON.parse(readFileSync(STORIES_REFERENCE, "utf8")) as { sequences: Record<string, ReferenceSequence> };

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Per-position ‖ours − ref‖₂ / ‖ref‖₂ and argmax agreement, as the test data README measures them. */
function compare(ours: Float64Array[], ref: number[][]) {
  const rel = ref.map((row, i) => {
    let diff = 0;
    let norm = 0;
    for (let j = 0; j < row.length; j++) {
      diff += (ours[i][j] - row[j]) ** 2;
      norm += row[j] ** 2;
    }
    return Math.sqrt(diff / norm);
  });
  const agree = ref.filter((row, i) => argmax(row) === argmax(ours[i])).length / ref.length;
  return { median: median(rel), worst: Math.max(...rel), agree };
}

// Tolerances from ../shared/testdata/README.md.
const FILES = [
  { file: STORIES_F32, median: 0.005, worst: 0.03, agree: 0.97 },
  { file: STORIES_Q8_0, median: 0.06, worst: Infinity, agree: 0.9 },
].map((f) => ({ ...f, name: path.basename(f.file) }));

describe.each(FILES)("the float64 reference on $name", ({ file, name, median: maxMedian, worst: maxWorst, agree: minAgree }) => {
  let model: LoadedLlama;
  const loaded = () => (model ??= loadLlamaGguf(file));

  it.each(Object.keys(reference.sequences))("matches llama.cpp's logits on %s", (seq) => {
    const { hp, weights } = loaded();
    const entry = reference.sequences[seq];
    const ref = (entry[name] as { logits: number[][] }).logits;
    const ours = llamaForward(hp, weights, entry.tokens);
    expect(ours.length).toBe(ref.length);
    const r = compare(ours, ref);
    console.log(`${name} ${seq}: median rel ${r.median.toFixed(5)}, worst ${r.worst.toFixed(5)}, argmax agreement ${(100 * r.agree).toFixed(1)}%`);
    expect(r.median).toBeLessThanOrEqual(maxMedian);
    expect(r.worst).toBeLessThanOrEqual(maxWorst);
    expect(r.agree).toBeGreaterThanOrEqual(minAgree);
  });
});
