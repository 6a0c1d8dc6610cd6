/**
 * Settings from `initializationOptions` and `workspace/didChangeConfiguration`:
 * each field is checked on its own, so one bad value is reported and ignored
 * while the others apply.
 */
import { defaultSettings, type ExplainSettings, type GhostlineSettings } from "../protocol/protocol";

export interface MergedSettings {
  settings: GhostlineSettings;
  /** One message per rejected field. */
  problems: string[];
}

type Check = (value: unknown) => string | undefined;

const integer = (min: number, max: number): Check => (v) =>
  typeof v === "number" && Number.isInteger(v) && v >= min && v <= max ? undefined : `expected an integer between ${min} and ${max}`;
const number = (min: number, max: number): Check => (v) =>
  typeof v === "number" && Number.isFinite(v) && v >= min && v <= max ? undefined : `expected a number between ${min} and ${max}`;
const string: Check = (v) => (typeof v === "string" ? undefined : "expected a string");
const oneOf = (...values: string[]): Check => (v) =>
  typeof v === "string" && values.includes(v) ? undefined : `expected one of ${values.map((x) => `"${x}"`).join(", ")}`;

const TOP: Record<Exclude<keyof GhostlineSettings, "explain">, Check> = {
  modelPath: string,
  backend: oneOf("auto", "cpu", "cuda", "metal", "webgpu"),
  threads: integer(0, 256),
  contextSize: integer(0, 1 << 20),
  maxTokens: integer(1, 4096),
  timeBudgetMs: integer(1, 600_000),
  extraContextTokens: integer(0, 1 << 16),
};

const EXPLAIN: Record<keyof ExplainSettings, Check> = {
  maxTokens: integer(1, 8192),
  temperature: number(0, 10),
  topK: integer(0, 1 << 20),
  topP: number(0, 1),
  seed: integer(0, 0xffffffff),
};

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/**
 * Accepts the settings object itself or one wrapped as `{ ghostline: {...} }`
 * (the shape VS Code's configuration section takes).
 */
export function unwrapSettings(raw: unknown): unknown {
  if (raw && typeof raw === "object" && "ghostline" in raw) return (raw as { ghostline: unknown }).ghostline;
  return raw;
}

export function mergeSettings(current: GhostlineSettings, raw: unknown): MergedSettings {
  const problems: string[] = [];
  const settings: GhostlineSettings = { ...current, explain: { ...current.explain } };
  const input = unwrapSettings(raw);
  if (input === undefined || input === null) return { settings, problems };
  if (typeof input !== "object" || Array.isArray(input)) {
    return { settings, problems: [`settings: expected an object but received ${show(input)}`] };
  }
  const obj = input as Record<string, unknown>;
  for (const [key, check] of Object.entries(TOP) as [keyof typeof TOP, Check][]) {
    if (!(key in obj) || obj[key] === undefined) continue;
    const problem = check(obj[key]);
    if (problem) problems.push(`setting ghostline.${key}: ${problem} but received ${show(obj[key])}`);
    else (settings as unknown as Record<string, unknown>)[key] = obj[key];
  }
  const ex = obj.explain;
  if (ex !== undefined) {
    if (typeof ex !== "object" || ex === null) problems.push(`setting ghostline.explain: expected an object but received ${show(ex)}`);
    else {
      for (const [key, check] of Object.entries(EXPLAIN) as [keyof ExplainSettings, Check][]) {
        const v = (ex as Record<string, unknown>)[key];
        if (v === undefined) continue;
        const problem = check(v);
        if (problem) problems.push(`setting ghostline.explain.${key}: ${problem} but received ${show(v)}`);
        else (settings.explain as unknown as Record<string, unknown>)[key] = v;
      }
    }
  }
  return { settings, problems };
}

/** Whether going from `a` to `b` needs the model loaded again. */
export function needsReload(a: GhostlineSettings, b: GhostlineSettings): boolean {
  return a.modelPath !== b.modelPath || a.backend !== b.backend || a.threads !== b.threads || a.contextSize !== b.contextSize;
}

export { defaultSettings };
