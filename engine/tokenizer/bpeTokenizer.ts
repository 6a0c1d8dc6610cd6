/**
 * Byte-level BPE tokenizer (`tokenizer.ggml.model = "gpt2"`), as llama.cpp runs it:
 * the pre-tokenizer cuts the text into words, each word is spelled in the
 * byte alphabet (byteUnicode.ts), and the adjacent pair with the lowest merge
 * rank is joined until no ranked pair is left (ties: leftmost first). Each
 * finished symbol is looked up as a token.
 *
 * Speed: source code repeats its words, so each word's ids are cached.
 */
import { BinaryHeap } from "./binaryHeap";
import type { Vocab } from "./vocab";
import { byteEncode } from "./byteUnicode";
import { PreTokenizer } from "./preTokenizers";

const CACHE_LIMIT = 200_000;
const ESCAPED_BYTES = /(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/g;

interface Bigram {
  left: number;
  right: number;
  rank: number;
  size: number;
}

/** Min-heap on rank, then on left index. */
const newQueue = () => new BinaryHeap<Bigram>((a, b) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left));

export class BpeTokenizer {
  readonly preTokenizer: PreTokenizer;
  private readonly cache = new Map<string, number[]>();

  constructor(private readonly vocab: Vocab) {
    this.preTokenizer = new PreTokenizer(vocab.pre);
  }

  /** Tokenizes one piece of raw text (no special tokens inside), appending ids to `out`. */
  tokenize(text: string, out: number[]): void {
    // llama.cpp decodes malformed UTF-8 to U+FFFD, one per byte, before splitting.
    const clean = text.replace(ESCAPED_BYTES, "\uFFFD");
    for (const word of this.preTokenizer.split(clean)) {
      let ids = this.cache.get(word);
      if (ids === undefined) {
        ids = this.tokenizeWord(byteEncode(word));
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(word, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
  }

  /** Merges one byte-alphabet word. Every character of it is one UTF-16 unit. */
  tokenizeWord(word: string): number[] {
    const vocab = this.vocab;
    const out: number[] = [];
    const n = word.length;
    if (n === 0) return out;
    if (vocab.ignoreMerges || n === 1) {
      const id = vocab.tokenToId.get(word);
      if (id !== undefined) {
        out.push(id);
        return out;
      }
    }
    const ranks = vocab.mergeRanks;
    const start = new Int32Array(n);
    const len = new Int32Array(n);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      start[i] = i;
      len[i] = 1;
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const queue = newQueue();
    const tryAdd = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const ls = start[left];
      const mid = ls + len[left];
      const key = word.slice(ls, mid) + " " + word.slice(mid, mid + len[right]);
      const rank = ranks.get(key);
      if (rank === undefined) return;
      queue.push({ left, right, rank, size: len[left] + len[right] });
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);
    while (queue.size > 0) {
      const bg = queue.pop();
      const l = bg.left;
      const r = bg.right;
      if (len[l] === 0 || len[r] === 0 || len[l] + len[r] !== bg.size) continue;
      len[l] += len[r];
      len[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      tryAdd(prev[l], l);
      tryAdd(l, next[l]);
    }
    for (let i = 0; i !== -1; i = next[i]) {
      const sym = word.slice(start[i], start[i] + len[i]);
      const id = vocab.tokenToId.get(sym);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      // llama.cpp then tries each byte of the symbol's text as a token of its own.
      for (let k = 0; k < sym.length; k++) {
        const c = sym.charCodeAt(k);
        if (c >= 0x80) continue;
        const bid = vocab.tokenToId.get(sym[k]);
        if (bid !== undefined) out.push(bid);
      }
    }
    return out;
  }
}
