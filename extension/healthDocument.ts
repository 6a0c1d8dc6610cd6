/** Show Engine Health: a read-only markdown document with the health report and why the last request showed nothing. */
import * as vscode from "vscode";
import type { EngineClient } from "./engineClient";
import { healthDocument } from "./healthView";
import type { SuggestionLog } from "./whyNoSuggestion";

export const HEALTH_URI = vscode.Uri.parse("ghostline-health:/Ghostline%20Engine%20Health.md");

export class HealthDocumentProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly registration: vscode.Disposable;
  private readonly sub: vscode.Disposable;

  constructor(
    private readonly engine: EngineClient,
    private readonly why: SuggestionLog,
  ) {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(HEALTH_URI.scheme, this);
    this.sub = engine.onDidChangeHealth(() => this.changed.fire(HEALTH_URI));
  }

  provideTextDocumentContent(): string {
    return healthDocument(this.engine.health, this.engine.context, this.why.last, this.why.lastNothing);
  }

  async show(): Promise<void> {
    await this.engine.refreshHealth();
    this.changed.fire(HEALTH_URI);
    const doc = await vscode.workspace.openTextDocument(HEALTH_URI);
    await vscode.languages.setTextDocumentLanguage(doc, "markdown");
    await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  }

  dispose(): void {
    this.registration.dispose();
    this.sub.dispose();
    this.changed.dispose();
  }
}
