/**
 * Tokenizer speed measurement for `ghostline bench`: tokenizing a source file
 * of about 100 KB must take at most 20 ms.
 */
import type { Tokenizer } from "./tokenizer";
import { utf8ByteLength } from "./utf8";

export interface TokenizerBenchResult {
  bytes: number;
  tokens: number;
  iterations: number;
  /** First run, cold caches included. */
  firstMs: number;
  medianMs: number;
  minMs: number;
  /** Tokens per second at the median. */
  tokensPerSecond: number;
}

/** Tokenizes `text` `iterations` times (plain text, no special tokens) and reports the times. */
export function benchTokenizer(tokenizer: Tokenizer, text: string, iterations: number): TokenizerBenchResult {
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new Error(`Expected integer >= 1 for iterations but received '${iterations}'`);
  }
  const times: number[] = [];
  let tokens = 0;
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    tokens = tokenizer.tokenize(text).length;
    times.push(performance.now() - t0);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const medianMs = sorted[Math.floor(sorted.length / 2)];
  return {
    bytes: utf8ByteLength(text),
    tokens,
    iterations,
    firstMs: times[0],
    medianMs,
    minMs: sorted[0],
    tokensPerSecond: medianMs > 0 ? (tokens / medianMs) * 1000 : Infinity,
  };
}

/**
 * A deterministic TypeScript-like source text of about `bytes` bytes, for
 * benchmarking when no real file is given. Each block differs a little
 * (names, numbers, comments) so that caches see realistic repetition.
 */
export function makeBenchSource(bytes = 100_000): string {
  const words = ["value", "index", "result", "buffer", "token", "request", "handler", "options", "count", "state"];
  const parts: string[] = [];
  let size = 0;
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; size < bytes; i++) {
    const a = words[rnd(words.length)];
    const b = words[rnd(words.length)];
    const block =
      `/** Computes the ${a} for ${b} #${i}. */\n` +
      `export async function ${a}Of${b[0].toUpperCase()}${b.slice(1)}${i}(${b}: number[], opts?: { limit: number }): Promise<number> {\n` +
      `  const ${a}: Map<string, number> = new Map();\n` +
      `  for (let i = 0; i < ${b}.length && i < (opts?.limit ?? ${rnd(1000)}); i++) {\n` +
      `    if (${b}[i] % ${rnd(9) + 2} === 0) {\n` +
      `      ${a}.set(\`key-\${i}\`, ${b}[i] * ${rnd(100)} + 0x${rnd(65536).toString(16)});\n` +
      `    } else {\n` +
      `\t\t\t// tabs, CRLF and a string: "naïve café – ok"\r\n` +
      `      ${a}.delete(String(i));\n` +
      `    }\n` +
      `  }\n` +
      `  return [...${a}.values()].reduce((s, x) => s + x, 0);\n` +
      `}\n\n`;
    parts.push(block);
    size += utf8ByteLength(block);
  }
  return parts.join("");
}
