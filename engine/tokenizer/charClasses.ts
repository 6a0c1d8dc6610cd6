/**
 * Unicode classes of code points, as the pre-tokenizers need them: letter
 * (\p{L}), number (\p{N}), punctuation (\p{P}) and llama.cpp's whitespace.
 * Looked up once per code point and remembered, so scanning text costs a table
 * read per character instead of a Unicode property test.
 */

export const LETTER = 1;
export const NUMBER = 2;
export const PUNCT = 4;
export const SPACE = 8;
const KNOWN = 0x80;

const IS_L = /^\p{L}$/u;
const IS_N = /^\p{N}$/u;
const IS_P = /^\p{P}$/u;
// llama.cpp's whitespace set (Unicode White_Space).
const IS_SPACE = /^[\t-\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]$/u;

const bmp = new Uint8Array(0x10000);
const astral = new Map<number, number>();

function compute(cp: number): number {
  const ch = String.fromCodePoint(cp);
  return (
    (IS_L.test(ch) ? LETTER : 0) |
    (IS_N.test(ch) ? NUMBER : 0) |
    (IS_P.test(ch) ? PUNCT : 0) |
    (IS_SPACE.test(ch) ? SPACE : 0)
  );
}

/** Class bits of a code point. Lone surrogates have none. */
export function classOf(cp: number): number {
  if (cp < 0x10000) {
    const v = bmp[cp];
    if (v !== 0) return v & ~KNOWN;
    const c = cp >= 0xd800 && cp <= 0xdfff ? 0 : compute(cp);
    bmp[cp] = c | KNOWN;
    return c;
  }
  let c = astral.get(cp);
  if (c === undefined) {
    c = compute(cp);
    astral.set(cp, c);
  }
  return c;
}
