// `npm run package`: bundles, stages the native addon for this platform under prebuilds/ (where the
// engine looks first), and builds a platform-specific .vsix with vsce. Run after `npm run build:native`.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.resolve(import.meta.dirname, "..", "..");
const platformDir = `${process.platform}-${process.arch}`;
// vsce's target names: linux-x64, darwin-arm64, win32-x64, alpine-x64 ...
const target = platformDir;
const addon = path.join(root, "native", "build", "Release", "ghostline.node");
if (!fs.existsSync(addon)) {
  console.error(`package: ${addon} is missing; build it first with npm run build:native`);
  process.exit(1);
}
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

run(process.execPath, ["esbuild.mjs"]);
const staged = path.join(root, "prebuilds", platformDir);
fs.rmSync(path.join(root, "prebuilds"), { recursive: true, force: true });
fs.mkdirSync(staged, { recursive: true });
fs.copyFileSync(addon, path.join(staged, "ghostline.node"));
// Dawn (WebGPU) for this platform only; the npm package carries every platform's binary.
const dawnDir = `${process.platform}-${process.platform === "darwin" ? "universal" : process.arch}`;
const dawn = path.join(root, "node_modules", "webgpu", "dist", dawnDir);
if (fs.existsSync(path.join(dawn, "dawn.node"))) {
  // Windows builds need the DirectX compiler DLLs beside dawn.node.
  for (const f of fs.readdirSync(dawn)) fs.copyFileSync(path.join(dawn, f), path.join(staged, f));
} else {
  console.warn(`package: no Dawn binary for ${dawnDir}; the WebGPU backend will be unavailable`);
}

const version = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version;
const out = path.join(root, `ghostline-${target}-${version}.vsix`);
const vsce = path.join(root, "node_modules", "@vscode", "vsce", "vsce");
try {
  run(process.execPath, [vsce, "package", "--no-dependencies", "--skip-license", "--allow-missing-repository", "--no-rewrite-relative-links", "--target", target, "--out", out]);
} finally {
  // The engine tries prebuilds/ before native/build/, so a staged copy left here would shadow later local builds.
  fs.rmSync(path.join(root, "prebuilds"), { recursive: true, force: true });
}
console.log(`package: wrote ${path.relative(root, out)}`);
