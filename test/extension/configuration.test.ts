import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  DEFAULTS,
  engineSettings,
  engineSettingsChanged,
  languageEnabled,
  readSettings,
  resolveModelPath,
  type ConfigurationReader,
} from "../../extension/configuration";
import { defaultModelPath, SHIPPED_MODELS } from "../../extension/defaultModel";

/** A configuration with separate user (global) and workspace values, resolved the way VS Code does. */
function config(globalValues: Record<string, unknown>, workspaceValues: Record<string, unknown> = {}): ConfigurationReader {
  return {
    get: <T>(key: string) => (key in workspaceValues ? workspaceValues[key] : globalValues[key]) as T | undefined,
    inspect: <T>(key: string) => ({ globalValue: globalValues[key] as T | undefined }),
  };
}

describe("reading ghostline.* settings", () => {
  it("uses the defaults when nothing is set", () => {
    const { settings, notes } = readSettings(config({}), true);
    expect(settings).toEqual(DEFAULTS);
    expect(notes).toEqual([]);
  });

  it("takes a workspace's model path when the workspace is trusted", () => {
    const { settings } = readSettings(config({ modelPath: "/user/model.gguf" }, { modelPath: "/repo/evil.gguf" }), true);
    expect(settings.modelPath).toBe("/repo/evil.gguf");
  });

  it("ignores a model path, backend, threads and context size from an untrusted workspace's settings", () => {
    const { settings } = readSettings(
      config({ modelPath: "/user/model.gguf" }, { modelPath: "/repo/evil.gguf", backend: "cpu", threads: 64, contextSize: 99, debounceMs: 10 }),
      false,
    );
    expect(settings.modelPath).toBe("/user/model.gguf");
    expect(settings.backend).toBe("auto");
    expect(settings.threads).toBe(0);
    expect(settings.contextSize).toBe(0);
    // Harmless settings still follow the workspace.
    expect(settings.debounceMs).toBe(10);
  });

  it("replaces a value of the wrong type by its default and says so", () => {
    const { settings, notes } = readSettings(config({ maxTokens: "many", backend: "tpu", multiLine: "always" }), true);
    expect(settings.maxTokens).toBe(DEFAULTS.maxTokens);
    expect(settings.backend).toBe("auto");
    expect(settings.multiLine).toBe("auto");
    expect(notes.join("\n")).toMatch(/ghostline\.maxTokens: expected an integer between 1 and 4096 but found "many"/);
    expect(notes.join("\n")).toMatch(/ghostline\.backend: expected one of auto, metal, cuda, webgpu, cpu but found "tpu"/);
  });

  it("merges per-language switches over the '*' default", () => {
    const { settings } = readSettings(config({ enabledLanguages: { markdown: false, python: "yes" } }), true);
    expect(settings.enabledLanguages).toEqual({ "*": true, markdown: false });
    expect(languageEnabled(settings.enabledLanguages, "markdown")).toBe(false);
    expect(languageEnabled(settings.enabledLanguages, "python")).toBe(true);
    expect(languageEnabled({ "*": false, rust: true }, "go")).toBe(false);
    expect(languageEnabled({ "*": false, rust: true }, "rust")).toBe(true);
  });
});

describe("mapping to the engine's settings", () => {
  const shipped = "/ext/models/stories260K-q8_0.gguf";

  it("sends the shipped model when no model path is set", () => {
    const { options } = engineSettings(DEFAULTS, { defaultModelPath: shipped, cpuFallback: false });
    expect(options.modelPath).toBe(shipped);
    expect(options).toMatchObject({ backend: "auto", maxTokens: 128, timeBudgetMs: 1000, extraContextTokens: 512, explain: { maxTokens: 256 } });
  });

  it("expands ~ in a model path", () => {
    expect(resolveModelPath("~/models/a.gguf", shipped, "/home/me")).toBe(path.join("/home/me", "models/a.gguf"));
    expect(resolveModelPath("/abs/a.gguf", shipped, "/home/me")).toBe("/abs/a.gguf");
  });

  it("passes a GPU backend through to the engine", () => {
    const { options, notes } = engineSettings({ ...DEFAULTS, backend: "metal" }, { defaultModelPath: shipped, cpuFallback: false });
    expect(options.backend).toBe("metal");
    expect(notes).toEqual([]);
  });

  it("runs on the CPU after the crash fallback whatever the setting says", () => {
    const { options, notes } = engineSettings({ ...DEFAULTS, backend: "cuda" }, { defaultModelPath: shipped, cpuFallback: true });
    expect(options.backend).toBe("cpu");
    expect(notes.join(" ")).toMatch(/repeated engine crashes/);
  });

  it("lets a model under test override the configured one", () => {
    const { options } = engineSettings({ ...DEFAULTS, modelPath: "/old.gguf" }, { defaultModelPath: shipped, cpuFallback: false, modelOverride: "/new.gguf" });
    expect(options.modelPath).toBe("/new.gguf");
  });

  it("flags a relative model path", () => {
    const { notes } = engineSettings({ ...DEFAULTS, modelPath: "models/x.gguf" }, { defaultModelPath: shipped, cpuFallback: false });
    expect(notes.join(" ")).toMatch(/not an absolute path/);
  });

  it("tells engine settings from the extension's own", () => {
    expect(engineSettingsChanged(DEFAULTS, { ...DEFAULTS, debounceMs: 10, enabled: false })).toBe(false);
    expect(engineSettingsChanged(DEFAULTS, { ...DEFAULTS, maxTokens: 64 })).toBe(true);
    expect(engineSettingsChanged(DEFAULTS, { ...DEFAULTS, modelPath: "/m.gguf" })).toBe(true);
  });
});

describe("the shipped default model", () => {
  it("prefers the code model when it is shipped", () => {
    const present = new Set([path.join("/ext", SHIPPED_MODELS[0]), path.join("/ext", SHIPPED_MODELS[1])]);
    expect(defaultModelPath("/ext", (p) => present.has(p))).toBe(path.join("/ext", "models/ghostline-coder-q8_0.gguf"));
  });

  it("falls back to the story model, and names it even when nothing is there", () => {
    expect(defaultModelPath("/ext", (p) => p.endsWith("stories260K-q8_0.gguf"))).toBe(path.join("/ext", "models/stories260K-q8_0.gguf"));
    expect(defaultModelPath("/ext", () => false)).toBe(path.join("/ext", "models/stories260K-q8_0.gguf"));
  });
});
