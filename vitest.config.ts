import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Native evaluation is multi-threaded already; one file at a time keeps timings and memory sane on 2 cores.
    fileParallelism: false,
  },
});
