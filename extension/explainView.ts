/**
 * The Explain panel's page: a header naming the model, a Stop button and the
 * explanation streaming in as plain text. The page shows text only through
 * textContent, so nothing the model writes becomes markup; it talks to the extension only through postMessage.
 */

/** Messages from the extension to the page. */
export type ToPanel =
  | { type: "start"; title: string; model: string }
  | { type: "delta"; text: string }
  | { type: "done"; detail: string }
  | { type: "stopped"; detail: string }
  | { type: "error"; message: string };

/** Messages from the page to the extension. */
export type FromPanel = { type: "stop" };

export function explainHtml(nonce: string, cspSource: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 12px; }
  header { display: flex; align-items: center; gap: 12px; position: sticky; top: 0; background: var(--vscode-editor-background); padding: 8px 0; }
  header h2 { margin: 0; font-size: 1.1em; flex: 1; }
  #model { color: var(--vscode-descriptionForeground); }
  button { background: var(--vscode-button-background); color: var(--vscode-button-foreground); border: none; padding: 4px 12px; cursor: pointer; }
  button:disabled { opacity: 0.5; cursor: default; }
  #out { white-space: pre-wrap; font-family: var(--vscode-editor-font-family); line-height: 1.4; }
  #status { color: var(--vscode-descriptionForeground); margin-top: 8px; }
  #status.error { color: var(--vscode-errorForeground); }
</style>
</head>
<body>
<header><h2 id="title">Explain</h2><span id="model"></span><button id="stop" disabled>Stop</button></header>
<div id="out" data-testid="ghostline-explain-output"></div>
<div id="status" data-testid="ghostline-explain-status"></div>
<script nonce="${nonce}">
  const vscode = acquireVsCodeApi();
  const $ = (id) => document.getElementById(id);
  $("stop").addEventListener("click", () => vscode.postMessage({ type: "stop" }));
  window.addEventListener("message", (event) => {
    const m = event.data;
    if (m.type === "start") {
      $("title").textContent = m.title;
      $("model").textContent = "model: " + m.model;
      $("out").textContent = "";
      $("status").textContent = "generating…";
      $("status").className = "";
      $("stop").disabled = false;
    } else if (m.type === "delta") {
      $("out").textContent += m.text;
    } else if (m.type === "done" || m.type === "stopped") {
      $("status").textContent = m.detail;
      $("stop").disabled = true;
    } else if (m.type === "error") {
      $("status").textContent = m.message;
      $("status").className = "error";
      $("stop").disabled = true;
    }
  });
</script>
</body>
</html>`;
}
