/**
 * Token ids back to text, as llama.cpp's token_to_piece and detokenize do,
 * plus a streaming decoder for generated tokens.
 *
 * A piece is bytes, not text: a byte token or a byte-level BPE token can end
 * inside a multi-byte character. The stream decoder holds such a tail back
 * until the character is complete (or is known to be malformed, which gives
 * U+FFFD), so what it emits is always whole characters.
 */
import { codepointToByte } from "./byteUnicode";
import { TokenAttr, type Vocab } from "./vocab";
import { encodeUtf8, pushUtf8 } from "./utf8";

const EMPTY = new Uint8Array(0);

export interface DetokenizeOptions {
  /** Drop a leading BOS and a trailing EOS where the vocabulary adds them (llama.cpp's remove_special). */
  removeSpecial?: boolean;
  /** Render control tokens as their text instead of nothing (llama.cpp's unparse_special). */
  unparseSpecial?: boolean;
}

export class Detokenizer {
  private pieces: (Uint8Array | undefined)[];

  constructor(private readonly vocab: Vocab) {
    this.pieces = new Array(vocab.tokens.length);
  }

  /** The bytes of one token. Control and unknown tokens are empty unless `special`. */
  piece(id: number, special = false): Uint8Array {
    const vocab = this.vocab;
    if (!Number.isInteger(id) || id < 0 || id >= vocab.tokens.length) {
      throw new Error(`${vocab.source}: token id ${id} is outside the vocabulary (0..${vocab.tokens.length - 1})`);
    }
    const attr = vocab.attrs[id];
    if (!special && attr & (TokenAttr.UNKNOWN | TokenAttr.CONTROL)) return EMPTY;
    let p = this.pieces[id];
    if (p === undefined) {
      p = this.render(id, attr);
      this.pieces[id] = p;
    }
    return p;
  }

  private render(id: number, attr: number): Uint8Array {
    const vocab = this.vocab;
    const text = vocab.tokens[id];
    if (attr & (TokenAttr.UNKNOWN | TokenAttr.CONTROL | TokenAttr.USER_DEFINED)) return encodeUtf8(text);
    if (attr & TokenAttr.NORMAL) {
      if (vocab.kind === "spm") return encodeUtf8(text.replaceAll("\u2581", " "));
      return byteDecode(text);
    }
    if (attr & TokenAttr.BYTE) return Uint8Array.of(parseInt(text.slice(3, 5), 16) & 0xff);
    return EMPTY;
  }

  /** The bytes of a sequence, with llama.cpp's leading-space and clean-up rules. */
  detokenizeBytes(ids: ArrayLike<number>, opts: DetokenizeOptions = {}): Uint8Array {
    const vocab = this.vocab;
    let first = 0;
    let end = ids.length;
    // The space SentencePiece put before the first word is not part of the text.
    let removeSpace = vocab.addSpacePrefix;
    if (opts.removeSpecial && vocab.addBos && end > 0 && ids[0] === vocab.special.bos) {
      removeSpace = false;
      first = 1;
    }
    if (opts.removeSpecial && vocab.addEos && end > first && ids[end - 1] === vocab.special.eos) end--;
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = first; i < end; i++) {
      let p = this.piece(ids[i], opts.unparseSpecial ?? false);
      if (removeSpace && p.length > 0 && p[0] === 0x20) p = p.subarray(1);
      removeSpace = false;
      parts.push(p);
      total += p.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return vocab.cleanSpaces ? cleanUpSpaces(out) : out;
  }

  /** Text of a sequence; malformed UTF-8 (a lone byte token, say) shows as U+FFFD. */
  detokenize(ids: ArrayLike<number>, opts: DetokenizeOptions = {}): string {
    return new TextDecoder().decode(this.detokenizeBytes(ids, opts));
  }
}

