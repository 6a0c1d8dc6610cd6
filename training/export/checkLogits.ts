/**
 * Checks an exported GGUF against the training framework: the engine's
 * logits for the check sequences against torch's (check-logits.f32 from
 * training/train.py). Prints, per file, the relative error
 * ‖engine − torch‖ / ‖torch‖ per position (median and worst) and how often
 * the argmax agrees.
 *
 *   node checkLogits.js <weights dir with check-logits.f32> <check-sequences.json> <model.gguf> [kvType]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { argmax } from "../../engine/model/greedy";
import { LocalModel } from "../../engine/model/localModel";

interface CheckSequence {
  name: string;
  tokens: number[];
  positions: number[];
}

export interface LogitCheck {
  model: string;
  positions: number;
  medianRelError: number;
  worstRelError: number;
  argmaxAgreement: number;
}

export async function checkLogits(weightsDir: string, sequencesPath: string, modelPath: string, kvType: "f16" | "f32" = "f32"): Promise<LogitCheck> {
  const { sequences } = JSON.parse(fs.readFileSync(sequencesPath, "utf8")) as { sequences: CheckSequence[] };
  const raw = fs.readFileSync(path.join(weightsDir, "check-logits.f32"));
  const reference = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  const model = await LocalModel.load(modelPath, { contextSize: 512, kvType });
  const nVocab = model.info.nVocab;
  const rows = sequences.reduce((n, s) => n + s.positions.length, 0);
  if (reference.length !== rows * nVocab) throw new Error(`${weightsDir}/check-logits.f32: ${reference.length} values, expected ${rows} rows of ${nVocab}`);
  const errors: number[] = [];
  let agree = 0;
  let row = 0;
  try {
    for (const seq of sequences) {
      model.truncate(0, 0);
      const { logits } = await model.eval(0, seq.tokens, { allLogits: true });
      for (const pos of seq.positions) {
        let diff = 0;
        let norm = 0;
        const ref = reference.subarray(row * nVocab, (row + 1) * nVocab);
        for (let i = 0; i < nVocab; i++) {
          const d = logits[pos * nVocab + i] - ref[i];
          diff += d * d;
          norm += ref[i] * ref[i];
        }
        errors.push(Math.sqrt(diff / norm));
        if (argmax(logits, pos * nVocab, nVocab) === argmax(ref)) agree++;
        row++;
      }
    }
  } finally {
    model.free();
  }
  const sorted = [...errors].sort((a, b) => a - b);
  return {
    model: modelPath,
    positions: errors.length,
    medianRelError: sorted[Math.floor(sorted.length / 2)],
    worstRelError: sorted[sorted.length - 1],
    argmaxAgreement: agree / errors.length,
  };
}

async function main(): Promise<void> {
  const [weightsDir, sequencesPath, modelPath, kvType = "f32"] = process.argv.slice(2);
  if (!weightsDir || !sequencesPath || !modelPath) {
    console.error("usage: checkLogits <weights dir> <check-sequences.json> <model.gguf> [f16|f32]");
    process.exit(2);
  }
  console.log(JSON.stringify(await checkLogits(weightsDir, sequencesPath, modelPath, kvType as "f16" | "f32")));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
