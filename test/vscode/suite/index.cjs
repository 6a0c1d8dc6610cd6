// Runs inside VS Code's extension host (started by runTests.mjs): drives the real provider and commands.
// A small runner of its own (no mocha): each test is a named async function; failures are listed at the end.
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const vscode = require("vscode");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function openAtEnd(name) {
  const folder = vscode.workspace.workspaceFolders[0].uri;
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, name));
  const editor = await vscode.window.showTextDocument(doc);
  const end = doc.lineAt(doc.lineCount - 1).range.end;
  editor.selection = new vscode.Selection(end, end);
  return editor;
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });
let api;

test("activates and loads the shipped model", async () => {
  const ext = vscode.extensions.getExtension("ghostline.ghostline");
  assert.ok(ext, "the extension is installed");
  api = await ext.activate();
  const h = await until("a ready engine", () => api.engine.health?.state === "ready" && api.engine.health);
  assert.match(h.model.path, /models[\\/].+\.gguf$/);
});

test("shows a completion through the real inline provider and accepts it", async () => {
  const editor = await openAtEnd("story.txt");
  await editor.edit((b) => b.insert(editor.selection.active, "One day, Lily"));
  const before = editor.document.getText();
  await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
  await until("a suggestion", () => api.inline.why.last?.outcome.kind === "shown", 30_000);
  await vscode.commands.executeCommand("editor.action.inlineSuggest.commit");
  await until("the accepted text", () => editor.document.getText().length > before.length, 10_000);
  assert.ok(editor.document.getText().startsWith(before));
});

test("serves the rest of a suggestion from the cache while its characters are typed", async () => {
  const editor = await openAtEnd("story.txt");
  await editor.edit((b) => b.insert(editor.selection.active, "\nThe sun"));
  await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
  const shown = await until("a suggestion", () => api.inline.why.last?.outcome.kind === "shown" && api.inline.why.last, 30_000);
  assert.equal(shown.outcome.fromCache, false);
  await vscode.commands.executeCommand("editor.action.inlineSuggest.acceptNextWord");
  await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
  await until("a cached suggestion", () => api.inline.why.last?.outcome.fromCache === true, 10_000);
});

test("sends no request while completions are off, and says why", async () => {
  const config = vscode.workspace.getConfiguration("ghostline");
  await config.update("enabled", false, vscode.ConfigurationTarget.Global);
  try {
    const editor = await openAtEnd("story.txt");
    await editor.edit((b) => b.insert(editor.selection.active, " and"));
    await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
    await until("the 'off' outcome", () => api.inline.why.last?.outcome.kind === "off", 10_000);
  } finally {
    await config.update("enabled", undefined, vscode.ConfigurationTarget.Global);
  }
});

test("explains a selection and refuses an empty one", async () => {
  const editor = await openAtEnd("math.js");
  editor.selection = new vscode.Selection(0, 0, 3, 1);
  const result = await vscode.commands.executeCommand("ghostline.explainSelection");
  assert.ok(result && result.text.length > 0, "an explanation");
  assert.equal(api.explain.lastText, result.text);
  editor.selection = new vscode.Selection(1, 0, 1, 0);
  assert.equal(await vscode.commands.executeCommand("ghostline.explainSelection"), undefined);
});

test("restarts the engine on request and after it is killed", async () => {
  await vscode.commands.executeCommand("ghostline.restartEngine");
  await until("a ready engine after Restart", () => api.engine.health?.state === "ready");
  const client = api.engine.languageClient;
  // The client's child process: killing it is what a native crash looks like from here.
  client._serverProcess.kill("SIGKILL");
  await until("a restart", () => api.engine.state === "restarting", 10_000);
  await until("a ready engine after the crash", () => api.engine.isRunning && api.engine.health?.state === "ready");
  assert.equal(api.engine.context.processRestarts, 1);
});

test("keeps the previous model when the picked file is not a model", async () => {
  const before = api.engine.health.model.path;
  const bogus = path.join(os.tmpdir(), `ghostline-not-a-model-${process.pid}.gguf`);
  fs.writeFileSync(bogus, "this is not a GGUF file");
  try {
    assert.equal(await vscode.commands.executeCommand("ghostline.selectModel", bogus), false);
    await until("the previous model back", () => api.engine.health?.state === "ready" && api.engine.health.model?.path === before);
    assert.equal(vscode.workspace.getConfiguration("ghostline").get("modelPath"), "");
  } finally {
    fs.rmSync(bogus, { force: true });
  }
});

test("switches to a model that loads, and records it in the settings", async () => {
  const copy = path.join(os.tmpdir(), `ghostline-model-copy-${process.pid}.gguf`);
  fs.copyFileSync(api.engine.health.model.path, copy);
  const config = vscode.workspace.getConfiguration("ghostline");
  try {
    assert.equal(await vscode.commands.executeCommand("ghostline.selectModel", copy), true);
    assert.equal(api.engine.health.model.path, copy);
    assert.equal(vscode.workspace.getConfiguration("ghostline").get("modelPath"), copy);
  } finally {
    await config.update("modelPath", undefined, vscode.ConfigurationTarget.Global);
    await until("the shipped model back", () => api.engine.health?.state === "ready" && api.engine.health.model?.path !== copy);
    fs.rmSync(copy, { force: true });
  }
});

test("opens Show Engine Health", async () => {
  await vscode.commands.executeCommand("ghostline.showHealth");
  const doc = await until("the health document", () => vscode.window.visibleTextEditors.map((e) => e.document).find((d) => d.uri.scheme === "ghostline-health"));
  assert.match(doc.getText(), /Why no suggestion\?/);
});

exports.run = async function run() {
  const failures = [];
  for (const t of tests) {
    const started = Date.now();
    try {
      await t.fn();
      console.log(`  ok   ${t.name} (${Date.now() - started} ms)`);
    } catch (err) {
      failures.push(t.name);
      console.log(`  FAIL ${t.name}: ${err && err.stack ? err.stack : err}`);
    }
  }
  console.log(`${tests.length - failures.length} passed, ${failures.length} failed`);
  if (failures.length) throw new Error(`${failures.length} integration test(s) failed: ${failures.join("; ")}`);
};
