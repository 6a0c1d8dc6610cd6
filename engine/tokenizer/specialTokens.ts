/**
 * Cutting text at special-token texts before tokenizing, as llama.cpp does.
 *
 * Control and unknown tokens (BOS, FIM markers, ...) are recognised only when
 * the caller asks for it (parseSpecial); user-defined tokens always are. The
 * longest token texts go first, each splitting every remaining piece of text
 * at all its occurrences, left to right.
 */
import { TokenAttr, type Vocab } from "./vocab";
import { utf8ByteLength } from "./utf8";

/** A piece of text to tokenize, or a token found in the text. */
export type Fragment = { text: string } | { token: number };

interface SpecialEntry {
  id: number;
  text: string;
  attr: number;
}

const C_SPACE = /[ \t\n\v\f\r]/;

export class SpecialTokenSplitter {
  /** Candidates in llama.cpp's order: longer texts first (in bytes), then lower ids. */
  private readonly entries: SpecialEntry[];
  /** Candidates by their first UTF-16 unit, to find which ones occur at all in one pass. */
  private readonly byFirstUnit = new Map<number, SpecialEntry[]>();
  private readonly isFirstUnit = new Uint8Array(0x10000);

  constructor(vocab: Vocab) {
    const entries: SpecialEntry[] = [];
    const mask = TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN;
    vocab.attrs.forEach((attr, id) => {
      if (attr & mask) entries.push({ id, text: vocab.tokens[id], attr });
    });
    const bytes = new Map(entries.map((e) => [e.id, utf8ByteLength(e.text)]));
    entries.sort((a, b) => bytes.get(b.id)! - bytes.get(a.id)! || a.id - b.id);
    this.entries = entries;
    for (const e of entries) {
      const u = e.text.charCodeAt(0);
      this.isFirstUnit[u] = 1;
      const list = this.byFirstUnit.get(u);
      if (list) list.push(e);
      else this.byFirstUnit.set(u, [e]);
    }
  }

  /** Cuts `text` into raw pieces and special tokens. */
  split(text: string, parseSpecial: boolean): Fragment[] {
    if (text.length === 0) return [];
    const present = this.occurring(text, parseSpecial);
    if (present.size === 0) return [{ text }];
    // Pieces as [start, end) ranges of `text`, or token ids.
    let frags: ({ s: number; e: number } | { token: number })[] = [{ s: 0, e: text.length }];
    for (const entry of this.entries) {
      if (!present.has(entry)) continue;
      const next: typeof frags = [];
      for (const f of frags) {
        if ("token" in f) {
          next.push(f);
          continue;
        }
        let s = f.s;
        const e = f.e;
        for (;;) {
          const at = text.indexOf(entry.text, s);
          if (at < 0 || at + entry.text.length > e) {
            if (s < e) next.push({ s, e });
            break;
          }
          let leftEnd = at;
          if (entry.attr & TokenAttr.LSTRIP) while (leftEnd > s && C_SPACE.test(text[leftEnd - 1])) leftEnd--;
          if (leftEnd > s) next.push({ s, e: leftEnd });
          next.push({ token: entry.id });
          s = at + entry.text.length;
          if (entry.attr & TokenAttr.RSTRIP) while (s < e && C_SPACE.test(text[s])) s++;
        }
      }
      frags = next;
    }
    return frags.map((f) => ("token" in f ? f : { text: text.slice(f.s, f.e) }));
  }

  /** The candidates whose text occurs somewhere in `text` (overlaps included). */
  private occurring(text: string, parseSpecial: boolean): Set<SpecialEntry> {
    const found = new Set<SpecialEntry>();
    const skip = TokenAttr.CONTROL | TokenAttr.UNKNOWN;
    const map = this.byFirstUnit;
    const first = this.isFirstUnit;
    for (let i = 0; i < text.length; i++) {
      const u = text.charCodeAt(i);
      if (first[u] === 0) continue;
      const list = map.get(u);
      if (list === undefined) continue;
      for (const e of list) {
        if (!parseSpecial && e.attr & skip) continue;
        if (text.startsWith(e.text, i)) found.add(e);
      }
    }
    return found;
  }
}
