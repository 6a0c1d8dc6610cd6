// The packaged extension in a real VS Code (code-server) driven through Chromium: ghost text appears and Tab
// accepts it, Explain Selection streams into its panel, the status bar shows the engine's health, and a killed
// engine comes back. Started by run-e2e.sh, which sets the environment below. Screenshots: test-results/e2e/.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run test/e2e/run-e2e.sh`);
  return v;
};
const url = env("GHOSTLINE_E2E_URL");
const workspace = env("GHOSTLINE_E2E_WORKSPACE");
const extensionDir = env("GHOSTLINE_E2E_EXTENSION_DIR");
const shots = path.resolve("test-results", "e2e");
fs.mkdirSync(shots, { recursive: true });

let browser;
let page;
const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`) });

/** Engine processes started from this run's extension folder (so only ours). */
function enginePids() {
  try {
    const out = execFileSync("pgrep", ["-f", path.join(extensionDir, "dist", "engine.js")], { encoding: "utf8" });
    return out.split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const status = () => page.locator('.part.statusbar [aria-label^="Ghostline:"]').first();
async function statusText() {
  return ((await status().getAttribute("aria-label")) ?? "").replace(/^Ghostline:\s*/, "");
}
async function waitForStatus(re, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  let last = "";
  while (Date.now() < deadline) {
    last = await statusText().catch(() => "");
    if (re.test(last)) return last;
    await page.waitForTimeout(200);
  }
  throw new Error(`status bar never matched ${re}; last: "${last}"`);
}

/** Hovers the status item until its tooltip matches (a tooltip shown earlier may be stale for a moment). */
async function waitForTooltip(re, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  let last = "";
  while (Date.now() < deadline) {
    await page.mouse.move(400, 400);
    await status().hover();
    const hover = page.locator(".monaco-hover", { hasText: "KV slots" }).first();
    await hover.waitFor({ timeout: 5_000 }).catch(() => {});
    last = ((await hover.textContent().catch(() => "")) ?? "").replace(/\u00a0/g, " ");
    if (re.test(last)) return last;
    await page.waitForTimeout(300);
  }
  return last;
}

async function runCommand(title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible" });
  await input.fill(`>${title}`);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor();
  await page.keyboard.press("Enter");
}

async function openFile(name) {
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible" });
  await input.fill(name);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: name }).first().waitFor();
  await page.keyboard.press("Enter");
  await page.locator(`.tab[aria-label^="${name}"]`).first().waitFor();
  // The editor area only: the chat input and other panels hold Monaco editors too.
  await page.locator(".part.editor .editor-instance .monaco-editor .view-lines").first().click();
}

/** The ghost text now shown in the editor (inline part plus any extra lines), or "" when none. */
async function ghostText() {
  return page.evaluate(() =>
    [...document.querySelectorAll('.part.editor .monaco-editor [class*="ghost-text"]')]
      .map((e) => e.textContent ?? "")
      .join("\n")
      .replace(/\u00a0/g, " "),
  );
}
async function waitForGhostText(timeout = 30_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const t = await ghostText();
    if (t.trim().length > 0) return t;
    await page.waitForTimeout(100);
  }
  throw new Error("no ghost text appeared");
}

describe("Ghostline in VS Code (code-server)", () => {
  before(async () => {
    browser = await chromium.launch({ executablePath: env("GHOSTLINE_E2E_CHROMIUM"), args: ["--no-sandbox", "--disable-gpu"] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    await page.locator(".monaco-workbench").waitFor({ timeout: 60_000 });
  });

  after(async () => {
    if (page) await shot("final").catch(() => {});
    await browser?.close();
  });

  it("starts the engine and shows its backend in the status bar", async () => {
    const text = await waitForStatus(/CPU · (ready|\d+ tok\/s)/, 90_000);
    assert.match(text, /CPU/);
    assert.equal(enginePids().length, 1, "one engine process");
    // The markdown tooltip lists the health facts and the command links.
    await status().hover();
    const hover = page.locator(".monaco-hover", { hasText: "KV slots" }).first();
    await hover.waitFor({ timeout: 15_000 });
    const tip = (await hover.textContent()) ?? "";
    for (const fact of ["Device", "Model", "Memory", "Live GPU objects", "Last speeds", "Restarts", "Restart Engine", "Switch to CPU", "Show Logs", "Select Model"]) {
      assert.ok(tip.includes(fact), `the tooltip names ${fact}`);
    }
    await shot("1-status-ready");
    await page.mouse.move(400, 400);
  });

  it("shows ghost text while typing and accepts it with Tab", async () => {
    await openFile("story.txt");
    await page.keyboard.press("Control+End");
    await page.keyboard.type("One day, Lily", { delay: 30 });
    const ghost = await waitForGhostText();
    await shot("2-ghost-text");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Control+S");
    const firstLine = ghost.split("\n")[0];
    const deadline = Date.now() + 10_000;
    let saved = "";
    while (Date.now() < deadline) {
      saved = fs.readFileSync(path.join(workspace, "story.txt"), "utf8");
      if (saved.includes(`One day, Lily${firstLine}`)) break;
      await page.waitForTimeout(200);
    }
    assert.ok(saved.includes(`One day, Lily${firstLine}`), `the accepted suggestion "${firstLine}" is in the saved file:\n${saved}`);
    // The status bar catches up with the speed of the completions just made.
    await waitForStatus(/CPU · \d+ tok\/s/, 10_000);
    await shot("3-accepted");
  });

  it("explains the selection in a side panel that names the model", async () => {
    await openFile("math.js");
    await page.keyboard.press("Control+A");
    await runCommand("Ghostline: Explain Selection");
    const deadline = Date.now() + 60_000;
    let found;
    while (Date.now() < deadline && !found) {
      for (const frame of page.frames()) {
        const out = frame.locator('[data-testid="ghostline-explain-status"]');
        if ((await out.count().catch(() => 0)) === 0) continue;
        const s = (await out.textContent().catch(() => "")) ?? "";
        if (/^Done/.test(s)) {
          found = {
            text: (await frame.locator('[data-testid="ghostline-explain-output"]').textContent()) ?? "",
            model: (await frame.locator("#model").textContent()) ?? "",
            status: s,
          };
        }
      }
      if (!found) await page.waitForTimeout(250);
    }
    await shot("4-explain");
    assert.ok(found, "the Explain panel finished");
    assert.ok(found.text.trim().length > 0, "the explanation has text");
    assert.match(found.model, /model: \S+/);
  });

  it("refuses to explain an empty selection with a clear message", async () => {
    await openFile("math.js");
    await page.keyboard.press("Control+Home");
    await runCommand("Ghostline: Explain Selection");
    await page.locator(".notifications-toasts", { hasText: "the selection is empty" }).first().waitFor({ timeout: 15_000 });
    await shot("5-empty-selection");
  });

  it("shows the health tooltip facts in Show Engine Health", async () => {
    await runCommand("Ghostline: Show Engine Health");
    await page.locator(".part.editor .monaco-editor .view-lines", { hasText: "Ghostline engine health" }).first().waitFor({ timeout: 15_000 });
    const raw = await page.locator(".part.editor .monaco-editor .view-lines", { hasText: "Ghostline engine health" }).first().textContent();
    const text = (raw ?? "").replace(/\u00a0/g, " ");
    assert.match(text, /KV slots \| \d+ of \d+ in use/);
    assert.match(text, /Why no suggestion\?/);
    // The report is fresh: it counts the completions this test asked for.
    assert.match(text, /Completions \| [1-9]\d* received/);
    await shot("6-health");
  });

  it("restarts the engine after it is killed", async () => {
    const [pid] = enginePids();
    assert.ok(pid, "an engine process to kill");
    process.kill(pid, "SIGKILL");
    // The status goes through restarting/starting (brief) and back to the backend; the engine is a new process.
    const seen = new Set();
    const deadline = Date.now() + 60_000;
    let now = [];
    for (;;) {
      const text = await statusText().catch(() => "");
      seen.add(text);
      now = enginePids();
      if (/CPU · (ready|\d+ tok\/s)/.test(text) && now.length === 1 && now[0] !== pid) break;
      if (Date.now() > deadline) throw new Error(`the engine did not come back; status went through ${[...seen].join(" | ")}`);
      await page.waitForTimeout(100);
    }
    console.log(`status after the kill: ${[...seen].join(" -> ")}`);
    // The restart can be quicker than the status polling above, so its count in the tooltip is what proves it.
    const tip = await waitForTooltip(/1 engine restart\b/);
    assert.match(tip, /1 engine restart\b/);
    await shot("7-restarted-tooltip");
    await page.mouse.move(400, 400);
    // Ghost text works again with the new engine.
    await openFile("story.txt");
    await page.keyboard.press("Control+End");
    await page.keyboard.type(" The sun", { delay: 30 });
    await waitForGhostText();
    await shot("8-after-restart");
  });
});
