/**
 * Extra context for completions: a ring buffer of text chunks from other open
 * or recently edited documents. A chunk that nearly repeats one already held
 * replaces it, so editing one region does not fill the ring with copies of it.
 * Prompts take the chunks of other documents, oldest first, within a token
 * budget: new chunks append at the end, so the prompt's head stays stable.
 */

export interface ContextChunk {
  uri: string;
  /** First line of the chunk in its document. */
  line: number;
  text: string;
  /** Its lines, trimmed, for the near-duplicate test. */
  lineSet: Set<string>;
}

export interface ExtraContextOptions {
  /** Chunks held at most. */
  capacity?: number;
  /** Lines per chunk. */
  chunkLines?: number;
  /** Line-set similarity (Jaccard) above which a new chunk replaces an old one. */
  duplicateThreshold?: number;
}

export class ExtraContext {
  private chunks: ContextChunk[] = [];
  private readonly capacity: number;
  readonly chunkLines: number;
  private readonly threshold: number;

  constructor(options: ExtraContextOptions = {}) {
    this.capacity = options.capacity ?? 16;
    this.chunkLines = options.chunkLines ?? 32;
    this.threshold = options.duplicateThreshold ?? 0.8;
  }

  get size(): number {
    return this.chunks.length;
  }

  /** Takes the chunk of `text` centred on `line` (an opened document or an edit). */
  addAround(uri: string, text: string, line: number): ContextChunk | undefined {
    const lines = text.split("\n");
    const start = Math.max(0, Math.min(line - (this.chunkLines >> 1), lines.length - this.chunkLines));
    const slice = lines.slice(start, start + this.chunkLines);
    return this.add(uri, start, slice.join("\n"));
  }

  add(uri: string, line: number, text: string): ContextChunk | undefined {
    const lineSet = new Set(text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0));
    // Chunks with (almost) nothing in them are not worth their tokens.
    if (lineSet.size < 3) return undefined;
    const chunk: ContextChunk = { uri, line, text, lineSet };
    const dup = this.chunks.findIndex((c) => similarity(c.lineSet, lineSet) > this.threshold);
    if (dup >= 0) {
      // Same content: keep the old chunk where it is, so the prompt keeps its tokens.
      if (this.chunks[dup].text === text) return this.chunks[dup];
      this.chunks.splice(dup, 1);
    }
    this.chunks.push(chunk);
    if (this.chunks.length > this.capacity) this.chunks.shift();
    return chunk;
  }

  /** Forgets the chunks of a document (deleted or renamed). */
  drop(uri: string): void {
    this.chunks = this.chunks.filter((c) => c.uri !== uri);
  }

  /**
   * The chunks to put in a prompt for `uri`: those of other documents, oldest
   * first, as many of the newest as fit `budget` by `cost` (tokens).
   */
  select(uri: string, budget: number, cost: (c: ContextChunk) => number): ContextChunk[] {
    const picked: ContextChunk[] = [];
    let used = 0;
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const c = this.chunks[i];
      if (c.uri === uri) continue;
      const n = cost(c);
      if (used + n > budget) break;
      used += n;
      picked.push(c);
    }
    return picked.reverse();
  }
}

/** Jaccard similarity of two line sets. */
export function similarity(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let common = 0;
  for (const x of a) if (b.has(x)) common++;
  return common / (a.size + b.size - common);
}