/** Byte-level BPE token text to bytes; characters outside the byte alphabet are written out as llama.cpp does. */
function byteDecode(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const cp = text.codePointAt(i)!;
    if (cp > 0xffff) i++;
    const b = codepointToByte(cp);
    if (b >= 0) {
      out.push(b);
      continue;
    }
    const utf: number[] = [];
    pushUtf8(utf, cp);
    const marker = `[UNK_BYTE_0x${utf.map((x) => x.toString(16).padStart(2, "0")).join("")}${text}]`;
    for (const x of encodeUtf8(marker)) out.push(x);
  }
  return Uint8Array.from(out);
}

/**
 * clean_up_tokenization_spaces, byte for byte as llama.cpp does it: " ?", " !",
 * " .", " ," lose their space; " ' " loses both; " 's", " 'm", " 're", " 've"
 * lose their space.
 */
export function cleanUpSpaces(input: Uint8Array): Uint8Array {
  const SP = 0x20;
  const Q = 0x27;
  let t = Array.from(input);
  // Pass 1: space before ? ! . ,
  {
    const out: number[] = t.length ? [t[0]] : [];
    for (let i = 1; i < t.length; i++) {
      const x = t[i];
      if (t[i - 1] === SP && (x === 0x3f || x === 0x21 || x === 0x2e || x === 0x2c)) out.pop();
      out.push(x);
    }
    t = out;
  }
  // Pass 2: a lone apostrophe between spaces loses both spaces.
  {
    const out: number[] = t.length ? [t[0]] : [];
    for (let i = 1; i < t.length; i++) {
      const x = t[i];
      if (x === Q && i + 1 < t.length && t[i - 1] === SP && t[i + 1] === SP) {
        out.pop();
        t[++i] = 0;
        out.push(x);
        continue;
      }
      out.push(x);
    }
    t = out;
  }
  // Pass 3: contractions.
  {
    const out: number[] = t.length ? [t[0]] : [];
    for (let i = 1; i < t.length; i++) {
      const x = t[i];
      if (t[i - 1] === SP && x === Q && i + 1 < t.length) {
        const x1 = t[i + 1];
        if (x1 === 0x73 || x1 === 0x6d) out.pop(); // 's 'm
        else if (i + 2 < t.length) {
          const x2 = t[i + 2];
          if ((x1 === 0x72 && x2 === 0x65) || (x1 === 0x76 && x2 === 0x65)) out.pop(); // 're 've
        }
      }
      out.push(x);
    }
    t = out;
  }
  return Uint8Array.from(t);
}

export interface StreamDecoderOptions {
  /** Render control tokens as their text (default: they render as nothing). */
  unparseSpecial?: boolean;
  /**
   * Drop the leading space of the first piece where the vocabulary adds one
   * (SentencePiece), as detokenize does for a sequence without BOS. Off by
   * default: generated tokens continue a prompt, so their spaces are real.
   */
  stripLeadingSpace?: boolean;
}

/** Turns ids into text as they arrive, holding back incomplete UTF-8 characters. */
export class StreamDecoder {
  private readonly utf8 = new TextDecoder("utf-8");
  private first = true;

  constructor(
    private readonly detok: Detokenizer,
    private readonly vocab: Vocab,
    private readonly opts: StreamDecoderOptions = {},
  ) {}

  /** Text completed by this token (may be empty while a character is incomplete). */
  push(id: number): string {
    let p = this.detok.piece(id, this.opts.unparseSpecial ?? false);
    if (this.first) {
      if (this.opts.stripLeadingSpace && this.vocab.addSpacePrefix && p.length > 0 && p[0] === 0x20) p = p.subarray(1);
      this.first = false;
    }
    return this.pushBytes(p);
  }

  /** Feeds raw bytes; useful for callers that already hold pieces. */
  pushBytes(bytes: Uint8Array): string {
    return this.utf8.decode(bytes, { stream: true });
  }

  /** Ends the stream: a character still incomplete comes out as U+FFFD. */
  flush(): string {
    return this.utf8.decode();
  }
}
