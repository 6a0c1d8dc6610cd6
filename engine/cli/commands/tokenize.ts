/**
 * `ghostline tokenize --model FILE (--text TEXT | --file F) [--no-bos] [--special]`: ids as JSON.
 * `ghostline detokenize --model FILE --tokens 1,2,3`: the text.
 */
import * as fs from "node:fs";
import { loadTokenizer } from "../../tokenizer/tokenizer";
import { defaultModelPath, parse, parseTokenList, UsageError } from "../args";

export async function tokenizeCommand(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const opts = parse(argv, {
    model: { type: "string" },
    text: { type: "string" },
    file: { type: "string" },
    "no-bos": { type: "boolean", default: false },
    special: { type: "boolean", default: false },
  });
  if ((opts.text === undefined) === (opts.file === undefined)) throw new UsageError("give exactly one of --text and --file");
  const input = opts.file !== undefined ? fs.readFileSync(opts.file as string) : (opts.text as string);
  const tokenizer = await loadTokenizer((opts.model as string | undefined) ?? defaultModelPath());
  const ids = tokenizer.tokenize(input, { addSpecial: opts["no-bos"] !== true, parseSpecial: opts.special === true });
  out.write(JSON.stringify(ids) + "\n");
}

export async function detokenizeCommand(argv: string[], out: NodeJS.WritableStream): Promise<void> {
  const opts = parse(argv, { model: { type: "string" }, tokens: { type: "string" } });
  const ids = parseTokenList(opts.tokens as string | undefined, "--tokens");
  const tokenizer = await loadTokenizer((opts.model as string | undefined) ?? defaultModelPath());
  const bad = ids.find((id) => id >= tokenizer.nTokens);
  if (bad !== undefined) throw new UsageError(`--tokens: id ${bad} is outside the vocabulary (0..${tokenizer.nTokens - 1})`);
  out.write(tokenizer.detokenize(ids) + "\n");
}
