/**
 * One explanation in its own KV slot: prompt, then sampled tokens streamed as
 * they are decoded. Between tokens it gives the model to waiting completions.
 */
import type { ExplainSettings, StopReason } from "../protocol/protocol";
import type { Lease } from "../scheduler/modelQueue";
import { evalPrompt } from "../scheduler/kvReuse";
import { EXPLAIN_SLOT, type LoadedModel } from "../server/modelHost";
import { explainParts, tokenizeParts, type ExplainInput } from "./explainPrompt";
import { sampleToken } from "./sampler";
import { seededRandom } from "./seededRandom";

export interface ExplainOutput {
  text: string;
  tokens: number;
  style: "chat" | "plain";
  stopReason: StopReason;
  prefillTokens: number;
  prefillMs: number;
  decodeMs: number;
}

export async function runExplain(
  m: LoadedModel,
  input: ExplainInput,
  settings: ExplainSettings,
  lease: Lease,
  signal: AbortSignal,
  onDelta: (delta: string) => void,
): Promise<ExplainOutput> {
  const { model, tok } = m;
  const nCtx = model.info.nCtx;
  const { parts, style } = explainParts(m.chat, input);
  let prompt = tokenizeParts(tok, parts);
  const maxTokens = Math.min(settings.maxTokens, Math.floor(nCtx / 2));
  // A long selection keeps its end (where the question sits) and loses its beginning.
  if (prompt.length > nCtx - maxTokens) prompt = prompt.slice(prompt.length - (nCtx - maxTokens));
  const pe = await evalPrompt(model, EXPLAIN_SLOT, prompt, signal);
  const random = seededRandom(settings.seed ?? (Math.random() * 0xffffffff) >>> 0);
  const decoder = tok.createStreamDecoder();
  let text = "";
  let tokens = 0;
  let stopReason: StopReason = "maxTokens";
  let logits = pe.logits;
  const decodeStart = performance.now();
  while (tokens < maxTokens) {
    const id = sampleToken(logits, { ...settings, random }, 0, model.info.nVocab);
    if (tok.isEog(id)) {
      stopReason = "eog";
      break;
    }
    tokens++;
    const delta = decoder.push(id);
    if (delta) {
      text += delta;
      onDelta(delta);
    }
    if (tokens >= maxTokens) break;
    if (model.tokens(EXPLAIN_SLOT).length >= nCtx) {
      stopReason = "contextFull";
      break;
    }
    await lease.yieldTo(signal);
    logits = (await model.eval(EXPLAIN_SLOT, [id], { signal })).logits;
  }
  const rest = decoder.flush();
  if (rest) {
    text += rest;
    onDelta(rest);
  }
  return { text, tokens, style, stopReason, prefillTokens: pe.evaluated, prefillMs: pe.ms, decodeMs: performance.now() - decodeStart };
}
