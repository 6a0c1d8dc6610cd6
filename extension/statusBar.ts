/**
 * The status bar item: an icon, the backend and the state ("CPU · 42 tok/s"),
 * the warning or error background when degraded or failed, and a markdown
 * tooltip with the engine's health and command links. It follows the
 * engine's health notifications as they arrive.
 */
import * as vscode from "vscode";
import type { EngineClient } from "./engineClient";
import { COMMAND_LINKS, statusView, tooltipMarkdown } from "./healthView";

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("ghostline.status", vscode.StatusBarAlignment.Right, 100);
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly engine: EngineClient) {
    this.item.name = "Ghostline";
    this.item.command = "ghostline.showHealth";
    this.subs.push(engine.onDidChangeHealth(() => this.update()), engine.onDidChangeState(() => this.update()));
    this.update();
    this.item.show();
  }

  update(): void {
    const h = this.engine.health;
    const ctx = this.engine.context;
    const view = statusView(h, ctx);
    this.item.text = view.text;
    this.item.accessibilityInformation = { label: `Ghostline: ${view.text.replace(/\$\([^)]*\)\s*/g, "")}` };
    this.item.backgroundColor =
      view.severity === "error"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : view.severity === "warning"
          ? new vscode.ThemeColor("statusBarItem.warningBackground")
          : undefined;
    const md = new vscode.MarkdownString(tooltipMarkdown(h, ctx), true);
    md.isTrusted = { enabledCommands: COMMAND_LINKS.map((l) => l.command) };
    this.item.tooltip = md;
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.item.dispose();
  }
}
