/**
 * `ghostline generate --model FILE (--tokens 1,2,3 | --prompt TEXT) --max-tokens N`: the greedy
 * continuation, as token ids for --tokens, as text streamed while it is generated for --prompt.
 */
import { generateGreedy } from "../../model/greedy";
import { LocalModel } from "../../model/localModel";
import { loadTokenizer } from "../../tokenizer/tokenizer";
import { defaultModelPath, noteFallback, parse, parseBackend, parseCount, parseTokenList, UsageError } from "../args";

export async function generateCommand(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const opts = parse(argv, {
    model: { type: "string" },
    tokens: { type: "string" },
    prompt: { type: "string" },
    "max-tokens": { type: "string" },
    threads: { type: "string" },
    backend: { type: "string" },
  });
  if ((opts.tokens === undefined) === (opts.prompt === undefined)) throw new UsageError("give exactly one of --tokens and --prompt");
  const modelPath = (opts.model as string | undefined) ?? defaultModelPath();
  const maxTokens = parseCount(opts["max-tokens"] as string | undefined, "--max-tokens", 32, 1, 1 << 16);
  const tokenizer = opts.prompt !== undefined ? await loadTokenizer(modelPath) : undefined;
  const prompt = tokenizer
    ? tokenizer.tokenize(opts.prompt as string, { addSpecial: true })
    : parseTokenList(opts.tokens as string | undefined, "--tokens");
  const model = await LocalModel.load(modelPath, {
    threads: parseCount(opts.threads as string | undefined, "--threads", 0, 0, 256),
    backend: parseBackend(opts.backend as string | undefined),
    contextSize: prompt.length + maxTokens,
  });
  noteFallback(model.info);
  try {
    if (!tokenizer) {
      const ids = await generateGreedy(model, prompt, { maxTokens });
      out.write(JSON.stringify({ tokens: ids }) + "\n");
      return;
    }
    const stream = tokenizer.createStreamDecoder();
    const stops = new Set<number>();
    for (let id = 0; id < tokenizer.nTokens; id++) if (tokenizer.isEog(id)) stops.add(id);
    out.write(opts.prompt as string);
    await generateGreedy(model, prompt, { maxTokens, stopTokens: stops, onToken: (id) => out.write(stream.push(id)) });
    out.write(stream.flush() + "\n");
  } finally {
    model.free();
  }
}
