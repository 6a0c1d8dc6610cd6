/**
 * Whether a completion request may be sent at all: completions on, the
 * language on, the file not too large, the engine ready. Returns the reason
 * when not, so "Why no suggestion?" can say it.
 */
import { languageEnabled } from "./configuration";
import type { SuggestionOutcome } from "./whyNoSuggestion";

export interface GateInput {
  enabled: boolean;
  enabledLanguages: Record<string, boolean>;
  languageId: string;
  /** Document length in characters (UTF-16 units, close enough to bytes for a limit). */
  length: number;
  maxFileSizeKB: number;
  /** Undefined when the engine can take requests; otherwise what it is doing instead. */
  engineProblem: string | undefined;
}

export function gateRequest(g: GateInput): SuggestionOutcome | undefined {
  if (!g.enabled) return { kind: "off" };
  if (!languageEnabled(g.enabledLanguages, g.languageId)) return { kind: "languageOff", languageId: g.languageId };
  const sizeKB = Math.ceil(g.length / 1024);
  if (sizeKB > g.maxFileSizeKB) return { kind: "fileTooLarge", sizeKB, limitKB: g.maxFileSizeKB };
  if (g.engineProblem !== undefined) return { kind: "engineNotRunning", detail: g.engineProblem };
  return undefined;
}
