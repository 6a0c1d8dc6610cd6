/**
 * Remembers the tokens of recent texts. Typing changes only the current line,
 * so the prefix, suffix and context chunks of the next prompt are usually texts
 * already tokenized for the last one.
 */
import type { Tokenizer } from "../tokenizer/tokenizer";

export class TokenCache {
  private readonly map = new Map<string, number[]>();

  constructor(
    private readonly tok: Tokenizer,
    private readonly capacity = 64,
  ) {}

  /** Tokens of `text` as plain text (marker texts in user code stay text). */
  get(text: string): number[] {
    const hit = this.map.get(text);
    if (hit) {
      // Refresh its place in the insertion order, which doubles as recency.
      this.map.delete(text);
      this.map.set(text, hit);
      return hit;
    }
    const ids = text.length === 0 ? [] : this.tok.tokenize(text, { addSpecial: false, parseSpecial: false });
    this.map.set(text, ids);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
    return ids;
  }
}
