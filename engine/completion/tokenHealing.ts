/**
 * Token healing: a cursor inside a word leaves the prompt ending in a split
 * the model rarely saw in training (`retu` as `ret`,`u`; an indentation run
 * as one token where code has `   `,` return`). The tail tokens that a longer
 * token could span are taken back out of the prompt, and the first generated
 * tokens are constrained to spell them again; the completion shown is what
 * comes after that text.
 *
 * Pieces are compared as bytes (a byte-level BPE token can end inside a
 * character), held as strings of one char per byte so that prefix tests and
 * sorting are plain string operations.
 */
import { argmax } from "../model/greedy";
import type { StreamDecoder } from "../tokenizer/detokenizer";
import type { Tokenizer } from "../tokenizer/tokenizer";
import { TokenAttr } from "../tokenizer/vocab";

/** Most prompt tokens taken back; the prefix test already bounds it by the longest piece. */
const MAX_DROPPED_TOKENS = 8;

/** Bytes as a string of one char (0..255) per byte. */
function byteString(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function stringBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The vocabulary's generable pieces, built once per tokenizer. */
export class PieceIndex {
  /** Piece of each id as a byte string; "" for tokens that are never healing candidates. */
  readonly pieces: string[];
  /** Ids with a piece, ordered by piece, so that pieces with a given prefix are one run. */
  private readonly sorted: Int32Array;
  /** Ids by exact piece. */
  private readonly byPiece = new Map<string, number[]>();

  constructor(private readonly tok: Tokenizer) {
    const n = tok.nTokens;
    this.pieces = new Array<string>(n);
    const ids: number[] = [];
    for (let id = 0; id < n; id++) {
      // Control, unknown and unused tokens render as nothing and never spell text.
      const p = tok.isEog(id) ? "" : byteString(tok.tokenToPiece(id));
      this.pieces[id] = p;
      if (p.length === 0) continue;
      ids.push(id);
      const same = this.byPiece.get(p);
      if (same) same.push(id);
      else this.byPiece.set(p, [id]);
    }
    const pieces = this.pieces;
    ids.sort((a, b) => (pieces[a] < pieces[b] ? -1 : pieces[a] > pieces[b] ? 1 : a - b));
    this.sorted = Int32Array.from(ids);
  }

  /** Whether a prompt token may be taken back: plain text, not a marker or user-defined token. */
  ordinary(id: number): boolean {
    const attr = this.tok.vocab.attrs[id];
    return (attr & (TokenAttr.NORMAL | TokenAttr.BYTE)) !== 0 && this.pieces[id].length > 0;
  }

  /** Positions [lo, hi) in the sorted ids of the pieces that start with `prefix`. */
  private range(prefix: string): [number, number] {
    const s = this.sorted;
    const p = this.pieces;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p[s[mid]] < prefix) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < s.length && p[s[end]].startsWith(prefix)) end++;
    return [lo, end];
  }

  /** Whether some piece starts with `text` and is at least `minLength` bytes long. */
  hasPieceStarting(text: string, minLength: number): boolean {
    const [lo, hi] = this.range(text);
    for (let i = lo; i < hi; i++) if (this.pieces[this.sorted[i]].length >= minLength) return true;
    return false;
  }

  /**
   * The most likely token consistent with `rest`, the text still to spell:
   * its piece starts with `rest`, or is a shorter start of it. Ties go to the
   * lower id, as plain argmax does. -1 when no token fits.
   */
  bestConsistent(logits: Float32Array, rest: string, nVocab: number): number {
    let best = -1;
    let bestValue = -Infinity;
    const consider = (id: number) => {
      if (id >= nVocab) return;
      const v = logits[id];
      if (v > bestValue || (v === bestValue && id < best)) {
        bestValue = v;
        best = id;
      }
    };
    const [lo, hi] = this.range(rest);
    for (let i = lo; i < hi; i++) consider(this.sorted[i]);
    for (let k = 1; k < rest.length; k++) {
      const ids = this.byPiece.get(rest.slice(0, k));
      if (ids) for (const id of ids) consider(id);
    }
    return best;
  }
}

