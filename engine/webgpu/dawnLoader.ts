/**
 * Finds Dawn's Node binding (dawn.node from the npm package `webgpu`) and
 * creates a `navigator.gpu` of our own. A packaged extension carries only
 * its own platform's binary, under prebuilds/; a checkout uses node_modules.
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { packageRoot } from "../native/loadAddon";

export interface DawnModule {
  gpu: GPU;
  /** GPUBufferUsage, GPUMapMode and the other constants, which Node has no globals for. */
  globals: { GPUBufferUsage: GPUBufferUsage; GPUMapMode: GPUMapMode };
  path: string;
}

let cached: DawnModule | undefined;

export function dawnCandidates(root: string): string[] {
  const platformDir = `${process.platform}-${process.platform === "darwin" ? "universal" : process.arch}`;
  return [
    path.join(root, "prebuilds", `${process.platform}-${process.arch}`, "dawn.node"),
    path.join(root, "node_modules", "webgpu", "dist", platformDir, "dawn.node"),
  ];
}

/** Loads Dawn once per process; throws with every place tried when it cannot. */
export function loadDawn(root: string = packageRoot()): DawnModule {
  if (cached) return cached;
  const require_ = createRequire(__filename);
  const tried: string[] = [];
  for (const candidate of dawnCandidates(root)) {
    if (!fs.existsSync(candidate)) {
      tried.push(`${candidate}: not found`);
      continue;
    }
    try {
      const mod = require_(candidate) as { create(flags: string[]): GPU; globals: DawnModule["globals"] };
      cached = { gpu: mod.create([]), globals: mod.globals, path: candidate };
      return cached;
    } catch (err) {
      tried.push(`${candidate}: ${(err as Error).message}`);
    }
  }
  throw new Error(`WebGPU (Dawn) is not available for ${process.platform}-${process.arch}:\n${tried.map((t) => `  - ${t}`).join("\n")}`);
}
