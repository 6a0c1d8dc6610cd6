/** Prefill and decode speed of Ghostline's own engine. */
import { argmax } from "../model/greedy";
import { noteFallback } from "../cli/args";
import { LocalModel } from "../model/localModel";
import { benchPrompt, type BandwidthProbe, type BenchPlan, type EngineTiming } from "./benchTypes";
import { decodeInWindows, summarizeDecodes, type WindowedDecode } from "./decodeWindows";

export async function benchGhostline(
  modelPath: string,
  plan: BenchPlan,
  probe?: BandwidthProbe,
): Promise<{ timing: EngineTiming; model: LocalModel }> {
  const model = await LocalModel.load(modelPath, {
    threads: plan.threads,
    backend: plan.backend,
    contextSize: plan.prefillTokens + plan.decodeTokens + 8,
    batchSize: plan.prefillTokens,
  });
  noteFallback(model.info);
  const prompt = benchPrompt(model.info.nVocab, plan.prefillTokens);
  let bestPrefill = Infinity;
  const decodes: WindowedDecode[] = [];
  for (let r = 0; r < plan.repeats; r++) {
    model.truncate(0, 0);
    const t0 = performance.now();
    const result = await model.eval(0, prompt);
    bestPrefill = Math.min(bestPrefill, performance.now() - t0);

    let next = argmax(result.logits);
    decodes.push(
      await decodeInWindows(
        async () => {
          // As a completion decodes: only the next token comes back (a GPU backend reads back its id alone).
          next = (await model.eval(0, [next], { argmaxOnly: true })).argmax!;
        },
        plan.decodeTokens,
        plan.windowTokens,
        probe,
      ),
    );
  }
  const decode = summarizeDecodes(decodes, model.info.weightBytesPerToken);
  const timing: EngineTiming = {
    engine: `ghostline (${model.info.kernels ?? model.info.backend})`,
    prefillTokensPerSecond: (plan.prefillTokens / bestPrefill) * 1000,
    decodeTokensPerSecond: (plan.decodeTokens / decode.bestMs) * 1000,
    ...decode.windowed,
  };
  return { timing, model };
}