const indexes = new WeakMap<Tokenizer, PieceIndex>();

/** The piece index of `tok`, built on first use. */
export function pieceIndex(tok: Tokenizer): PieceIndex {
  let idx = indexes.get(tok);
  if (!idx) {
    idx = new PieceIndex(tok);
    indexes.set(tok, idx);
  }
  return idx;
}

export interface HealedPrompt {
  /** The prompt without the tokens taken back. */
  tokens: number[];
  /** Bytes of the tokens taken back, one char per byte; the generation must start with them. */
  dropped: string;
  droppedTokens: number;
}

/**
 * Takes back the prompt's trailing tokens that a longer token could span: the
 * last one when some piece extends it, then each earlier one while the text
 * taken back is still the start of some piece. Only tokens from `tailStart`
 * on (the current line up to the cursor) are candidates, so the prompt still
 * differs from the last keystroke's only in its tail.
 */
export function healPrompt(tok: Tokenizer, tokens: readonly number[], tailStart: number): HealedPrompt {
  const idx = pieceIndex(tok);
  let cut = tokens.length;
  let dropped = "";
  while (cut > tailStart && tokens.length - cut < MAX_DROPPED_TOKENS) {
    const id = tokens[cut - 1];
    if (!idx.ordinary(id)) break;
    const text = idx.pieces[id] + dropped;
    // The last token: a longer piece must exist. Earlier ones: a piece must reach across into the taken-back text.
    const minLength = dropped.length === 0 ? text.length + 1 : text.length;
    if (!idx.hasPieceStarting(text, minLength)) break;
    dropped = text;
    cut--;
  }
  return { tokens: tokens.slice(0, cut), dropped, droppedTokens: tokens.length - cut };
}

export interface GreedyStep {
  id: number;
  /** The token ends generation (or the taken-back text could not be spelled again). */
  eog: boolean;
  /** Text this token adds to the completion: nothing while it spells the taken-back text. */
  text: string;
}

/**
 * Greedy decoding after a healed prompt: argmax over the tokens consistent
 * with the taken-back text until it is spelled again, then plain argmax.
 */
export class HealingGreedy {
  private rest: string;
  private readonly idx: PieceIndex;
  private readonly decoder: StreamDecoder;

  constructor(
    private readonly tok: Tokenizer,
    healed: Pick<HealedPrompt, "dropped">,
  ) {
    this.rest = healed.dropped;
    this.idx = pieceIndex(tok);
    this.decoder = tok.createStreamDecoder();
  }

  /** Whether the taken-back text is still being spelled. */
  get healing(): boolean {
    return this.rest.length > 0;
  }

  /** The next token once healing is over, chosen by the backend's argmax. */
  take(id: number): GreedyStep {
    if (this.rest.length > 0) throw new Error("take() while the taken-back text is still being spelled: use step()");
    const eog = this.tok.isEog(id);
    return { id, eog, text: eog ? "" : this.decoder.push(id) };
  }

  /** Picks the next token from the logits after the last one (`nVocab`: how many of them are token scores). */
  step(logits: Float32Array, nVocab = logits.length): GreedyStep {
    if (this.rest.length === 0) return this.take(argmax(logits, 0, nVocab));
    const id = this.idx.bestConsistent(logits, this.rest, nVocab);
    if (id < 0) return { id, eog: true, text: "" };
    const piece = this.idx.pieces[id];
    if (piece.length <= this.rest.length) {
      this.rest = this.rest.slice(piece.length);
      return { id, eog: false, text: "" };
    }
    const beyond = piece.slice(this.rest.length);
    this.rest = "";
    return { id, eog: false, text: this.decoder.pushBytes(stringBytes(beyond)) };
  }
}
