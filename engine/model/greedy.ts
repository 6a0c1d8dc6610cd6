/** Greedy decoding: the deterministic default for completions. */
import type { LocalModel } from "./localModel";

export function argmax(logits: Float32Array, offset = 0, n = logits.length - offset): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = logits[offset + i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

export interface GreedyOptions {
  maxTokens: number;
  slot?: number;
  /** Ids that end generation (not included in the output). */
  stopTokens?: ReadonlySet<number>;
  signal?: AbortSignal;
  onToken?: (id: number) => void;
}

/**
 * Evaluates `prompt` in a cleared slot, then picks the most likely token
 * maxTokens times (or until a stop token), feeding each back in.
 */
export async function generateGreedy(model: LocalModel, prompt: ArrayLike<number>, options: GreedyOptions): Promise<number[]> {
  const slot = options.slot ?? 0;
  model.truncate(slot, 0);
  const out: number[] = [];
  // Only the next token is needed: a GPU backend then reads back its id instead of every score.
  let result = await model.eval(slot, prompt, { signal: options.signal, argmaxOnly: true });
  while (out.length < options.maxTokens) {
    const next = result.argmax!;
    if (options.stopTokens?.has(next)) break;
    out.push(next);
    options.onToken?.(next);
    if (out.length === options.maxTokens) break;
    result = await model.eval(slot, [next], { signal: options.signal, argmaxOnly: true });
  }
  return out;
}
