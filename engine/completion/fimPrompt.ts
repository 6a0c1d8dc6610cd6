/**
 * The completion prompt, laid out so that typing changes only its tail:
 *
 *   [BOS] extra-context [PRE] prefix-lines [SUF] rest-of-line + suffix-lines [MID] current-line-to-cursor
 *
 * the way llama-server's infill format puts the current line after the middle
 * marker. Extra context changes rarely and sits first; the prefix lines change
 * when the cursor moves to another line; each keystroke changes only the last
 * part. A model without FIM markers gets prefix-only continuation:
 *
 *   [BOS] extra-context prefix-lines current-line-to-cursor
 */
import type { Tokenizer } from "../tokenizer/tokenizer";
import { dropPrefixLines, type CursorContext } from "./cursorContext";
import { hasFim, type FimFormat } from "./fimFormat";
import type { TokenCache } from "./tokenCache";

export interface PromptChunk {
  /** A name shown before the chunk (a file path), or "". */
  name: string;
  text: string;
}

export interface PromptLimits {
  /** Most tokens the whole prompt may take (context size minus the tokens to generate). */
  maxTokens: number;
  /** Most tokens of extra context. */
  extraTokens: number;
  /** Most tokens of suffix. */
  suffixTokens?: number;
  /** Prefix lines are dropped this many at a time when the prompt is too long. */
  dropStep?: number;
}

export interface FimPrompt {
  tokens: number[];
  /** Where the tail that typing changes begins (after the middle marker, or after the prefix lines). */
  tailStart: number;
  extraChunks: number;
  prefixStartLine: number;
  fim: boolean;
}

export function buildFimPrompt(
  tok: Tokenizer,
  cache: TokenCache,
  fim: FimFormat,
  ctx: CursorContext,
  chunks: readonly PromptChunk[],
  limits: PromptLimits,
): FimPrompt {
  const bos = tok.vocab.addBos && tok.special.bos !== undefined ? [tok.special.bos] : [];
  const withFim = hasFim(fim);
  const suffixBudget = limits.suffixTokens ?? Math.floor(limits.maxTokens / 4);
  let suffix: number[] = [];
  if (withFim) {
    let lines = (ctx.lineSuffix + "\n" + ctx.suffix).split("\n");
    suffix = cache.get(lines.join("\n"));
    // Drop trailing lines until the suffix fits its share.
    while (suffix.length > suffixBudget && lines.length > 1) {
      lines = lines.slice(0, Math.max(1, Math.floor(lines.length / 2)));
      suffix = cache.get(lines.join("\n"));
    }
    if (suffix.length > suffixBudget) suffix = suffix.slice(0, suffixBudget);
  }
  const tail = cache.get(ctx.linePrefix);
  const markers = withFim ? 3 : 0;
  const fixed = bos.length + markers + suffix.length + tail.length;
  if (fixed > limits.maxTokens) {
    throw new RangeError(`the current line and suffix take ${fixed} tokens, more than the ${limits.maxTokens} the context allows`);
  }
  // Prefix lines: drop whole steps from the head until they fit.
  const step = limits.dropStep ?? 16;
  let c = ctx;
  let prefix = cache.get(c.prefix);
  while (fixed + prefix.length > limits.maxTokens && c.prefix.length > 0) {
    c = dropPrefixLines(c, step);
    prefix = cache.get(c.prefix);
  }
  // Extra context: whole chunks, in order, within both budgets.
  const room = Math.min(limits.extraTokens, limits.maxTokens - fixed - prefix.length);
  const extra: number[] = [];
  let extraChunks = 0;
  for (const chunk of chunks) {
    const ids = chunkTokens(cache, fim, chunk);
    if (extra.length + ids.length > room) break;
    extra.push(...ids);
    extraChunks++;
  }
  const tokens = withFim
    ? [...bos, ...extra, fim.pre!, ...prefix, fim.suf!, ...suffix, fim.mid!, ...tail]
    : [...bos, ...extra, ...prefix, ...tail];
  return { tokens, tailStart: tokens.length - tail.length, extraChunks, prefixStartLine: c.prefixStartLine, fim: withFim };
}

/** The tokens one extra-context chunk takes in the prompt. */
export function chunkTokens(cache: TokenCache, fim: FimFormat, chunk: PromptChunk): number[] {
  const body = cache.get((chunk.name ? chunk.name + "\n" : "") + chunk.text + "\n\n");
  return fim.fileSep !== undefined ? [fim.fileSep, ...body] : body;
}
