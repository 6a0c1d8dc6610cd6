/**
 * Hand-written equivalents of the hottest pre-tokenizer regexes (gpt2, llama3,
 * qwen2, and the single-class passes of deepseek-coder and starcoder). They
 * scan one piece [start, end) of the text and push the cut positions inside
 * it; like llama.cpp's own hand-written splitters they read nothing past the
 * piece. Each is checked against its regex in the tests.
 *
 * Positions are UTF-16 indexes; a step over a character is 1 or 2 units.
 */
import { LETTER, NUMBER, PUNCT, SPACE, classOf } from "./charClasses";

/** A growing list of cut positions; adding the position already last is a no-op. */
export class Cuts {
  buf = new Int32Array(1024);
  n = 0;

  add(p: number): void {
    if (this.n > 0 && this.buf[this.n - 1] === p) return;
    if (this.n === this.buf.length) {
      const bigger = new Int32Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = p;
  }

  get last(): number {
    return this.n > 0 ? this.buf[this.n - 1] : -1;
  }
}

export type Splitter = (text: string, start: number, end: number, cuts: Cuts) => void;

/** Code point at i (a lone surrogate stands for itself). */
function cpAt(t: string, i: number, end: number): number {
  const c = t.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
    const d = t.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
  }
  return c;
}

function width(cp: number): number {
  return cp > 0xffff ? 2 : 1;
}

/** Class of the character at i, or 0 past the end of the piece. */
function clsAt(t: string, i: number, end: number): number {
  return i < end ? classOf(cpAt(t, i, end)) : 0;
}

function skipClass(t: string, i: number, end: number, mask: number): number {
  while (i < end) {
    const cp = cpAt(t, i, end);
    if ((classOf(cp) & mask) === 0) break;
    i += width(cp);
  }
  return i;
}

/** Skips characters that are neither whitespace, letter nor number. */
function skipOther(t: string, i: number, end: number): number {
  while (i < end) {
    const cp = cpAt(t, i, end);
    if (classOf(cp) & (SPACE | LETTER | NUMBER)) break;
    i += width(cp);
  }
  return i;
}

function cut(cuts: Cuts, p: number): void {
  cuts.add(p);
}

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

/** Length of a contraction ('s 't 're 've 'm 'll 'd) at i, or 0. */
function contraction(t: string, i: number, end: number, caseless: boolean): number {
  if (t.charCodeAt(i) !== 0x27 || i + 1 >= end) return 0;
  const n1 = caseless ? lower(t.charCodeAt(i + 1)) : t.charCodeAt(i + 1);
  if (n1 === 0x73 || n1 === 0x74 || n1 === 0x6d || n1 === 0x64) return 2;
  if (i + 2 >= end) return 0;
  const n2 = caseless ? lower(t.charCodeAt(i + 2)) : t.charCodeAt(i + 2);
  if ((n1 === 0x72 && n2 === 0x65) || (n1 === 0x76 && n2 === 0x65) || (n1 === 0x6c && n2 === 0x6c)) return 3;
  return 0;
}

/** Whitespace run from i: its end, and the end of its last \r or \n (0 if none). */
function spaceRun(t: string, i: number, end: number): [number, number] {
  let lastNl = 0;
  while (i < end) {
    const c = t.charCodeAt(i);
    if (!(classOf(c) & SPACE)) break;
    i++;
    if (c === 0x0a || c === 0x0d) lastNl = i;
  }
  return [i, lastNl];
}

/** 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
export const splitGpt2: Splitter = (t, start, end, cuts) => {
  let pos = start;
  while (pos < end) {
    const k = contraction(t, pos, end, false);
    if (k > 0) {
      pos += k;
      cut(cuts, pos);
      continue;
    }
    const q = t.charCodeAt(pos) === 0x20 ? pos + 1 : pos;
    const f = clsAt(t, q, end);
    if (f & LETTER) pos = skipClass(t, q, end, LETTER);
    else if (f & NUMBER) pos = skipClass(t, q, end, NUMBER);
    else if (q < end && !(f & (SPACE | LETTER | NUMBER))) pos = skipOther(t, q, end);
    else {
      const [runEnd] = spaceRun(t, pos, end);
      const n = runEnd - pos;
      if (n > 1 && runEnd < end) pos = runEnd - 1;
      else if (n > 0) pos = runEnd;
      else pos += width(cpAt(t, pos, end));
    }
    cut(cuts, pos);
  }
};

/**
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * with D = 3 (llama3) or 1 (qwen2).
 */
