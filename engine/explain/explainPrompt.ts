/**
 * The Explain prompt: the model's chat format when it has one, and for base
 * models a plain document that a continuation answers (code in a fence, then
 * the start of a prose explanation).
 */
import type { Tokenizer } from "../tokenizer/tokenizer";
import type { ChatFormat, PromptPart } from "./chatTemplate";

export interface ExplainInput {
  code: string;
  languageId: string;
  fileName: string;
}

export const SYSTEM_PROMPT = "You are a concise programming assistant. Explain code clearly and briefly.";

export function explainParts(chat: ChatFormat | undefined, input: ExplainInput): { parts: PromptPart[]; style: "chat" | "plain" } {
  const fence = "```" + input.languageId + "\n" + input.code.replace(/\s+$/, "") + "\n```";
  if (chat) {
    const question = `Explain what this code from ${input.fileName} does:\n\n${fence}`;
    return { parts: chat.render(SYSTEM_PROMPT, question), style: "chat" };
  }
  const text = `The following code is from ${input.fileName}.\n\n${fence}\n\nExplanation of what the code above does, in plain words:\n\n`;
  return { parts: [{ text, special: false }], style: "plain" };
}

/** Tokens of the parts, BOS first where the vocabulary wants it. */
export function tokenizeParts(tok: Tokenizer, parts: readonly PromptPart[]): number[] {
  const out: number[] = tok.vocab.addBos && tok.special.bos !== undefined ? [tok.special.bos] : [];
  for (const p of parts) out.push(...tok.tokenize(p.text, { parseSpecial: p.special }));
  return out;
}
