/**
 * Every command in one table, each with what it does while the engine runs
 * and what it does when it does not (stopped, failed after crashes, or
 * between restarts). Titles and menus live in package.json.
 */
import * as vscode from "vscode";
import type { EngineClient } from "./engineClient";
import type { ExplainPanel } from "./explainPanel";
import type { HealthDocumentProvider } from "./healthDocument";
import type { InlineCompletions } from "./inlineProvider";
import { selectModel } from "./modelPicker";

export interface CommandDeps {
  engine: EngineClient;
  explain: ExplainPanel;
  inline: InlineCompletions;
  health: HealthDocumentProvider;
  log: vscode.LogOutputChannel;
}

export interface CommandEntry {
  id: string;
  running: (d: CommandDeps, ...args: unknown[]) => unknown;
  notRunning: (d: CommandDeps, ...args: unknown[]) => unknown;
}

const config = () => vscode.workspace.getConfiguration("ghostline");

async function offerRestart(d: CommandDeps, what: string): Promise<void> {
  const pick = await vscode.window.showErrorMessage(`Ghostline: the engine is ${d.engine.state}; ${what}`, "Restart Engine", "Show Logs");
  if (pick === "Restart Engine") await d.engine.restart();
  if (pick === "Show Logs") d.log.show();
}

async function setCompletions(on: boolean): Promise<void> {
  await config().update("enabled", on, vscode.ConfigurationTarget.Global);
  void vscode.window.setStatusBarMessage(`Ghostline completions ${on ? "on" : "off"}`, 3000);
}

async function setLanguage(on: boolean, languageId: unknown): Promise<void> {
  let lang = typeof languageId === "string" ? languageId : vscode.window.activeTextEditor?.document.languageId;
  if (!lang) lang = await vscode.window.showQuickPick(await vscode.languages.getLanguages(), { title: `Ghostline: ${on ? "enable" : "disable"} completions for a language` });
  if (!lang) return;
  const current = config().inspect<Record<string, boolean>>("enabledLanguages")?.globalValue ?? {};
  await config().update("enabledLanguages", { ...current, [lang]: on }, vscode.ConfigurationTarget.Global);
  void vscode.window.setStatusBarMessage(`Ghostline completions ${on ? "on" : "off"} for ${lang}`, 3000);
}

async function switchToCpu(d: CommandDeps): Promise<void> {
  await config().update("backend", "cpu", vscode.ConfigurationTarget.Global);
  if (!d.engine.isRunning) await d.engine.restart();
}

export const COMMANDS: CommandEntry[] = [
  {
    id: "ghostline.explainSelection",
    running: (d) => d.explain.explainSelection(),
    notRunning: (d) => offerRestart(d, "Explain Selection needs it."),
  },
  {
    // Running: stop and start again, forgetting past crashes and any CPU fallback. Not running: start it.
    id: "ghostline.restartEngine",
    running: (d) => d.engine.restart(),
    notRunning: (d) => d.engine.restart(),
  },
  {
    // Running: a fresh report. Not running: the last report and why the engine stopped.
    id: "ghostline.showHealth",
    running: (d) => d.health.show(),
    notRunning: (d) => d.health.show(),
  },
  {
    // Running: the engine checks the file before the setting changes. Not running: start the engine, then the same.
    id: "ghostline.selectModel",
    running: (d, path) => selectModel(d.engine, d.log, typeof path === "string" ? path : undefined),
    notRunning: (d, path) => selectModel(d.engine, d.log, typeof path === "string" ? path : undefined),
  },
  { id: "ghostline.enableCompletions", running: () => setCompletions(true), notRunning: () => setCompletions(true) },
  { id: "ghostline.disableCompletions", running: () => setCompletions(false), notRunning: () => setCompletions(false) },
  { id: "ghostline.enableCompletionsForLanguage", running: (_d, lang) => setLanguage(true, lang), notRunning: (_d, lang) => setLanguage(true, lang) },
  { id: "ghostline.disableCompletionsForLanguage", running: (_d, lang) => setLanguage(false, lang), notRunning: (_d, lang) => setLanguage(false, lang) },
  {
    // Running: the setting change reloads the model on the CPU. Not running: set it and start the engine.
    id: "ghostline.switchToCpu",
    running: (d) => switchToCpu(d),
    notRunning: (d) => switchToCpu(d),
  },
  { id: "ghostline.showLogs", running: (d) => d.log.show(), notRunning: (d) => d.log.show() },
  {
    // Cancels a running explanation; nothing to stop otherwise.
    id: "ghostline.stopExplain",
    running: (d) => d.explain.stop(),
    notRunning: (d) => d.explain.stop(),
  },
];

export function registerCommands(d: CommandDeps): vscode.Disposable[] {
  return COMMANDS.map((c) =>
    vscode.commands.registerCommand(c.id, (...args: unknown[]) => (d.engine.isRunning ? c.running(d, ...args) : c.notRunning(d, ...args))),
  );
}
