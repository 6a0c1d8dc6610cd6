/**
 * How many lines a completion may take: several only when nothing but
 * whitespace is right of the cursor; inside a line, only the rest of it.
 */
export function allowsMultiline(lineSuffix: string): boolean {
  return lineSuffix.trim().length === 0;
}

/** Leading whitespace of a line. */
export function indentOf(line: string): string {
  return /^[ \t]*/.exec(line)![0];
}

/** Indentation width, a tab counting as `tabSize` columns. */
export function indentWidth(indent: string, tabSize = 4): number {
  let n = 0;
  for (const ch of indent) n += ch === "\t" ? tabSize : 1;
  return n;
}
