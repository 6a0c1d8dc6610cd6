/** Command-line option parsing shared by the `ghostline` commands. */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { packageRoot } from "../native/loadAddon";

export class UsageError extends Error {}

export function parse(argv: string[], options: NonNullable<ParseArgsConfig["options"]>) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const BACKENDS = ["auto", "cpu", "cuda", "metal", "webgpu"] as const;

/** --backend: where the model runs (default "cpu" for the command line, so figures say what ran). */
export function parseBackend(text: string | undefined, fallback: (typeof BACKENDS)[number] = "cpu"): (typeof BACKENDS)[number] {
  if (text === undefined) return fallback;
  const b = BACKENDS.find((x) => x === text);
  if (!b) throw new UsageError(`--backend: expected one of ${BACKENDS.join(", ")}, got '${text}'`);
  return b;
}

/** Says on stderr when the model runs on another backend than the one asked for, and why. */
export function noteFallback(info: { backend: string; requestedBackend: string; fallbackReason: string }): void {
  if (info.fallbackReason) process.stderr.write(`ghostline: running on ${info.backend}, not ${info.requestedBackend}: ${info.fallbackReason}\n`);
}

/** "1,2,3" -> [1, 2, 3] */
export function parseTokenList(text: string | undefined, flag: string): number[] {
  if (text === undefined) throw new UsageError(`${flag} is required (comma-separated token ids)`);
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  const ids = parts.map((s) => Number(s));
  const bad = parts.find((s, i) => !/^\d+$/.test(s) || !Number.isSafeInteger(ids[i]));
  if (bad !== undefined) throw new UsageError(`${flag}: '${bad}' is not a token id`);
  if (ids.length === 0) throw new UsageError(`${flag}: no token ids given`);
  return ids;
}

export function parseCount(text: string | undefined, flag: string, fallback: number, min = 0, max = 1 << 20): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`${flag}: expected an integer between ${min} and ${max}, got '${text}'`);
  return n;
}

/**
 * The model shipped with Ghostline, used when --model is not given: the trained code model when present, else the
 * tiny story model (the extension's extension/defaultModel.ts keeps the same order).
 */
export function defaultModelPath(): string {
  const root = packageRoot();
  const shipped = ["ghostline-coder-q8_0.gguf", "stories260K-q8_0.gguf"].map((f) => path.join(root, "models", f));
  return shipped.find((p) => fs.existsSync(p)) ?? shipped[shipped.length - 1];
}
