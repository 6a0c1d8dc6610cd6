/**
 * SentencePiece-style tokenizer (`tokenizer.ggml.model = "llama"`), as llama.cpp runs it:
 * spaces become "▁", the text is cut into UTF-8 characters, and the adjacent
 * pair whose joined text is the highest-scoring token is merged again and
 * again (ties: leftmost first). Characters left that are no token fall back
 * to byte tokens <0xXX>.
 *
 * Speed: when no token has a "▁" after another character (true of Llama's
 * vocabulary), no merge can cross the start of a run of "▁", so the text is
 * cut there and each piece is tokenized once and cached.
 */
import { BinaryHeap } from "./binaryHeap";
import type { Vocab } from "./vocab";
import { escapedByte, hasEscapedBytes, utf8SequenceLength, pushUtf8 } from "./utf8";

const SPACE_MARK = "\u2581";
const SPACE_MARK_CODE = 0x2581;
const CACHE_LIMIT = 200_000;

/** A candidate merge of symbols `left` and `right`. */
interface Bigram {
  left: number;
  right: number;
  score: number;
  size: number;
}

/** Max-heap on score, then min on left index. */
const newQueue = () => new BinaryHeap<Bigram>((a, b) => a.score > b.score || (a.score === b.score && a.left < b.left));

export class SpmTokenizer {
  private readonly cache = new Map<string, number[]>();
  /** Whether pieces starting at a run of "▁" can be tokenized apart. */
  private readonly segmentable: boolean;

  constructor(private readonly vocab: Vocab) {
    this.segmentable = vocab.tokens.every((t) => {
      for (let i = t.indexOf(SPACE_MARK, 1); i > 0; i = t.indexOf(SPACE_MARK, i + 1)) {
        if (t.charCodeAt(i - 1) !== SPACE_MARK_CODE) return false;
      }
      return true;
    });
  }

  /** Tokenizes one piece of raw text (no special tokens inside), appending ids to `out`. */
  tokenize(text: string, addSpacePrefix: boolean, out: number[]): void {
    let s = addSpacePrefix ? " " + text : text;
    if (s.length === 0) return;
    s = s.replaceAll(" ", SPACE_MARK);
    if (hasEscapedBytes(s)) {
      this.tokenizeSymbols(byteSymbols(s), out);
      return;
    }
    if (!this.segmentable) {
      this.tokenizeSymbols(charSymbols(s, 0, s.length), out);
      return;
    }
    let start = 0;
    const n = s.length;
    while (start < n) {
      let end = start;
      while (end < n && s.charCodeAt(end) === SPACE_MARK_CODE) end++;
      while (end < n && s.charCodeAt(end) !== SPACE_MARK_CODE) end++;
      const piece = s.slice(start, end);
      let ids = this.cache.get(piece);
      if (ids === undefined) {
        ids = [];
        this.tokenizeSymbols(charSymbols(s, start, end), ids);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(piece, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
      start = end;
    }
  }

  /**
   * The merge loop over an initial list of symbols. A symbol is a string, or
   * `null` for a run of bytes that is not well-formed UTF-8 (kept in `raw`).
   */
  private tokenizeSymbols(symbols: Symbols, out: number[]): void {
    const { text, raw } = symbols;
    const n = text.length;
    if (n === 0) return;
    const vocab = this.vocab;
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const live = new Uint8Array(n).fill(1);
    const cur: (string | null)[] = text.slice();
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const queue = newQueue();
    const tryAdd = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const a = cur[left];
      const b = cur[right];
      if (a === null || b === null) return;
      const joined = a + b;
      const id = vocab.tokenToId.get(joined);
      if (id === undefined) return;
      queue.push({ left, right, score: vocab.scores[id], size: joined.length });
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);
    while (queue.size > 0) {
      const bg = queue.pop();
      const l = bg.left;
      const r = bg.right;
      if (!live[l] || !live[r]) continue;
      const a = cur[l]!;
      const b = cur[r]!;
      if (a.length + b.length !== bg.size) continue;
      cur[l] = a + b;
      live[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      tryAdd(prev[l], l);
      tryAdd(l, next[l]);
    }
    for (let i = 0; i !== -1; i = next[i]) {
      const t = cur[i];
      if (t !== null) {
        const id = vocab.tokenToId.get(t);
        if (id !== undefined) {
          out.push(id);
          continue;
        }
        const bytes: number[] = [];
        for (let k = 0; k < t.length; k++) {
          const cp = t.codePointAt(k)!;
          if (cp > 0xffff) k++;
          pushUtf8(bytes, cp);
        }
        for (const byte of bytes) out.push(this.byteToken(byte));
      } else {
        for (const byte of raw[i]!) out.push(this.byteToken(byte));
      }
    }
  }

  private byteToken(byte: number): number {
    const id = this.vocab.byteTokens[byte];
    if (id < 0) {
      const hex = byte.toString(16).toUpperCase().padStart(2, "0");
      throw new Error(`${this.vocab.source}: vocabulary has no byte token <0x${hex}> to spell a character it lacks`);
    }
    return id;
  }
}

interface Symbols {
  text: (string | null)[];
  raw: (Uint8Array | null)[];
}

/** One symbol per character of s[start, end). */
function charSymbols(s: string, start: number, end: number): Symbols {
  const text: string[] = [];
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
      text.push(s.slice(i, i + 2));
      i++;
    } else {
      text.push(s[i]);
    }
  }
  return { text, raw: [] };
}

/**
 * Symbols of text holding escaped bytes: llama.cpp cuts the bytes by the
 * length each lead byte announces, whether or not the bytes that follow fit;
 * a cut that is not one well-formed character can join no token.
 */
function byteSymbols(s: string): Symbols {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const eb = escapedByte(s, i);
    if (eb >= 0) {
      bytes.push(eb);
      continue;
    }
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    pushUtf8(bytes, cp);
  }
  const text: (string | null)[] = [];
  const raw: (Uint8Array | null)[] = [];
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (let off = 0; off < bytes.length; ) {
    const len = Math.min(utf8SequenceLength(bytes[off]), bytes.length - off);
    const chunk = Uint8Array.from(bytes.slice(off, off + len));
    let t: string | null = null;
    try {
      t = decoder.decode(chunk);
      if (t.length === 0 || [...t].length !== 1) t = null;
    } catch {
      t = null;
    }
    text.push(t);
    raw.push(t === null ? chunk : null);
    off += len;
  }
  return { text, raw };
}
