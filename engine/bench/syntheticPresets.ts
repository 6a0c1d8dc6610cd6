/** Named model shapes that `ghostline bench --synthetic NAME` writes with random weights. */
import { buildSyntheticLlama, TINYLLAMA_SPEC, type SyntheticLlamaSpec } from "../gguf/syntheticLlama";

export const SYNTHETIC_PRESETS: Record<string, SyntheticLlamaSpec> = {
  tinyllama: TINYLLAMA_SPEC,
};

export async function writeSyntheticPreset(name: string, filePath: string): Promise<void> {
  const spec = SYNTHETIC_PRESETS[name];
  if (!spec) throw new Error(`unknown synthetic model '${name}'`);
  await buildSyntheticLlama(spec, 1).writer.writeFile(filePath);
}
