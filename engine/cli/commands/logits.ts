/** `ghostline logits --model FILE --tokens 1,2,3 [--all]`: JSON logits for the last (or every) position. */
import { LocalModel } from "../../model/localModel";
import { defaultModelPath, noteFallback, parse, parseBackend, parseCount, parseTokenList } from "../args";

export async function logitsCommand(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const opts = parse(argv, {
    model: { type: "string" },
    tokens: { type: "string" },
    all: { type: "boolean", default: false },
    threads: { type: "string" },
    backend: { type: "string" },
  });
  const tokens = parseTokenList(opts.tokens as string | undefined, "--tokens");
  const model = await LocalModel.load((opts.model as string | undefined) ?? defaultModelPath(), {
    threads: parseCount(opts.threads as string | undefined, "--threads", 0, 0, 256),
    backend: parseBackend(opts.backend as string | undefined),
    contextSize: Math.max(tokens.length, 16),
  });
  noteFallback(model.info);
  try {
    const all = opts.all === true;
    const r = await model.eval(0, tokens, { allLogits: all });
    const n = model.info.nVocab;
    const row = (i: number) => Array.from(r.logits.subarray(i * n, (i + 1) * n));
    const logits = all ? Array.from({ length: r.nRows }, (_, i) => row(i)) : row(0);
    out.write(JSON.stringify({ n_vocab: n, logits }) + "\n");
  } finally {
    model.free();
  }
}
