/** The extension's log: one LogOutputChannel, shared with the language client (engine stderr and window/logMessage land there too). */
import * as vscode from "vscode";

export function createLog(): vscode.LogOutputChannel {
  return vscode.window.createOutputChannel("Ghostline", { log: true });
}
