/**
 * The fill-in-the-middle transformation of a training piece, in the
 * prefix-suffix-middle order DeepSeek-Coder's markers spell:
 *
 *   <BOS> <｜fim▁begin｜> prefix <｜fim▁hole｜> suffix <｜fim▁end｜> middle <EOS>
 *
 * The middle is cut at characters, and prefix, suffix and middle are
 * tokenized apart, as the completion prompt does. Most middles start at a
 * line start, because the engine's prompt puts the current line's text before
 * the cursor after <｜fim▁end｜> (see engine/completion/fimPrompt.ts); many end
 * at a line end, the single-line completion case. Such middles also carry a
 * cursor: the text before it and after it are tokenized apart, as the prompt
 * tokenizes the line up to the cursor on its own, so the model learns to
 * continue from a cursor inside a word.
 */

import { seededRandom } from "../../engine/explain/seededRandom";

// The engine's seeded generator, so a corpus build is reproducible.
export { seededRandom };

export interface FimSplit {
  prefix: string;
  middle: string;
  suffix: string;
  /** Where the middle's tokenization breaks (0: tokenized whole). */
  cursor: number;
  mode: "lines" | "line-to-char" | "chars";
}

function randInt(rand: () => number, lo: number, hiInclusive: number): number {
  return lo + Math.floor(rand() * (hiInclusive - lo + 1));
}

/** Start offset of every line of `text` (the first is 0). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0 && i + 1 <= text.length; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

/** Splits `text` into prefix, middle and suffix; undefined when the text is too short to split. */
export function fimSplit(text: string, rand: () => number): FimSplit | undefined {
  if (text.length < 8) return undefined;
  const starts = lineStarts(text);
  const lineEnd = (i: number) => (i + 1 < starts.length ? starts[i + 1] - 1 : text.length);
  // Lines with some content: the middle should rarely be empty.
  const nonBlank: number[] = [];
  for (let i = 0; i < starts.length; i++) if (text.slice(starts[i], lineEnd(i)).trim().length > 0) nonBlank.push(i);
  const r = rand();
  if (nonBlank.length > 0 && r < 0.75) {
    const first = nonBlank[randInt(rand, 0, nonBlank.length - 1)];
    const span = rand() < 0.6 ? 1 : randInt(rand, 2, 8);
    const last = Math.min(starts.length - 1, first + span - 1);
    const begin = starts[first];
    // The cursor: somewhere in the first line, or (a fifth of the time) at its start.
    const firstLength = lineEnd(first) - begin;
    const cursor = rand() < 0.2 ? 0 : randInt(rand, 0, firstLength);
    if (r < 0.55) {
      // Whole lines, the newline after the last one left in the suffix.
      const end = lineEnd(last);
      return { prefix: text.slice(0, begin), middle: text.slice(begin, end), suffix: text.slice(end), cursor, mode: "lines" };
    }
    // From a line start to a point inside the last line: text after it stays in the suffix.
    const end = randInt(rand, starts[last], lineEnd(last));
    return { prefix: text.slice(0, begin), middle: text.slice(begin, end), suffix: text.slice(end), cursor: Math.min(cursor, end - begin), mode: "line-to-char" };
  }
  let a = randInt(rand, 0, text.length);
  let b = randInt(rand, 0, text.length);
  if (a > b) [a, b] = [b, a];
  return { prefix: text.slice(0, a), middle: text.slice(a, b), suffix: text.slice(b), cursor: 0, mode: "chars" };
}

/** Cuts a file into pieces of about `minChars`..`maxChars` characters at line boundaries. */
export function splitPieces(text: string, rand: () => number, minChars: number, maxChars: number): string[] {
  const pieces: string[] = [];
  let at = 0;
  while (at < text.length) {
    const target = at + randInt(rand, minChars, maxChars);
    if (target >= text.length) {
      pieces.push(text.slice(at));
      break;
    }
    let cut = text.indexOf("\n", target);
    cut = cut < 0 ? text.length : cut + 1;
    pieces.push(text.slice(at, cut));
    at = cut;
  }
  return pieces;
}
