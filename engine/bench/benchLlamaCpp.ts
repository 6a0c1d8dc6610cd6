/**
 * The same measurements on llama.cpp, through node-llama-cpp's prebuilt CPU
 * binaries (a development dependency), on the same file and thread count.
 */
import { packageRoot } from "../native/loadAddon";
import { benchPrompt, type BandwidthProbe, type BenchPlan, type EngineTiming } from "./benchTypes";
import { decodeInWindows, summarizeDecodes, type WindowedDecode } from "./decodeWindows";

/** `weightBytesPerToken`: what Ghostline's loader counted for the same file, to put llama.cpp's decode against the same ceiling. */
export async function benchLlamaCpp(
  modelPath: string,
  nVocab: number,
  weightBytesPerToken: number,
  plan: BenchPlan,
  probe?: BandwidthProbe,
): Promise<EngineTiming> {
  let lib: typeof import("node-llama-cpp");
  try {
    lib = await import("node-llama-cpp");
  } catch (err) {
    throw new Error(`node-llama-cpp is not installed (npm ci installs it as a development dependency): ${(err as Error).message}`);
  }
  const llama = await lib.getLlama({ gpu: false, build: "never", logLevel: lib.LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const context = await model.createContext({
    contextSize: plan.prefillTokens + plan.decodeTokens + 8,
    batchSize: plan.prefillTokens,
    threads: plan.threads,
    sequences: 1,
  });
  try {
    const prompt = benchPrompt(nVocab, plan.prefillTokens) as unknown as import("node-llama-cpp").Token[];
    let bestPrefill = Infinity;
    const decodes: WindowedDecode[] = [];
    for (let r = 0; r < plan.repeats; r++) {
      const sequence = context.getSequence();
      try {
        const t0 = performance.now();
        await sequence.evaluateWithoutGeneratingNewTokens(prompt);
        bestPrefill = Math.min(bestPrefill, performance.now() - t0);

        // Greedy generation, one decode step per token the generator is asked for.
        const tokens = sequence.evaluate([prompt[prompt.length - 1]], { temperature: 0 })[Symbol.asyncIterator]();
        try {
          decodes.push(
            await decodeInWindows(
              async () => {
                if ((await tokens.next()).done) throw new Error("llama.cpp stopped generating before the bench's decode count");
              },
              plan.decodeTokens,
              plan.windowTokens,
              probe,
            ),
          );
        } finally {
          await tokens.return?.();
        }
      } finally {
        sequence.dispose();
      }
    }
    const decode = summarizeDecodes(decodes, weightBytesPerToken);
    return {
      engine: `llama.cpp (node-llama-cpp ${await packageVersion()}, ${llama.buildType} cpu)`,
      prefillTokensPerSecond: (plan.prefillTokens / bestPrefill) * 1000,
      decodeTokensPerSecond: (plan.decodeTokens / decode.bestMs) * 1000,
      ...decode.windowed,
    };
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
}

async function packageVersion(): Promise<string> {
  try {
    const fs = await import("node:fs");
    const path = await import("node:path");
    const file = path.join(packageRoot(), "node_modules", "node-llama-cpp", "package.json");
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}
