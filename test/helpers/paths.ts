/** Where tests find the repository and the shared reference data beside it. */
import * as path from "node:path";

export const repoRoot = path.resolve(__dirname, "../..");
export const sharedTestdata = path.resolve(repoRoot, "../shared/testdata");
