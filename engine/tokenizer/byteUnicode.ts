/**
 * GPT-2's byte-to-unicode table: byte-level BPE vocabularies spell every byte
 * as one printable code point. Printable Latin-1 bytes stand for themselves;
 * the other 68 bytes (controls, space, DEL, NBSP, soft hyphen...) take
 * U+0100 onwards in byte order. Space (0x20) becomes U+0120 "Ġ", newline "Ċ".
 */

function isSelfPrintable(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

/** Code point that stands for each byte. */
export const BYTE_TO_CODEPOINT: Uint16Array = (() => {
  const table = new Uint16Array(256);
  let next = 0x100;
  for (let b = 0; b < 256; b++) table[b] = isSelfPrintable(b) ? b : next++;
  return table;
})();

/** The same table as one-character strings, for building encoded words quickly. */
export const BYTE_TO_CHAR: string[] = Array.from(BYTE_TO_CODEPOINT, (cp) => String.fromCharCode(cp));

/** Byte a code point stands for, or -1 when it is not part of the table. */
export function codepointToByte(cp: number): number {
  return cp < CODEPOINT_TO_BYTE.length ? CODEPOINT_TO_BYTE[cp] : -1;
}

const CODEPOINT_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(0x144).fill(-1);
  for (let b = 0; b < 256; b++) table[BYTE_TO_CODEPOINT[b]] = b;
  return table;
})();

/**
 * Spells a piece of text in the byte alphabet: its UTF-8 bytes, one table
 * character each. Lone surrogates count as U+FFFD (see utf8.ts).
 */
export function byteEncode(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      out += BYTE_TO_CHAR[c];
      continue;
    }
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else cp = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      cp = 0xfffd;
    }
    if (cp < 0x800) {
      out += BYTE_TO_CHAR[0xc0 | (cp >> 6)] + BYTE_TO_CHAR[0x80 | (cp & 0x3f)];
    } else if (cp < 0x10000) {
      out +=
        BYTE_TO_CHAR[0xe0 | (cp >> 12)] + BYTE_TO_CHAR[0x80 | ((cp >> 6) & 0x3f)] + BYTE_TO_CHAR[0x80 | (cp & 0x3f)];
    } else {
      out +=
        BYTE_TO_CHAR[0xf0 | (cp >> 18)] +
        BYTE_TO_CHAR[0x80 | ((cp >> 12) & 0x3f)] +
        BYTE_TO_CHAR[0x80 | ((cp >> 6) & 0x3f)] +
        BYTE_TO_CHAR[0x80 | (cp & 0x3f)];
    }
  }
  return out;
}
