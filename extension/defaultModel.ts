/**
 * The model used when the user has set none: the one place that names the
 * files shipped in `models/`. The trained code model (with FIM) is preferred;
 * the tiny story model, which only continues a prefix, is the fallback.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Shipped model files, best first, relative to the extension's root. */
export const SHIPPED_MODELS = ["models/ghostline-coder-q8_0.gguf", "models/stories260K-q8_0.gguf"] as const;

/** The first shipped model that exists; the last one's path when none does, so the engine's error names it. */
export function defaultModelPath(extensionRoot: string, exists: (p: string) => boolean = fs.existsSync): string {
  const candidates = SHIPPED_MODELS.map((file) => path.join(extensionRoot, file));
  return candidates.find((p) => exists(p)) ?? candidates[candidates.length - 1];
}
