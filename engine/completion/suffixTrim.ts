/**
 * Trimming of completion text that repeats what already follows the cursor:
 * a closing bracket the line already has, or lines the suffix starts with.
 */

/**
 * Single-line completions: drops the end of `text` that repeats the start of
 * the rest of the line (ignoring the whitespace before it), so completing
 * `foo(|)` with `a, b)` inserts `a, b`.
 */
export function trimLineSuffixOverlap(text: string, lineSuffix: string): string {
  const rest = lineSuffix.trimStart().trimEnd();
  if (rest.length === 0) return text;
  for (let k = Math.min(rest.length, text.length); k > 0; k--) {
    if (text.endsWith(rest.slice(0, k))) return text.slice(0, text.length - k).trimEnd();
  }
  return text;
}

/** The first line of `suffix` with something on it, trimmed, or "". */
export function firstSuffixLine(suffix: string): string {
  for (const line of suffix.split("\n")) if (line.trim().length > 0) return line.trim();
  return "";
}

/**
 * Multi-line completions: drops the trailing lines of `text` that repeat the
 * first lines of `suffix` (compared trimmed), then trailing blank lines.
 */
export function trimSuffixLines(text: string, suffix: string): string {
  const lines = text.split("\n");
  const next = suffix.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  if (next.length > 0) {
    // The longest run of text lines ending the completion that equals the suffix's first lines.
    for (let n = Math.min(lines.length - 1, next.length); n > 0; n--) {
      const tail = lines.slice(lines.length - n).map((l) => l.trim());
      if (tail.every((l, i) => l === next[i])) {
        lines.length -= n;
        break;
      }
    }
  }
  return lines.join("\n").replace(/\s+$/, "");
}