function makeLlama3(maxDigits: number): Splitter {
  return (t, start, end, cuts) => {
    let pos = start;
    while (pos < end) {
      const k = contraction(t, pos, end, true);
      if (k > 0) {
        pos += k;
        cut(cuts, pos);
        continue;
      }
      const cp = cpAt(t, pos, end);
      const w = width(cp);
      const f = classOf(cp);
      if (!(cp === 0x0d || cp === 0x0a || f & NUMBER)) {
        if (f & LETTER || clsAt(t, pos + w, end) & LETTER) {
          pos = skipClass(t, pos + w, end, LETTER);
          cut(cuts, pos);
          continue;
        }
      }
      if (f & NUMBER) {
        let n = 0;
        while (pos < end) {
          const c2 = cpAt(t, pos, end);
          if (!(classOf(c2) & NUMBER)) break;
          pos += width(c2);
          if (++n === maxDigits) {
            cut(cuts, pos);
            n = 0;
          }
        }
        cut(cuts, pos);
        continue;
      }
      const q = cp === 0x20 ? pos + 1 : pos;
      const f2 = cp === 0x20 ? clsAt(t, q, end) : f;
      if (q >= end || !(f2 & (SPACE | LETTER | NUMBER))) {
        pos = skipOther(t, q, end);
        while (pos < end && (t.charCodeAt(pos) === 0x0d || t.charCodeAt(pos) === 0x0a)) pos++;
        cut(cuts, pos);
        continue;
      }
      const [runEnd, lastNl] = spaceRun(t, pos, end);
      const n = runEnd - pos;
      if (lastNl > 0) pos = lastNl;
      else if (n > 1 && runEnd < end) pos = runEnd - 1;
      else if (n > 0) pos = runEnd;
      else pos += w;
      cut(cuts, pos);
    }
  };
}

export const splitLlama3 = makeLlama3(3);
export const splitQwen2 = makeLlama3(1);

/** [\r\n]: every CR and LF on its own. */
export const splitNewlines: Splitter = (t, start, end, cuts) => {
  for (let i = start; i < end; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) {
      cut(cuts, i);
      cut(cuts, i + 1);
    }
  }
};

/** \s?C+ for a class C (letters or punctuation). */
function makeSpaceThenRun(mask: number): Splitter {
  return (t, start, end, cuts) => {
    let i = start;
    while (i < end) {
      const cp = cpAt(t, i, end);
      const f = classOf(cp);
      const w = width(cp);
      let s = -1;
      if (f & mask) s = i;
      else if (f & SPACE && clsAt(t, i + w, end) & mask) s = i;
      if (s < 0) {
        i += w;
        continue;
      }
      const e = skipClass(t, f & mask ? i : i + w, end, mask);
      cut(cuts, s);
      cut(cuts, e);
      i = e;
    }
  };
}

export const splitSpaceLetters = makeSpaceThenRun(LETTER);
export const splitSpacePunct = makeSpaceThenRun(PUNCT);

/** \p{N}: every number character on its own. */
export const splitEachNumber: Splitter = (t, start, end, cuts) => {
  let i = start;
  while (i < end) {
    const cp = cpAt(t, i, end);
    const w = width(cp);
    if (classOf(cp) & NUMBER) {
      cut(cuts, i);
      cut(cuts, i + w);
    }
    i += w;
  }
};

/** [一-龥ࠀ-一가-퟿]+ (U+0800..U+9FA5 and U+AC00..U+D7FF). */
export const splitCjkHangul: Splitter = (t, start, end, cuts) => {
  let i = start;
  const inRange = (c: number) => (c >= 0x800 && c <= 0x9fa5) || (c >= 0xac00 && c <= 0xd7ff);
  while (i < end) {
    if (!inRange(t.charCodeAt(i))) {
      i++;
      continue;
    }
    const s = i;
    while (i < end && inRange(t.charCodeAt(i))) i++;
    cut(cuts, s);
    cut(cuts, i);
  }
};
