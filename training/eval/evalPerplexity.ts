/**
 * Held-out perplexity through the engine: the first windows of the held-out
 * token stream (val.u16.xz, the same consecutive windows training/train.py
 * scores), each evaluated from an empty cache with all logits.
 *
 *   node evalPerplexity.js <model.gguf> <val.u16.xz> [windows=16] [windowTokens=2048] [metrics.json from training]
 *
 * With the training metrics, it also prints torch's loss on the same windows.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { LocalModel } from "../../engine/model/localModel";

function logSoftmaxAt(logits: Float32Array, offset: number, n: number, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[offset + i] - max);
  return logits[offset + target] - max - Math.log(sum);
}

async function main(): Promise<void> {
  const [modelPath, valPath, windowsArg = "16", windowArg = "2048", metricsPath] = process.argv.slice(2);
  if (!modelPath || !valPath) {
    console.error("usage: evalPerplexity <model.gguf> <val.u16.xz> [windows] [windowTokens] [metrics.json]");
    process.exit(2);
  }
  const windows = Number(windowsArg);
  const t = Number(windowArg);
  const raw = execFileSync("xz", ["-dc", valPath], { maxBuffer: 1 << 30 });
  const ids = new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2);
  const model = await LocalModel.load(modelPath, { contextSize: t, threads: 2 });
  const nVocab = model.info.nVocab;
  let nll = 0;
  let count = 0;
  const perWindow: number[] = [];
  const t0 = Date.now();
  try {
    for (let w = 0; w < windows && (w + 1) * t + 1 <= ids.length; w++) {
      const x = Array.from(ids.subarray(w * t, (w + 1) * t));
      model.truncate(0, 0);
      const { logits } = await model.eval(0, x, { allLogits: true });
      let windowNll = 0;
      for (let i = 0; i < t; i++) windowNll -= logSoftmaxAt(logits, i * nVocab, nVocab, ids[w * t + i + 1]);
      perWindow.push(windowNll / t);
      nll += windowNll;
      count += t;
    }
  } finally {
    model.free();
  }
  const loss = nll / count;
  const result: Record<string, unknown> = { model: modelPath, windows: perWindow.length, tokens: count, loss, perplexity: Math.exp(loss), seconds: (Date.now() - t0) / 1000 };
  if (metricsPath) {
    const m = JSON.parse(fs.readFileSync(metricsPath, "utf8")) as { val_window_losses: number[] };
    const same = m.val_window_losses.slice(0, perWindow.length);
    const torchLoss = same.reduce((a, b) => a + b, 0) / same.length;
    result.torchLossSameWindows = torchLoss;
    result.torchPerplexitySameWindows = Math.exp(torchLoss);
  }
  console.log(JSON.stringify(result, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
