/**
 * When a completion stops, decided token by token: an end-of-generation token
 * (end of text, EOT, FIM end), the token limit, the time budget (after which
 * the completion ends at the next newline), the line policy (one line when
 * text is right of the cursor), the indentation cut, and a line that repeats
 * the start of the suffix. Greedy decoding makes the result deterministic.
 */
import type { StopReason } from "../protocol/protocol";
import { cutAtDedent } from "./indentCut";
import { allowsMultiline, indentOf } from "./linePolicy";
import { firstSuffixLine, trimLineSuffixOverlap, trimSuffixLines } from "./suffixTrim";

export interface StopRuleOptions {
  maxTokens: number;
  timeBudgetMs: number;
  /** The cursor's line up to the cursor, and after it. */
  linePrefix: string;
  lineSuffix: string;
  /** Lines after the cursor's line. */
  suffix: string;
  /** Clock, in milliseconds (tests pass their own). */
  now?: () => number;
}

export class StopRules {
  private raw = "";
  private tokens = 0;
  private readonly start: number;
  private readonly now: () => number;
  readonly multiline: boolean;
  private readonly baseIndent: string;
  private readonly suffixLine: string;
  private cutAt = -1;
  reason: StopReason | undefined;

  constructor(private readonly opts: StopRuleOptions) {
    this.now = opts.now ?? Date.now;
    this.start = this.now();
    this.multiline = allowsMultiline(opts.lineSuffix);
    this.baseIndent = indentOf(opts.linePrefix);
    this.suffixLine = firstSuffixLine(opts.suffix);
  }

  /** Generated text so far, before the final trimming. */
  get text(): string {
    return this.cutAt >= 0 ? this.raw.slice(0, this.cutAt) : this.raw;
  }

  get generated(): number {
    return this.tokens;
  }

  /**
   * Takes one generated token (`eog`: it ends generation; `piece`: its text).
   * Returns why generation stops now, or undefined to go on.
   */
  push(piece: string, eog: boolean): StopReason | undefined {
    if (this.reason) return this.reason;
    if (eog) return (this.reason = "eog");
    this.tokens++;
    const before = this.raw.length;
    this.raw += piece;
    const nl = this.raw.indexOf("\n", before);
    if (nl >= 0) {
      if (!this.multiline) return this.stop("lineEnd", nl);
      if (this.now() - this.start >= this.opts.timeBudgetMs) return this.stop("timeBudget", nl);
      // Lines completed by this token: the suffix repeat and the dedent are judged on whole lines.
      const reason = this.judgeLines(before);
      if (reason) return reason;
    }
    if (this.tokens >= this.opts.maxTokens) return (this.reason = "maxTokens");
    return undefined;
  }

  private judgeLines(from: number): StopReason | undefined {
    const lineStart = this.raw.lastIndexOf("\n", from - 1) + 1;
    const firstNl = this.raw.indexOf("\n");
    let s = Math.max(lineStart, firstNl + 1);
    for (;;) {
      const e = this.raw.indexOf("\n", s);
      if (e < 0) break;
      const line = this.raw.slice(s, e);
      if (this.suffixLine && line.trim() === this.suffixLine) return this.stop("suffix", s > 0 ? s - 1 : 0);
      s = e + 1;
    }
    const dedent = cutAtDedent(this.raw, this.baseIndent);
    if (dedent.cut) return this.stop("indent", dedent.text.length);
    return undefined;
  }

  private stop(reason: StopReason, at: number): StopReason {
    this.cutAt = at;
    this.reason = reason;
    return reason;
  }

  /** The text to show: cut where a rule said, without what repeats the suffix. */
  finish(): string {
    let text = this.text;
    if (this.multiline) {
      text = cutAtDedent(text, this.baseIndent).text;
      text = trimSuffixLines(text, this.opts.suffix);
    } else {
      text = trimLineSuffixOverlap(text.replace(/\s+$/, ""), this.opts.lineSuffix);
    }
    return text;
  }
}
