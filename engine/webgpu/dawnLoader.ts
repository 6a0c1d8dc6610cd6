/**
 * Finds Dawn's Node binding (dawn.node from the npm package `webgpu`) and
 * creates a `navigator.gpu` of our own. A packaged extension carries only
 * its own platform's binary, under prebuilds/; a checkout uses node_modules.
 */
import * as path from "node:path";
import { packageRoot } from "../native/loadAddon";
import { requireFirst } from "../native/requireFirst";

export interface DawnModule {
  gpu: GPU;
  /** GPUBufferUsage, GPUMapMode and the other constants, which Node has no globals for. */
  globals: { GPUBufferUsage: GPUBufferUsage; GPUMapMode: GPUMapMode };
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
  const found = requireFirst<{ create(flags: string[]): GPU; globals: DawnModule["globals"] }>(dawnCandidates(root));
  if ("tried" in found) {
    throw new Error(`WebGPU (Dawn) is not available for ${process.platform}-${process.arch}:\n${found.tried.map((t) => `  - ${t}`).join("\n")}`);
  }
  cached = { gpu: found.module.create([]), globals: found.module.globals };
  return cached;
}
