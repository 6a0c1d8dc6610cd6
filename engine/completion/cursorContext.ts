/**
 * The text around the cursor that a completion prompt is made of: whole lines
 * before the cursor's line, the current line split at the cursor, and lines
 * after. The first prefix line moves in steps, so adding lines while typing
 * keeps the prompt's head (and the KV cache built on it) unchanged.
 */
import type { Position } from "../protocol/protocol";

export interface CursorContext {
  /** Lines before the cursor's line, each ending in "\n". */
  prefix: string;
  /** Document line number of the first prefix line. */
  prefixStartLine: number;
  /** The current line up to the cursor. */
  linePrefix: string;
  /** The current line after the cursor. */
  lineSuffix: string;
  /** Lines after the cursor's line, joined with "\n". */
  suffix: string;
}

export interface CursorContextOptions {
  maxPrefixLines?: number;
  maxSuffixLines?: number;
  /** The first prefix line is a multiple of this. */
  anchorStep?: number;
}

/** Splits `text` into lines the way LSP counts them ("\r\n", "\n" or "\r"). */
export function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

export function cursorContext(lines: readonly string[], pos: Position, options: CursorContextOptions = {}): CursorContext {
  const maxPrefix = options.maxPrefixLines ?? 128;
  const maxSuffix = options.maxSuffixLines ?? 32;
  const step = options.anchorStep ?? 16;
  const start = Math.max(0, Math.ceil((pos.line - maxPrefix) / step) * step);
  const line = lines[pos.line] ?? "";
  let prefix = "";
  for (let i = start; i < pos.line; i++) prefix += lines[i] + "\n";
  return {
    prefix,
    prefixStartLine: start,
    linePrefix: line.slice(0, pos.character),
    lineSuffix: line.slice(pos.character),
    suffix: lines.slice(pos.line + 1, pos.line + 1 + maxSuffix).join("\n"),
  };
}

/** Drops the first `n` lines of a prefix. */
export function dropPrefixLines(ctx: CursorContext, n: number): CursorContext {
  let at = 0;
  for (let i = 0; i < n && at < ctx.prefix.length; i++) {
    const nl = ctx.prefix.indexOf("\n", at);
    at = nl < 0 ? ctx.prefix.length : nl + 1;
  }
  return { ...ctx, prefix: ctx.prefix.slice(at), prefixStartLine: ctx.prefixStartLine + n };
}
