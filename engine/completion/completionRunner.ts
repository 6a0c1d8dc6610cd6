/**
 * One completion: build the prompt, take back the tail tokens that token
 * healing spells again, evaluate what the slot's cache lacks, then decode
 * greedily under the stop rules. Cancellation stops the work at
 * the next prefill chunk or decode step; `counts` says how far it got.
 */
import type { CompletionCounts, GhostlineSettings, Position } from "../protocol/protocol";
import { evalPrompt } from "../scheduler/kvReuse";
import { COMPLETION_SLOT, type LoadedModel } from "../server/modelHost";
import { cursorContext } from "./cursorContext";
import { buildFimPrompt, type PromptChunk } from "./fimPrompt";
import { StopRules } from "./stopRules";
import { HealingGreedy, healPrompt } from "./tokenHealing";

export interface CompletionInput {
  lines: readonly string[];
  position: Position;
  extra: readonly PromptChunk[];
  settings: GhostlineSettings;
}

export interface CompletionOutput {
  text: string;
  prefillMs: number;
  decodeMs: number;
}

export function emptyCounts(): CompletionCounts {
  return { reusedTokens: 0, evaluatedTokens: 0, promptTokens: 0, generatedTokens: 0, stepsAfterCancel: 0, outcome: "done", ms: 0 };
}

export async function runCompletion(m: LoadedModel, input: CompletionInput, signal: AbortSignal, counts: CompletionCounts): Promise<CompletionOutput> {
  const { model, tok } = m;
  const nCtx = model.info.nCtx;
  const nVocab = model.info.nVocab;
  // Leave room to generate; a tiny context gives a quarter of itself to the completion.
  const genTokens = Math.min(input.settings.maxTokens, Math.floor(nCtx / 4));
  const ctx = cursorContext(input.lines, input.position);
  const prompt = buildFimPrompt(tok, m.cache, m.fim, ctx, input.extra, {
    maxTokens: nCtx - genTokens,
    extraTokens: input.settings.extraContextTokens,
  });
  const healed = healPrompt(tok, prompt.tokens, prompt.tailStart);
  counts.promptTokens = healed.tokens.length;

  let cancelSeen = false;
  const onAbort = () => (cancelSeen = true);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const progress = { reused: 0, evaluated: 0 };
    let pe;
    try {
      pe = await evalPrompt(model, COMPLETION_SLOT, healed.tokens, signal, progress);
    } finally {
      counts.reusedTokens = progress.reused;
      counts.evaluatedTokens = progress.evaluated;
    }
    if (cancelSeen) counts.stepsAfterCancel++;

    const rules = new StopRules({
      // Tokens that spell the taken-back text count too: the setting bounds the work done.
      maxTokens: genTokens,
      timeBudgetMs: input.settings.timeBudgetMs,
      linePrefix: ctx.linePrefix,
      lineSuffix: ctx.lineSuffix,
      suffix: ctx.suffix,
    });
    const greedy = new HealingGreedy(tok, healed);
    const decodeStart = performance.now();
    let logits = pe.logits;
    let best: number | undefined;
    for (;;) {
      const { id, eog, text } = best !== undefined ? greedy.take(best) : greedy.step(logits, nVocab);
      const reason = rules.push(text, eog);
      counts.generatedTokens = rules.generated;
      if (reason) {
        counts.stopReason = reason;
        break;
      }
      if (model.tokens(COMPLETION_SLOT).length >= nCtx) {
        counts.stopReason = "contextFull";
        break;
      }
      // Once the taken-back text is spelled, plain argmax: the backend may return the token alone.
      const next = await model.eval(COMPLETION_SLOT, [id], { signal, argmaxOnly: !greedy.healing });
      logits = next.logits;
      best = greedy.healing ? undefined : next.argmax;
      if (cancelSeen) counts.stepsAfterCancel++;
    }
    return { text: rules.finish(), prefillMs: pe.ms, decodeMs: performance.now() - decodeStart };
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
