/** `ghostline generate --model FILE --tokens 1,2,3 --max-tokens N`: the greedy continuation. */
import { generateGreedy } from "../../model/greedy";
import { LocalModel } from "../../model/localModel";
import { defaultModelPath, parse, parseCount, parseTokenList } from "../args";

export async function generateCommand(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const opts = parse(argv, {
    model: { type: "string" },
    tokens: { type: "string" },
    "max-tokens": { type: "string" },
    threads: { type: "string" },
  });
  const prompt = parseTokenList(opts.tokens as string | undefined, "--tokens");
  const maxTokens = parseCount(opts["max-tokens"] as string | undefined, "--max-tokens", 32, 1, 1 << 16);
  const model = await LocalModel.load((opts.model as string | undefined) ?? defaultModelPath(), {
    threads: parseCount(opts.threads as string | undefined, "--threads", 0, 0, 256),
    contextSize: prompt.length + maxTokens,
  });
  try {
    const ids = await generateGreedy(model, prompt, { maxTokens });
    out.write(JSON.stringify({ tokens: ids }) + "\n");
  } finally {
    model.free();
  }
}
