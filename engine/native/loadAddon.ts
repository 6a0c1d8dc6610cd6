/**
 * Finds and loads the native addon. Tries the prebuilt binary for this
 * platform first (shipped in the .vsix), then the local build; on failure the
 * error lists every place tried and what to do.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { NativeAddon } from "./nativeApi";
import { requireFirst } from "./requireFirst";

let cached: NativeAddon | undefined;

/** Candidate paths, best first, relative to the package root. */
export function addonCandidates(root: string): string[] {
  const platformDir = `${process.platform}-${process.arch}`;
  return [
    path.join(root, "prebuilds", platformDir, "ghostline.node"),
    path.join(root, "native", "build", "Release", "ghostline.node"),
    path.join(root, "native", "build", "Debug", "ghostline.node"),
  ];
}

/**
 * The package root: the nearest folder above this file holding package.json
 * and either the native sources (a checkout) or prebuilt binaries (a .vsix).
 */
export function packageRoot(start: string = __dirname): string {
  let dir = start;
  for (;;) {
    const hasBinaries = fs.existsSync(path.join(dir, "native")) || fs.existsSync(path.join(dir, "prebuilds"));
    if (hasBinaries && fs.existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
}

export function loadAddon(root: string = packageRoot()): NativeAddon {
  if (cached) return cached;
  const found = requireFirst<NativeAddon>(addonCandidates(root));
  if ("module" in found) {
    cached = found.module;
    return cached;
  }
  throw new Error(
    `Ghostline's native engine could not be loaded for ${process.platform}-${process.arch}.\n` +
      found.tried.map((t) => `  - ${t}`).join("\n") +
      "\nPossible solutions:\n" +
      "  - build it: npm run build:native (needs a C++17 compiler and python3)\n" +
      "  - reinstall the extension package made for this platform",
  );
}
