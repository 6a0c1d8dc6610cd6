/**
 * Indentation-aware cut: a multi-line completion ends where a later line is
 * indented less than the line the cursor is on, which is where the block being
 * written closes (the model has started on the code that comes after it).
 */
import { indentOf, indentWidth } from "./linePolicy";

export interface IndentCut {
  text: string;
  cut: boolean;
}

/**
 * `text` is the completion; its first line continues the cursor's line, whose
 * indentation is `baseIndent`. Only lines whose first visible character has
 * arrived are judged; blank lines never cut.
 */
export function cutAtDedent(text: string, baseIndent: string): IndentCut {
  const base = indentWidth(baseIndent);
  const lines = text.split("\n");
  let at = lines[0].length + 1;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim().length > 0 && indentWidth(indentOf(line)) < base) {
      return { text: text.slice(0, at - 1).replace(/\s+$/, ""), cut: true };
    }
    at += line.length + 1;
  }
  return { text, cut: false };
}
