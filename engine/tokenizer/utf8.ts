/**
 * UTF-8 helpers shared by the tokenizers and the detokenizer.
 *
 * Text reaches the tokenizers as a JavaScript string. Input given as bytes may
 * hold malformed UTF-8; each byte that is not part of a well-formed sequence
 * is carried in the string as a lone low surrogate U+DC80..U+DCFF (the
 * "surrogateescape" idea), so the byte survives until a tokenizer decides what
 * llama.cpp would do with it. Vocabulary texts never contain lone surrogates,
 * so an escaped byte can never match a token.
 */

const encoder = new TextEncoder();

/** Bytes of a string; lone surrogates become U+FFFD, as Node's own encoders do. */
export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Length of the UTF-8 sequence a lead byte announces, by llama.cpp's rule (high nibble only). */
export function utf8SequenceLength(leadByte: number): number {
  const hi = leadByte >> 4;
  return hi < 0xc ? 1 : hi === 0xc || hi === 0xd ? 2 : hi === 0xe ? 3 : 4;
}

const ESCAPE_BASE = 0xdc00;
const LONE_ESCAPE = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/;

/** True when the string carries at least one escaped (malformed) byte. */
export function hasEscapedBytes(text: string): boolean {
  return LONE_ESCAPE.test(text);
}

/** The escaped byte a code unit stands for, or -1 when it is an ordinary code unit. */
export function escapedByte(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 0xdc80 || c > 0xdcff) return -1;
  const prev = i > 0 ? text.charCodeAt(i - 1) : 0;
  return prev >= 0xd800 && prev <= 0xdbff ? -1 : c - ESCAPE_BASE;
}

/**
 * Turns bytes into the tokenizers' string form: well-formed sequences decode
 * normally, every other byte becomes an escape. Overlong forms and encoded
 * surrogates count as malformed (llama.cpp would decode them; they never
 * occur in text an editor produces).
 */
export function bytesToEscapedString(bytes: Uint8Array): string {
  const units: number[] = [];
  let out = "";
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i];
    let cp = -1;
    let len = 1;
    if (b < 0x80) {
      cp = b;
    } else if (b >= 0xc2 && b <= 0xdf) {
      if (i + 1 < n && (bytes[i + 1] & 0xc0) === 0x80) {
        cp = ((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
        len = 2;
      }
    } else if (b >= 0xe0 && b <= 0xef) {
      if (i + 2 < n && (bytes[i + 1] & 0xc0) === 0x80 && (bytes[i + 2] & 0xc0) === 0x80) {
        const v = ((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
        if (v >= 0x800 && (v < 0xd800 || v > 0xdfff)) {
          cp = v;
          len = 3;
        }
      }
    } else if (b >= 0xf0 && b <= 0xf4) {
      if (
        i + 3 < n &&
        (bytes[i + 1] & 0xc0) === 0x80 &&
        (bytes[i + 2] & 0xc0) === 0x80 &&
        (bytes[i + 3] & 0xc0) === 0x80
      ) {
        const v =
          ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
        if (v >= 0x10000 && v <= 0x10ffff) {
          cp = v;
          len = 4;
        }
      }
    }
    if (cp < 0) {
      units.push(ESCAPE_BASE + b);
    } else if (cp < 0x10000) {
      units.push(cp);
    } else {
      const v = cp - 0x10000;
      units.push(0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
    }
    i += len;
    if (units.length >= 8192) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return out + String.fromCharCode(...units);
}

/** Replaces lone surrogates with U+FFFD, which is what encoding the string as UTF-8 would give. */
export function wellFormed(text: string): string {
  if (!/[\uD800-\uDFFF]/.test(text)) return text;
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

/** Bytes of an escaped string: escapes give back their byte, everything else is UTF-8 encoded. */
export function escapedStringToBytes(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const eb = escapedByte(text, i);
    if (eb >= 0) {
      out.push(eb);
      continue;
    }
    let cp = text.codePointAt(i)!;
    if (cp > 0xffff) i++;
    else if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    pushUtf8(out, cp);
  }
  return Uint8Array.from(out);
}

/** Appends the UTF-8 bytes of one code point. */
export function pushUtf8(out: number[], cp: number): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
}

/** Number of UTF-8 bytes of a string without encoding it. */
export function utf8ByteLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
