/**
 * The extension's settings (the `ghostline.*` section) and how they map to
 * the engine's settings. Pure: it reads through a small interface that
 * vscode.WorkspaceConfiguration satisfies, so it runs under vitest.
 *
 * A model path (and the other settings that decide what the engine loads and
 * how hard it runs) is never taken from an untrusted workspace: only the user's
 * own (global) value or the default counts there.
 */
import * as os from "node:os";
import * as path from "node:path";
import { defaultSettings, type Backend, type GhostlineInitializationOptions } from "../engine/protocol/protocol";

export const SECTION = "ghostline";

export type BackendChoice = Backend;
/** "auto": several lines only when nothing but whitespace is right of the cursor (the engine's rule); "singleLine": always one line. */
export type MultiLinePolicy = "auto" | "singleLine";

export interface ExtensionSettings {
  enabled: boolean;
  /** Language id to on/off; "*" is the default for languages not listed. */
  enabledLanguages: Record<string, boolean>;
  /** Empty: the model shipped with the extension. */
  modelPath: string;
  backend: BackendChoice;
  threads: number;
  contextSize: number;
  maxTokens: number;
  timeBudgetMs: number;
  debounceMs: number;
  multiLine: MultiLinePolicy;
  extraContextTokens: number;
  /** No completion requests in documents larger than this. */
  maxFileSizeKB: number;
  explainMaxTokens: number;
}

// The engine's own defaults, plus the settings only the extension has.
export const DEFAULTS: ExtensionSettings = {
  enabled: true,
  enabledLanguages: { "*": true },
  modelPath: defaultSettings.modelPath,
  backend: defaultSettings.backend,
  threads: defaultSettings.threads,
  contextSize: defaultSettings.contextSize,
  maxTokens: defaultSettings.maxTokens,
  timeBudgetMs: defaultSettings.timeBudgetMs,
  debounceMs: 75,
  multiLine: "auto",
  extraContextTokens: defaultSettings.extraContextTokens,
  maxFileSizeKB: 1024,
  explainMaxTokens: defaultSettings.explain.maxTokens,
};

/** Settings that an untrusted workspace may not set (also listed in package.json's restrictedConfigurations). */
export const RESTRICTED_KEYS = ["modelPath", "backend", "threads", "contextSize"] as const;

/** The part of vscode.WorkspaceConfiguration this module needs. */
export interface ConfigurationReader {
  get<T>(key: string): T | undefined;
  inspect<T>(key: string): { globalValue?: T; defaultValue?: T } | undefined;
}

export interface ReadResult {
  settings: ExtensionSettings;
  /** One line per value that was ignored or adjusted, for the log. */
  notes: string[];
}

const BACKENDS: readonly BackendChoice[] = ["auto", "metal", "cuda", "webgpu", "cpu"];
const POLICIES: readonly MultiLinePolicy[] = ["auto", "singleLine"];

