/**
 * Activation: wires the engine client, ghost text, Explain, the status bar,
 * the health document and the commands together, and keeps the engine's
 * settings in step with the user's.
 */
import * as vscode from "vscode";
import type { HealthReport } from "../engine/protocol/protocol";
import { registerCommands } from "./commands";
import { engineSettingsChanged, readSettings, SECTION, type ExtensionSettings } from "./configuration";
import { defaultModelPath } from "./defaultModel";
import { EngineClient } from "./engineClient";
import { ExplainPanel } from "./explainPanel";
import { HealthDocumentProvider } from "./healthDocument";
import { InlineCompletions } from "./inlineProvider";
import { createLog } from "./logging";
import { StatusBar } from "./statusBar";

/** What activate returns: the integration tests drive the extension through it. */
export interface GhostlineApi {
  engine: EngineClient;
  inline: InlineCompletions;
  explain: ExplainPanel;
}

let engineForDeactivate: EngineClient | undefined;

export function activate(context: vscode.ExtensionContext): GhostlineApi {
  const log = createLog();
  const read = (): ExtensionSettings => {
    const { settings, notes } = readSettings(vscode.workspace.getConfiguration(SECTION), vscode.workspace.isTrusted);
    for (const n of notes) log.warn(n);
    return settings;
  };
  let settings = read();

  let engine: EngineClient | undefined = undefined;
  const inline = new InlineCompletions({
    settings: () => settings,
    engineProblem: () => {
      if (!engine?.isRunning) return `the engine is ${engine?.state ?? "starting"}`;
      const h = engine.health;
      if (h?.state === "loading") return "the model is still loading";
      if (h && !h.model && h.state === "error") return `no model is loaded (${h.lastError?.message ?? h.message})`;
      return undefined;
    },
    modelHasFim: () => engine?.health?.model?.fim,
    answered: () => engine?.refreshHealthSoon(),
    log,
  });
  engine = new EngineClient({
    extensionPath: context.extensionPath,
    log,
    settings: () => settings,
    defaultModelPath: () => defaultModelPath(context.extensionPath),
    middleware: inline.middleware,
  });
  engineForDeactivate = engine;
  const running = engine;
  const explain = new ExplainPanel(running, log);
  const health = new HealthDocumentProvider(running, inline.why);
  const statusBar = new StatusBar(running);

  const setContextKeys = () => void vscode.commands.executeCommand("setContext", "ghostline.completionsEnabled", settings.enabled);
  setContextKeys();
  const onSettings = () => {
    const before = settings;
    settings = read();
    setContextKeys();
    if (engineSettingsChanged(before, settings)) running.sendSettings();
  };

  context.subscriptions.push(
    log,
    running,
    explain,
    health,
    statusBar,
    ...registerCommands({ engine: running, explain, inline, health, log }),
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration(SECTION) && onSettings()),
    vscode.workspace.onDidGrantWorkspaceTrust(onSettings),
    vscode.workspace.onDidCloseTextDocument((d) => inline.cache.clear(d.uri.toString())),
    ...watchModel(running, inline, log),
  );

  log.info(`Ghostline ${context.extension.packageJSON.version} in VS Code ${vscode.version}; workspace ${vscode.workspace.isTrusted ? "trusted" : "untrusted (model settings come from user settings only)"}`);
  void running.start();
  return { engine: running, inline, explain };
}

/** Model loading progress, load errors with what to do next, the fallback and give-up messages. */
function watchModel(engine: EngineClient, inline: InlineCompletions, log: vscode.LogOutputChannel): vscode.Disposable[] {
  let endLoading: (() => void) | undefined;
  let modelPath: string | undefined;
  let shownError: string | undefined;
  const onHealth = (h: HealthReport | undefined) => {
    if (h?.state === "loading" && !endLoading) {
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: "Ghostline: loading the model" },
        () => new Promise<void>((resolve) => (endLoading = resolve)),
      );
    } else if (h?.state !== "loading" && endLoading) {
      endLoading();
      endLoading = undefined;
    }
    if (h?.model?.path !== modelPath) {
      modelPath = h?.model?.path;
      if (h) inline.cache.clear();
    }
    if (h?.state === "error" && h.lastError && !engine.checkingModel && h.lastError.message !== shownError) {
      shownError = h.lastError.message;
      void loadError(h, log);
    }
    if (h?.state === "ready") shownError = undefined;
  };
  return [
    engine.onDidChangeHealth(onHealth),
    engine.onDidFallBackToCpu(async (why) => {
      const pick = await vscode.window.showWarningMessage(
        `Ghostline: ${why}. Your settings are unchanged; Restart Engine tries the configured backend again.`,
        "Show Logs",
      );
      if (pick) log.show();
    }),
    engine.onDidGiveUp(async (why) => {
      const pick = await vscode.window.showErrorMessage(`Ghostline stopped its engine: ${why}.`, "Restart", "Show Logs");
      if (pick === "Restart") await engine.restart();
      if (pick === "Show Logs") log.show();
    }),
  ];
}

async function loadError(h: HealthReport, log: vscode.LogOutputChannel): Promise<void> {
  const what = h.model ? `Ghostline: ${h.lastError!.message}` : `Ghostline could not load its model: ${h.lastError!.message}`;
  const pick = await vscode.window.showErrorMessage(`${what}. Select a Llama-family GGUF model (Q8_0), or go back to the model shipped with Ghostline.`, "Select Model", "Use Shipped Model", "Show Logs");
  if (pick === "Select Model") await vscode.commands.executeCommand("ghostline.selectModel");
  if (pick === "Use Shipped Model") await vscode.workspace.getConfiguration(SECTION).update("modelPath", undefined, vscode.ConfigurationTarget.Global);
  if (pick === "Show Logs") log.show();
}

export async function deactivate(): Promise<void> {
  await engineForDeactivate?.stop();
}
