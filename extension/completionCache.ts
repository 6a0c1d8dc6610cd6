/**
 * Recent suggestions, so that typing the characters a suggestion predicts
 * keeps showing the rest of it without asking the engine again.
 *
 * An entry remembers where it was asked for (an offset) and the text around
 * that place. It still applies at a later offset when the text before the
 * original place is unchanged, the text after the cursor is what was after
 * the original place, and everything typed in between is a prefix of the
 * suggestion.
 */

/** A view of the current document: its identity, the cursor offset and a reader of its text. */
export interface DocumentView {
  uri: string;
  offset: number;
  /** The text between two offsets, clamped to the document. */
  read(start: number, end: number): string;
}

interface Entry {
  uri: string;
  offset: number;
  before: string;
  after: string;
  texts: string[];
}

export class CompletionCache {
  private entries: Entry[] = [];

  constructor(
    private readonly capacity = 32,
    /** Characters of context kept on each side; enough to tell two places apart. */
    private readonly windowChars = 256,
  ) {}

  get size(): number {
    return this.entries.length;
  }

  store(doc: DocumentView, texts: string[]): void {
    const useful = texts.filter((t) => t.length > 0);
    if (useful.length === 0) return;
    const before = doc.read(Math.max(0, doc.offset - this.windowChars), doc.offset);
    const after = doc.read(doc.offset, doc.offset + this.windowChars);
    this.entries = this.entries.filter((e) => !(e.uri === doc.uri && e.offset === doc.offset));
    this.entries.push({ uri: doc.uri, offset: doc.offset, before, after, texts: useful });
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  /** What remains of a cached suggestion at the cursor, newest first; undefined when none applies. */
  lookup(doc: DocumentView): string[] | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e.uri !== doc.uri || doc.offset < e.offset) continue;
      const longest = Math.max(...e.texts.map((t) => t.length));
      if (doc.offset - e.offset >= longest) continue;
      if (doc.read(e.offset - e.before.length, e.offset) !== e.before) continue;
      if (doc.read(doc.offset, doc.offset + e.after.length) !== e.after) continue;
      const typed = doc.read(e.offset, doc.offset);
      const rest = e.texts.filter((t) => t.length > typed.length && t.startsWith(typed)).map((t) => t.slice(typed.length));
      if (rest.length > 0) return rest;
    }
    return undefined;
  }

  /** Forgets a document's entries (closed), or everything (model switched). */
  clear(uri?: string): void {
    this.entries = uri === undefined ? [] : this.entries.filter((e) => e.uri !== uri);
  }
}
