// Bundles the command line (and, later, the extension and the engine) into dist/.
import * as esbuild from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: true,
  logLevel: "warning",
  // The addon is found at run time relative to the package root; node-llama-cpp is an optional
  // development dependency that only the benchmark imports.
  external: ["node-llama-cpp", "vscode"],
};

await esbuild.build({ ...common, entryPoints: ["engine/cli/main.ts"], outfile: "dist/cli.js" });
await esbuild.build({ ...common, entryPoints: ["engine/server/main.ts"], outfile: "dist/engine.js" });
await esbuild.build({ ...common, entryPoints: ["extension/extension.ts"], outfile: "dist/extension.js" });
