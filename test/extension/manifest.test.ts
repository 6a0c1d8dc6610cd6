import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULTS, RESTRICTED_KEYS } from "../../extension/configuration";
import { COMMAND_LINKS } from "../../extension/healthView";

const root = path.resolve(__dirname, "..", "..");
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const properties: Record<string, { default: unknown }> = manifest.contributes.configuration.properties;
const commandIds: string[] = manifest.contributes.commands.map((c: { command: string }) => c.command);

describe("package.json manifest", () => {
  it("declares every setting the extension reads, with the same default", () => {
    const { explainMaxTokens, ...rest } = DEFAULTS;
    for (const [key, value] of Object.entries(rest)) expect(properties[`ghostline.${key}`]?.default, key).toEqual(value);
    expect(properties["ghostline.explain.maxTokens"].default).toBe(explainMaxTokens);
  });

  it("restricts in untrusted workspaces exactly the settings the extension ignores there", () => {
    expect(manifest.capabilities.untrustedWorkspaces.supported).toBe("limited");
    expect([...manifest.capabilities.untrustedWorkspaces.restrictedConfigurations].sort()).toEqual(RESTRICTED_KEYS.map((k) => `ghostline.${k}`).sort());
  });

  it("declares every command the status bar tooltip links to", () => {
    for (const link of COMMAND_LINKS) expect(commandIds).toContain(link.command);
  });

  it("declares the commands the issue asks for and commands.ts registers", () => {
    const source = fs.readFileSync(path.join(root, "extension", "commands.ts"), "utf8");
    const registered = [...source.matchAll(/id: "(ghostline\.[A-Za-z]+)"/g)].map((m) => m[1]).sort();
    expect(registered).toEqual([...commandIds].sort());
    for (const id of ["explainSelection", "restartEngine", "showHealth", "selectModel", "enableCompletions", "disableCompletions", "enableCompletionsForLanguage", "disableCompletionsForLanguage"]) {
      expect(commandIds).toContain(`ghostline.${id}`);
    }
  });

  it("offers Explain Selection in the editor context menu only with a selection", () => {
    const entry = manifest.contributes.menus["editor/context"].find((m: { command: string }) => m.command === "ghostline.explainSelection");
    expect(entry?.when).toBe("editorHasSelection");
  });

  it("starts the bundled extension and names an icon that exists", () => {
    expect(manifest.main).toBe("./dist/extension.js");
    expect(fs.existsSync(path.join(root, manifest.icon))).toBe(true);
    expect(manifest.engines.vscode).toBe("^1.91.0");
  });
});
