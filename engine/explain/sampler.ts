/**
 * Sampling for Explain: top-k, then temperature, then top-p (nucleus) over
 * what is left, the order llama.cpp's common sampler applies them in.
 * Temperature 0 is greedy.
 */
import { argmax } from "../model/greedy";

export interface SamplerOptions {
  temperature: number;
  /** 0: keep every token. */
  topK: number;
  /** 1: no nucleus cut. */
  topP: number;
  /** Uniform numbers in [0, 1). */
  random: () => number;
}

export function sampleToken(logits: Float32Array, opts: SamplerOptions, offset = 0, nVocab = logits.length - offset): number {
  if (opts.temperature <= 0) return argmax(logits, offset, nVocab);
  const k = opts.topK > 0 ? Math.min(opts.topK, nVocab) : nVocab;
  const ids = topIndices(logits, offset, nVocab, k);
  const maxLogit = logits[offset + ids[0]];
  const probs = ids.map((id) => Math.exp((logits[offset + id] - maxLogit) / opts.temperature));
  const sum = probs.reduce((a, b) => a + b, 0);
  // Keep the smallest head whose probability reaches topP.
  let keep = probs.length;
  if (opts.topP < 1) {
    let acc = 0;
    for (let i = 0; i < probs.length; i++) {
      acc += probs[i] / sum;
      if (acc >= opts.topP) {
        keep = i + 1;
        break;
      }
    }
  }
  let total = 0;
  for (let i = 0; i < keep; i++) total += probs[i];
  let r = opts.random() * total;
  for (let i = 0; i < keep; i++) {
    r -= probs[i];
    if (r < 0) return ids[i];
  }
  return ids[keep - 1];
}

/** The `k` ids of the largest logits, largest first. */
export function topIndices(logits: Float32Array, offset: number, n: number, k: number): number[] {
  if (k >= n) {
    const all = Array.from({ length: n }, (_, i) => i);
    return all.sort((a, b) => logits[offset + b] - logits[offset + a]);
  }
  // A sorted list of the best k so far: cheap for the small k sampling uses.
  const best: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = logits[offset + i];
    if (best.length === k && v <= logits[offset + best[k - 1]]) continue;
    let at = best.length;
    while (at > 0 && logits[offset + best[at - 1]] < v) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}
