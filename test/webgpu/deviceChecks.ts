/**
 * The WebGPU checks for a GPU machine without Node tooling (no vitest):
 * stories260K against llama.cpp's logits with both dot-product paths,
 * synthetic shapes against the CPU backend, and a 1,000-request soak with
 * counters. Prints one line per check and exits non-zero on any failure.
 *
 *   node webgpuDeviceChecks.js <folder with stories260K-*.gguf and stories260K.reference.json>
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildSyntheticLlama, type SyntheticLlamaSpec } from "../../engine/gguf/syntheticLlama";
import { loadAddon } from "../../engine/native/loadAddon";
import { WebGpuModel } from "../../engine/webgpu/webgpuModel";
import { compareLogits, rows } from "../helpers/logitStats";
import { soakRequests } from "./soakRequests";

let failures = 0;
function report(name: string, ok: boolean, detail: string): void {
  if (!ok) failures++;
  console.log(`${ok ? "PASS" : "FAIL"} ${name}: ${detail}`);
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  const ref = JSON.parse(fs.readFileSync(path.join(dir, "stories260K.reference.json"), "utf8"));
  const tol = { "stories260K-f32.gguf": [0.005, 0.03, 0.97], "stories260K-q8_0.gguf": [0.06, Infinity, 0.9] } as const;
  for (const file of Object.keys(tol) as (keyof typeof tol)[]) {
    for (const dot of ["packed", "float"] as const) {
      const m = await WebGpuModel.load(path.join(dir, file), { allowSoftware: true, dot, nCtx: 256, nBatch: 64 });
      if (file === "stories260K-f32.gguf" && dot === "packed") console.log(`device: ${m.info().device}`);
      for (const name of ["story64", "story200", "short8"]) {
        m.truncate(0, 0);
        const seq = ref.sequences[name];
        const r = await m.eval(0, Int32Array.from(seq.tokens), true);
        const g = compareLogits(rows(r.logits, 512), seq[file].logits);
        const [med, worst, arg] = tol[file];
        report(`${file} ${dot} ${name}`, g.median <= med && g.worst <= worst && g.argmaxAgreement >= arg, `median ${g.median.toFixed(4)} worst ${g.worst.toFixed(4)} argmax ${(100 * g.argmaxAgreement).toFixed(1)}%`);
      }
      m.free();
    }
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ghostline-webgpu-device-"));
  const base: SyntheticLlamaSpec = { dim: 256, nLayers: 2, nHeads: 8, nKvHeads: 2, headDim: 32, ffnDim: 384, vocab: 1007, ctx: 512, tiedOutput: false, normEps: 1e-5 };
  const shapes: [string, Partial<SyntheticLlamaSpec>][] = [
    ["q8_0 gqa4 hd32", {}],
    ["q8_0 gqa8 hd128 tied", { dim: 512, nHeads: 8, nKvHeads: 1, headDim: 128, tiedOutput: true }],
    ["q8_0 mha hd64, 300 positions", { nHeads: 4, nKvHeads: 4, headDim: 64 }],
  ];
  for (const [i, [name, spec]] of shapes.entries()) {
    const file = path.join(tmp, `s${i}.gguf`);
    await buildSyntheticLlama({ ...base, ...spec }, 50 + i).writer.writeFile(file);
    const n = i === 2 ? 300 : 40;
    const tokens = Int32Array.from({ length: n }, (_, k) => (k * 7919 + i) % 1007);
    const cpu = await loadAddon().loadModel(file, { threads: 8, nCtx: 512, nBatch: 512, nSlots: 1, kvType: "f16", backend: "cpu" });
    const want = rows((await cpu.eval(0, tokens, true)).logits, 1007);
    cpu.free();
    const gpu = await WebGpuModel.load(file, { allowSoftware: true, nCtx: 512, nBatch: 64 });
    const got = rows((await gpu.eval(0, tokens, true)).logits, 1007);
    gpu.free();
    const g = compareLogits(got, want);
    report(`synthetic ${name} vs CPU`, g.median <= 0.06 && g.argmaxAgreement >= 0.9, `median ${g.median.toFixed(4)} worst ${g.worst.toFixed(4)} argmax ${(100 * g.argmaxAgreement).toFixed(1)}%`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });

  const m = await WebGpuModel.load(path.join(dir, "stories260K-q8_0.gguf"), { allowSoftware: true, nCtx: 256, nBatch: 32, nSlots: 2 });
  const story = Int32Array.from(ref.sequences.story200.tokens as number[]);
  await m.eval(0, story.subarray(0, 8), false);
  const t0 = performance.now();
  const { before, after, cancelled } = await soakRequests(m, story);
  m.free();
  report(
    "soak of 1,000 requests",
    after.liveBuffers === before.liveBuffers && after.bufferBytes === before.bufferBytes && after.allocations === before.allocations && after.inFlight === 0 && after.requestsBegun === after.requestsEnded,
    `${cancelled} cancelled; live buffers ${before.liveBuffers} -> ${after.liveBuffers}, bytes ${before.bufferBytes} -> ${after.bufferBytes}, submits ${before.submits} -> ${after.submits}, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
