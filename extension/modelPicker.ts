/**
 * Select Model: a file picker for .gguf files; the engine loads the file
 * before the setting changes, and the previous model stays when it fails.
 */
import * as vscode from "vscode";
import type { EngineClient } from "./engineClient";

export async function selectModel(engine: EngineClient, log: vscode.LogOutputChannel, preset?: string): Promise<boolean> {
  let modelPath = preset;
  if (!modelPath) {
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      filters: { "GGUF models": ["gguf"] },
      openLabel: "Use This Model",
      title: "Ghostline: Select a GGUF model (Q8_0)",
    });
    if (!picked?.[0]) return false;
    modelPath = picked[0].fsPath;
  }
  if (!engine.isRunning) await engine.start();
  const previous = engine.health?.model?.name ?? "the previous model";
  const check = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Ghostline: checking ${modelPath}` },
    () => engine.tryModel(modelPath!),
  );
  if (!check.ok) {
    log.error(`model ${modelPath} was refused: ${check.message}`);
    // Not awaited: the command resolves with the verdict while the message waits for the user.
    void vscode.window
      .showErrorMessage(
        `Ghostline could not use ${modelPath}: ${check.message}. Kept ${previous}. Pick a Llama-family GGUF file with Q8_0 weights.`,
        "Select Another Model",
        "Show Logs",
      )
      .then((pick) => {
        if (pick === "Select Another Model") void selectModel(engine, log);
        if (pick === "Show Logs") log.show();
      });
    return false;
  }
  // The engine already runs the new model, so the change below sends the same path and loads nothing again.
  await vscode.workspace.getConfiguration("ghostline").update("modelPath", modelPath, vscode.ConfigurationTarget.Global);
  const m = check.health.model;
  log.info(`switched to ${modelPath}`);
  void vscode.window.showInformationMessage(`Ghostline now uses ${m?.name ?? modelPath}${m && !m.fim ? " (no FIM tokens: completions continue the text before the cursor only)" : ""}.`);
  return true;
}
