/**
 * Loads the first native binary (a .node file) of `candidates` that exists
 * and loads; otherwise returns what went wrong with each, for the caller's
 * error message.
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";

export function requireFirst<T>(candidates: string[]): { module: T } | { tried: string[] } {
  const require_ = createRequire(__filename);
  const tried: string[] = [];
  for (const candidate of candidates) {
    if (!fs.existsSync(candidate)) {
      tried.push(`${candidate}: not found`);
      continue;
    }
    try {
      return { module: require_(candidate) as T };
    } catch (err) {
      tried.push(`${candidate}: ${(err as Error).message}`);
    }
  }
  return { tried };
}