/** Reads `ghostline.*`; `trusted` is vscode.workspace.isTrusted. */
export function readSettings(config: ConfigurationReader, trusted: boolean): ReadResult {
  const notes: string[] = [];
  const restricted = new Set<string>(RESTRICTED_KEYS);
  const raw = <T>(key: keyof ExtensionSettings | "explain.maxTokens"): T | undefined => {
    if (!trusted && restricted.has(key)) return config.inspect<T>(key)?.globalValue;
    return config.get<T>(key);
  };
  const int = (key: keyof ExtensionSettings, min: number, max: number): number => {
    const v = raw<unknown>(key);
    if (v === undefined || v === null) return DEFAULTS[key] as number;
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
    notes.push(`ghostline.${key}: expected an integer between ${min} and ${max} but found ${JSON.stringify(v)}; using ${DEFAULTS[key]}`);
    return DEFAULTS[key] as number;
  };
  const oneOf = <T extends string>(key: keyof ExtensionSettings, values: readonly T[]): T => {
    const v = raw<unknown>(key);
    if (v === undefined || v === null) return DEFAULTS[key] as T;
    if (typeof v === "string" && (values as readonly string[]).includes(v)) return v as T;
    notes.push(`ghostline.${key}: expected one of ${values.join(", ")} but found ${JSON.stringify(v)}; using ${DEFAULTS[key]}`);
    return DEFAULTS[key] as T;
  };

  const modelRaw = raw<unknown>("modelPath");
  const modelPath = typeof modelRaw === "string" ? modelRaw.trim() : "";
  if (modelRaw !== undefined && typeof modelRaw !== "string") notes.push(`ghostline.modelPath: expected a string but found ${JSON.stringify(modelRaw)}`);

  const langs = raw<unknown>("enabledLanguages");
  const enabledLanguages: Record<string, boolean> = { ...DEFAULTS.enabledLanguages };
  if (langs && typeof langs === "object" && !Array.isArray(langs)) {
    for (const [id, on] of Object.entries(langs as Record<string, unknown>)) {
      if (typeof on === "boolean") enabledLanguages[id] = on;
      else notes.push(`ghostline.enabledLanguages.${id}: expected true or false but found ${JSON.stringify(on)}`);
    }
  }

  const enabled = raw<unknown>("enabled");
  return {
    settings: {
      enabled: typeof enabled === "boolean" ? enabled : DEFAULTS.enabled,
      enabledLanguages,
      modelPath,
      backend: oneOf("backend", BACKENDS),
      threads: int("threads", 0, 256),
      contextSize: int("contextSize", 0, 1 << 20),
      maxTokens: int("maxTokens", 1, 4096),
      timeBudgetMs: int("timeBudgetMs", 1, 600_000),
      debounceMs: int("debounceMs", 0, 5000),
      multiLine: oneOf("multiLine", POLICIES),
      extraContextTokens: int("extraContextTokens", 0, 1 << 16),
      maxFileSizeKB: int("maxFileSizeKB", 1, 1 << 20),
      explainMaxTokens: (() => {
        const v = raw<unknown>("explain.maxTokens");
        return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 8192 ? v : DEFAULTS.explainMaxTokens;
      })(),
    },
    notes,
  };
}

/** Whether completions are on for a language: its own entry, else "*", else on. */
export function languageEnabled(map: Record<string, boolean>, languageId: string): boolean {
  if (languageId in map) return map[languageId];
  return map["*"] ?? true;
}

export interface EngineContext {
  /** The shipped model, used when no model path is set. */
  defaultModelPath: string;
  /** Set after repeated crashes on a GPU backend: run on the CPU whatever the setting says. */
  cpuFallback: boolean;
  /** Overrides the model path while a newly picked model is checked. */
  modelOverride?: string;
}

/** The path the engine should load: `~` expanded; the shipped model when none is set. */
export function resolveModelPath(setting: string, defaultPath: string, home = os.homedir()): string {
  if (!setting) return defaultPath;
  if (setting === "~") return home;
  if (setting.startsWith("~/")) return path.join(home, setting.slice(2));
  return setting;
}

/** The engine's settings for these extension settings; `notes` says what could not be honoured. */
export function engineSettings(s: ExtensionSettings, ctx: EngineContext): { options: GhostlineInitializationOptions; notes: string[] } {
  const notes: string[] = [];
  let backend: Backend = s.backend;
  if (ctx.cpuFallback && backend !== "cpu") {
    backend = "cpu";
    notes.push("running on the CPU after repeated engine crashes on the GPU backend (Restart Engine tries the configured backend again)");
  }
  const modelPath = ctx.modelOverride ?? resolveModelPath(s.modelPath, ctx.defaultModelPath);
  if (!path.isAbsolute(modelPath)) notes.push(`ghostline.modelPath "${modelPath}" is not an absolute path; set the full path of a .gguf file`);
  return {
    options: {
      modelPath,
      backend,
      threads: s.threads,
      contextSize: s.contextSize,
      maxTokens: s.maxTokens,
      timeBudgetMs: s.timeBudgetMs,
      extraContextTokens: s.extraContextTokens,
      explain: { maxTokens: s.explainMaxTokens },
    },
    notes,
  };
}

/** Whether a setting change must be sent to the engine (the others are the extension's own). */
export function engineSettingsChanged(a: ExtensionSettings, b: ExtensionSettings): boolean {
  const keys: (keyof ExtensionSettings)[] = ["modelPath", "backend", "threads", "contextSize", "maxTokens", "timeBudgetMs", "extraContextTokens", "explainMaxTokens"];
  return keys.some((k) => a[k] !== b[k]);
}
