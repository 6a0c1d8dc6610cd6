/**
 * Prefix reuse in a KV slot: the slot keeps the tokens it has evaluated; a new
 * prompt keeps the longest common prefix and evaluates only the rest.
 */
import type { LocalModel } from "../model/localModel";

export interface PromptEval {
  /** Logits after the last prompt token. */
  logits: Float32Array;
  reused: number;
  evaluated: number;
  ms: number;
}

export function commonPrefixLength(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * Brings `slot` to hold exactly `prompt` and returns the logits after it.
 * When the slot already holds the whole prompt, its last token is evaluated
 * again, since the logits are not kept.
 */
export async function evalPrompt(
  model: LocalModel,
  slot: number,
  prompt: readonly number[],
  signal?: AbortSignal,
  progress?: { reused: number; evaluated: number },
): Promise<PromptEval> {
  if (prompt.length === 0) throw new RangeError("Expected a prompt of at least one token");
  if (prompt.length > model.info.nCtx) {
    throw new RangeError(`the prompt takes ${prompt.length} tokens, more than the context size ${model.info.nCtx}`);
  }
  let keep = commonPrefixLength(model.tokens(slot), prompt);
  if (keep === prompt.length) keep--;
  model.truncate(slot, keep);
  const started = performance.now();
  if (progress) progress.reused = keep;
  let result;
  try {
    result = await model.eval(slot, prompt.slice(keep), { signal });
  } finally {
    // A cancelled prefill keeps the chunks that completed.
    if (progress) progress.evaluated = model.tokens(slot).length - keep;
  }
  const evaluated = prompt.length - keep;
  return { logits: result.logits, reused: keep, evaluated, ms: performance.now() - started };
}
