/** The `ghostline` command line. */
import { UsageError } from "./args";
import { benchCommand } from "./commands/bench";
import { generateCommand } from "./commands/generate";
import { logitsCommand } from "./commands/logits";
import { detokenizeCommand, tokenizeCommand } from "./commands/tokenize";

const USAGE = `usage: ghostline <command> [options]

commands:
  logits    --model FILE --tokens 1,2,3 [--all] [--threads N]
            JSON logits for the last position (--all: every position)
  generate  --model FILE (--tokens 1,2,3 | --prompt TEXT) [--max-tokens N] [--threads N]
            the greedy continuation: token ids for --tokens, streamed text for --prompt
  tokenize  --model FILE (--text TEXT | --file F) [--no-bos] [--special]
            token ids as JSON (--special: recognise control-token texts such as FIM markers)
  detokenize --model FILE --tokens 1,2,3
            the text of the ids
  bench     (--model FILE | --synthetic tinyllama) [--threads N] [--json] [--no-llama-cpp]
            prefill and decode tokens/s beside the measured memory bandwidth and llama.cpp
  bench     --completion-trace [--trace FILE] [--model FILE] [--json]
            replays typing a file through the engine: latency to the first visible completion

--model defaults to the model shipped with Ghostline.`;

const commands: Record<string, (argv: string[], out: NodeJS.WritableStream) => Promise<void>> = {
  logits: logitsCommand,
  generate: generateCommand,
  bench: benchCommand,
  tokenize: tokenizeCommand,
  detokenize: detokenizeCommand,

};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(USAGE + "\n");
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`ghostline: unknown command '${name}'\n\n${USAGE}\n`);
    return 2;
  }
  try {
    await command(rest, process.stdout);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`ghostline ${name}: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`ghostline ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`ghostline: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  },
);
