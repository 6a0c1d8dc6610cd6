/**
 * Explain Selection: sends `ghostline/explain` for the selection and streams
 * the partial results into a webview beside the editor. Stop (in the panel,
 * or the command) cancels the request in the engine.
 */
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import { ExplainRequest, type ExplainResult } from "../engine/protocol/protocol";
import type { EngineClient } from "./engineClient";
import { explainHtml, type FromPanel, type ToPanel } from "./explainView";

export class ExplainPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private running: vscode.CancellationTokenSource | undefined;
  private counter = 0;
  /** The text of the last explanation, for tests and the log. */
  lastText = "";

  constructor(
    private readonly engine: EngineClient,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  stop(): void {
    this.running?.cancel();
  }

  /** Explains the active editor's selection; refuses an empty one. Resolves with the result, or undefined when it did not finish. */
  async explainSelection(): Promise<ExplainResult | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showWarningMessage("Ghostline: open a file and select the code to explain.");
      return undefined;
    }
    const selection = editor.selection;
    const text = editor.document.getText(selection);
    if (selection.isEmpty || text.trim().length === 0) {
      void vscode.window.showWarningMessage("Ghostline: the selection is empty. Select the code to explain, then run Explain Selection again.");
      return undefined;
    }
    const client = this.engine.languageClient;
    if (!client) {
      const pick = await vscode.window.showErrorMessage(`Ghostline: the engine is ${this.engine.state}, so nothing can be explained now.`, "Restart Engine");
      if (pick) await vscode.commands.executeCommand("ghostline.restartEngine");
      return undefined;
    }

    this.running?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.running = cts;
    this.show();
    const fileName = editor.document.uri.path.split("/").pop() ?? "selection";
    const model = this.engine.health?.model?.name ?? "no model loaded";
    const lines = `${selection.start.line + 1}–${selection.end.line + 1}`;
    this.lastText = "";
    this.post({ type: "start", title: `Explain ${fileName}:${lines}`, model });

    const progressToken = `ghostline-explain-${++this.counter}`;
    const progress = client.onProgress(ExplainRequest.partialResult, progressToken, (p) => {
      if (this.running !== cts) return;
      this.lastText += p.delta;
      this.post({ type: "delta", text: p.delta });
    });
    const params = {
      textDocument: { uri: editor.document.uri.toString() },
      range: client.code2ProtocolConverter.asRange(selection),
      text,
      languageId: editor.document.languageId,
      partialResultToken: progressToken,
    };
    try {
      const result = await client.sendRequest(ExplainRequest.type, params, cts.token);
      if (cts.token.isCancellationRequested || !result) {
        this.post({ type: "stopped", detail: "Stopped." });
        return undefined;
      }
      // Partial results may be dropped when the answer arrives first; the final text is authoritative.
      if (result.text !== this.lastText) {
        this.lastText = result.text;
        this.post({ type: "start", title: `Explain ${fileName}:${lines}`, model });
        this.post({ type: "delta", text: result.text });
      }
      this.post({ type: "done", detail: `Done: ${result.tokens} tokens, ${result.promptStyle} prompt, stopped by ${result.stopReason}.` });
      return result;
    } catch (err) {
      if (cts.token.isCancellationRequested) {
        this.post({ type: "stopped", detail: "Stopped." });
      } else {
        const message = (err as Error)?.message ?? String(err);
        this.log.error(`ghostline/explain failed: ${message}`);
        this.post({ type: "error", message: `Explain failed: ${message}` });
      }
      return undefined;
    } finally {
      progress.dispose();
      this.engine.refreshHealthSoon();
      if (this.running === cts) this.running = undefined;
      cts.dispose();
    }
  }

  private show(): vscode.WebviewPanel {
    if (this.panel) {
      this.panel.reveal(vscode.ViewColumn.Beside, true);
      return this.panel;
    }
    const panel = vscode.window.createWebviewPanel("ghostline.explain", "Ghostline: Explain", { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [],
    });
    panel.webview.html = explainHtml(randomBytes(16).toString("hex"), panel.webview.cspSource);
    panel.webview.onDidReceiveMessage((m: FromPanel) => {
      if (m?.type === "stop") this.stop();
    });
    panel.onDidDispose(() => {
      this.stop();
      this.panel = undefined;
    });
    this.panel = panel;
    return panel;
  }

  private post(m: ToPanel): void {
    void this.panel?.webview.postMessage(m);
  }

  dispose(): void {
    this.stop();
    this.panel?.dispose();
  }
}
