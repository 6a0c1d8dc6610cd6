/**
 * The texts of the engine's suggestions as the editor should show them:
 * the multi-line policy applied, empty and duplicate alternatives dropped.
 */
import type { MultiLinePolicy } from "./configuration";

export function shapeSuggestions(texts: string[], policy: MultiLinePolicy): string[] {
  const out: string[] = [];
  for (const t of texts) {
    let text = t;
    if (policy === "singleLine") {
      const nl = text.search(/\r?\n/);
      if (nl >= 0) text = text.slice(0, nl);
    }
    if (text.trim().length === 0) continue;
    if (!out.includes(text)) out.push(text);
  }
  return out;
}
