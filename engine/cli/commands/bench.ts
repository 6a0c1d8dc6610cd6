/**
 * `ghostline bench`: prefill and decode speed of Ghostline and of llama.cpp on
 * the same file, beside the memory bandwidth measured in the same run and the
 * decode ceiling it implies.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { benchGhostline } from "../../bench/benchGhostline";
import { benchLlamaCpp } from "../../bench/benchLlamaCpp";
import { formatCompletionTraceReport, runCompletionTrace } from "../../bench/completionTrace";
import { formatBenchTable, type BenchReport } from "../../bench/benchTable";
import type { BandwidthProbe, BenchPlan, EngineTiming } from "../../bench/benchTypes";
import { median } from "../../bench/decodeWindows";
import type { NativeReadProbe } from "../../native/nativeApi";
import { writeSyntheticPreset, SYNTHETIC_PRESETS } from "../../bench/syntheticPresets";
import { loadAddon, packageRoot } from "../../native/loadAddon";
import { loadTokenizer } from "../../tokenizer/tokenizer";
import { benchTokenizer, makeBenchSource } from "../../tokenizer/tokenizerBench";
import { measureGpuReadBandwidth } from "../../webgpu/readBandwidth";
import { defaultModelPath, parse, parseBackend, parseCount, UsageError } from "../args";

/** The CPU probe's buffer: far beyond any last-level cache. */
const PROBE_BYTES = 1 << 30;
/** Reads per measurement between decode windows; the faster counts. */
const PROBE_PASSES = 2;

export async function benchCommand(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const opts = parse(argv, {
    model: { type: "string" },
    synthetic: { type: "string" },
    threads: { type: "string" },
    backend: { type: "string" },
    json: { type: "boolean", default: false },
    "no-llama-cpp": { type: "boolean", default: false },
    "prefill-tokens": { type: "string" },
    "decode-tokens": { type: "string" },
    repeats: { type: "string" },
    vocab: { type: "string", multiple: true },
    source: { type: "string" },
    "completion-trace": { type: "boolean", default: false },
    trace: { type: "string" },
  });
  if (opts["completion-trace"] === true) {
    const report = await runCompletionTrace({
      trace: (opts.trace as string | undefined) ?? path.join(packageRoot(), "bench", "traces", "lruCache.trace.json"),
      modelPath: (opts.model as string | undefined) ?? defaultModelPath(),
      settings: opts.threads !== undefined ? { threads: parseCount(opts.threads as string, "--threads", 0, 1, 256) } : undefined,
    });
    out.write((opts.json === true ? JSON.stringify(report, null, 2) : formatCompletionTraceReport(report)) + "\n");
    return;
  }
  const addon = loadAddon();
  const plan: BenchPlan = {
    threads: parseCount(opts.threads as string | undefined, "--threads", addon.cpuInfo().physicalCores, 1, 256),
    prefillTokens: parseCount(opts["prefill-tokens"] as string | undefined, "--prefill-tokens", 512, 1, 8192),
    decodeTokens: parseCount(opts["decode-tokens"] as string | undefined, "--decode-tokens", 128, 1, 8192),
    repeats: parseCount(opts.repeats as string | undefined, "--repeats", 2, 1, 100),
    backend: parseBackend(opts.backend as string | undefined),
    windowTokens: 8,
  };
  const log = (msg: string) => process.stderr.write(msg + "\n");

  let modelPath = (opts.model as string | undefined) ?? defaultModelPath();
  let tempDir: string | undefined;
  const synthetic = opts.synthetic as string | undefined;
  if (synthetic !== undefined) {
    if (opts.model !== undefined) throw new UsageError("give --model or --synthetic, not both");
    if (!(synthetic in SYNTHETIC_PRESETS)) {
      throw new UsageError(`--synthetic: unknown preset '${synthetic}' (known: ${Object.keys(SYNTHETIC_PRESETS).join(", ")})`);
    }
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "ghostline-bench-"));
    modelPath = path.join(tempDir, `synthetic-${synthetic}-q8_0.gguf`);
    log(`writing a ${synthetic}-shaped Q8_0 model with random weights to ${modelPath} ...`);
    await writeSyntheticPreset(synthetic, modelPath);
  }

  let readProbe: NativeReadProbe | undefined;
  try {
    // The ceiling belongs to the memory the weights stream from: the GPU's for WebGPU, measured once. On
    // the CPU it is measured between decode windows (decodeWindows.ts says why).
    let gpuBandwidth: number | undefined;
    let probe: BandwidthProbe | undefined;
    if (plan.backend === "webgpu") {
      log(`measuring GPU read bandwidth through WebGPU ...`);
      gpuBandwidth = (await measureGpuReadBandwidth(1 << 30, 10, true)).bytesPerSecond;
    } else {
      log(`preparing a read-bandwidth probe for ${plan.threads} threads ...`);
      readProbe = await addon.createReadProbe(plan.threads, PROBE_BYTES);
      const p = readProbe;
      probe = () => p.measure(PROBE_PASSES);
    }
    log(`timing ghostline ...`);
    const { timing, model } = await benchGhostline(modelPath, plan, probe);
    const info = model.info;
    model.free();
    const engines: EngineTiming[] = [timing];
    if (opts["no-llama-cpp"] !== true) {
      log(`timing llama.cpp ...`);
      try {
        // Ghostline's ceiling is the GPU's when it runs there; llama.cpp runs on the CPU, so its windows then go unmeasured.
        engines.push(await benchLlamaCpp(modelPath, info.nVocab, info.weightBytesPerToken, plan, plan.backend === "webgpu" ? undefined : probe));
      } catch (err) {
        engines.push({ engine: "llama.cpp", prefillTokensPerSecond: NaN, decodeTokensPerSecond: NaN, note: (err as Error).message });
      }
    }
    const measured = engines.flatMap((e) => e.bandwidths ?? []);
    const bandwidth = gpuBandwidth ?? median(measured);
    const report: BenchReport = {
      model: synthetic ? `synthetic ${synthetic}` : path.basename(modelPath),
      fileBytes: info.fileBytes,
      weightBytesPerToken: info.weightBytesPerToken,
      threads: plan.threads,
      kernels: info.kernels ?? info.backend,
      readBandwidthBytesPerSecond: bandwidth,
      bandwidthSamples: gpuBandwidth === undefined ? measured : undefined,
      decodeCeilingTokensPerSecond: bandwidth / info.weightBytesPerToken,
      prefillTokens: plan.prefillTokens,
      decodeTokens: plan.decodeTokens,
      engines,
      tokenizer: await benchTokenizers((opts.vocab as string[] | undefined) ?? [modelPath], opts.source as string | undefined, log),
    };
    out.write((opts.json === true ? JSON.stringify(report, null, 2) : formatBenchTable(report)) + "\n");
  } finally {
    readProbe?.free();
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
  }
}

/** Tokenizing a ~100 KB source file with each vocabulary: the median of 20 runs after a warm-up. */
async function benchTokenizers(vocabs: string[], sourcePath: string | undefined, log: (m: string) => void) {
  const source = sourcePath ? fs.readFileSync(sourcePath, "utf8") : makeBenchSource(100_000);
  const out: NonNullable<BenchReport["tokenizer"]> = [];
  for (const vocab of vocabs) {
    try {
      const tokenizer = await loadTokenizer(vocab);
      const r = benchTokenizer(tokenizer, source, 20);
      out.push({ vocab: path.basename(vocab), bytes: r.bytes, milliseconds: r.medianMs });
    } catch (err) {
      log(`tokenizer bench skipped for ${vocab}: ${(err as Error).message}`);
    }
  }
  return out;
}
