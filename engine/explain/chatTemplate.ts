/**
 * Chat prompts for instruction models. A model's `tokenizer.chat_template` is
 * a Jinja program; rather than run it, the engine recognises the common
 * families by their marker texts and lays out the turns the way each one does.
 * The prompt comes as parts: marker text (parsed for special tokens) and user
 * text (never parsed, so code that contains marker strings stays text).
 */

export interface PromptPart {
  text: string;
  /** Marker text of the template, tokenized with special tokens recognised. */
  special: boolean;
}

export interface ChatFormat {
  name: string;
  render(system: string, user: string): PromptPart[];
}

const m = (text: string): PromptPart => ({ text, special: true });
const u = (text: string): PromptPart => ({ text, special: false });

const FORMATS: { name: string; marker: RegExp; render: ChatFormat["render"] }[] = [
  {
    name: "llama3",
    marker: /<\|start_header_id\|>/,
    render: (s, q) => [
      m("<|start_header_id|>system<|end_header_id|>\n\n"), u(s), m("<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"),
      u(q), m("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"),
    ],
  },
  {
    name: "chatml",
    marker: /<\|im_start\|>/,
    render: (s, q) => [m("<|im_start|>system\n"), u(s), m("<|im_end|>\n<|im_start|>user\n"), u(q), m("<|im_end|>\n<|im_start|>assistant\n")],
  },
  {
    name: "gemma",
    marker: /<start_of_turn>/,
    render: (s, q) => [m("<start_of_turn>user\n"), u(s + "\n\n" + q), m("<end_of_turn>\n<start_of_turn>model\n")],
  },
  {
    name: "phi3",
    marker: /<\|user\|>[\s\S]*<\|end\|>|<\|end\|>[\s\S]*<\|user\|>/,
    render: (s, q) => [m("<|system|>\n"), u(s), m("<|end|>\n<|user|>\n"), u(q), m("<|end|>\n<|assistant|>\n")],
  },
  {
    name: "deepseek-coder",
    marker: /### Instruction:/,
    render: (s, q) => [u(s + "\n"), m("### Instruction:\n"), u(q), m("\n### Response:\n")],
  },
  {
    name: "llama2",
    marker: /\[INST\]/,
    render: (s, q) => [m("[INST] "), u(s + "\n\n" + q), m(" [/INST]")],
  },
];

/**
 * The chat format for a model's template text, or undefined for a base model
 * (no template) or a template none of the known families matches.
 */
export function recognizeChatTemplate(template: string | undefined): ChatFormat | undefined {
  if (!template) return undefined;
  const f = FORMATS.find((x) => x.marker.test(template));
  return f ? { name: f.name, render: f.render } : undefined;
}
