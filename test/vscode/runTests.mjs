// `npm run test:vscode`: integration tests in a real VS Code through @vscode/test-electron. The runner would
// download VS Code, which these machines cannot, so it runs only with VS Code at hand: VSCODE_PATH (a VS Code
// executable, e.g. /usr/share/code/code) or a download already cached in .vscode-test/. Otherwise it says
// clearly that it skipped. Run it on the minimum supported VS Code (1.91) and on stable.
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.resolve(import.meta.dirname, "..", "..");

function findVSCode() {
  if (process.env.VSCODE_PATH) {
    if (!fs.existsSync(process.env.VSCODE_PATH)) throw new Error(`VSCODE_PATH=${process.env.VSCODE_PATH} does not exist`);
    return process.env.VSCODE_PATH;
  }
  const cache = path.join(root, ".vscode-test");
  if (!fs.existsSync(cache)) return undefined;
  for (const dir of fs.readdirSync(cache).filter((d) => d.startsWith("vscode-")).sort().reverse()) {
    for (const exe of ["code", "Visual Studio Code.app/Contents/MacOS/Electron", "Code.exe"]) {
      const p = path.join(cache, dir, exe);
      if (fs.existsSync(p)) return p;
    }
  }
  return undefined;
}

const vscodeExecutablePath = findVSCode();
if (!vscodeExecutablePath) {
  console.log("SKIPPED: the @vscode/test-electron integration tests need VS Code, which cannot be downloaded here.");
  console.log("         Set VSCODE_PATH to a VS Code executable (or keep a download in .vscode-test/) to run them.");
  process.exit(0);
}

const { runTests } = await import("@vscode/test-electron");
const fixture = path.join(root, "test", "e2e", "fixture");
const workspace = fs.mkdtempSync(path.join(root, "..", "ghostline-vscode-test-"));
fs.cpSync(fixture, workspace, { recursive: true });
try {
  await runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(import.meta.dirname, "suite", "index.cjs"),
    launchArgs: [workspace, "--disable-extensions", "--disable-workspace-trust", "--skip-welcome", "--skip-release-notes"],
  });
} catch (err) {
  console.error(`integration tests failed: ${err?.message ?? err}`);
  process.exitCode = 1;
} finally {
  fs.rmSync(workspace, { recursive: true, force: true });
}
