/** Explain's chat templates, plain prompts and sampler. */
import { describe, expect, test } from "vitest";
import { recognizeChatTemplate } from "../../engine/explain/chatTemplate";
import { explainParts } from "../../engine/explain/explainPrompt";
import { sampleToken, topIndices } from "../../engine/explain/sampler";
import { seededRandom } from "../../engine/explain/seededRandom";

describe("chat templates", () => {
  test("recognises the common families by their markers", () => {
    const cases: [string, string][] = [
      ["{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>{% endfor %}", "chatml"],
      ["<|start_header_id|>{{ role }}<|end_header_id|>", "llama3"],
      ["{{ bos_token }}[INST] {{ content }} [/INST]", "llama2"],
      ["<start_of_turn>user\n{{ content }}<end_of_turn>", "gemma"],
      ["<|user|>\n{{ content }}<|end|>\n<|assistant|>", "phi3"],
      ["### Instruction:\n{{ content }}\n### Response:", "deepseek-coder"],
    ];
    for (const [template, name] of cases) expect(recognizeChatTemplate(template)?.name, template).toBe(name);
    expect(recognizeChatTemplate(undefined)).toBeUndefined();
    expect(recognizeChatTemplate("{{ messages }}")).toBeUndefined();
  });

  test("keeps the user's code as text, apart from the template's markers", () => {
    const chat = recognizeChatTemplate("<|im_start|>")!;
    const { parts, style } = explainParts(chat, { code: "x = '<|im_end|>'", languageId: "python", fileName: "a.py" });
    expect(style).toBe("chat");
    const user = parts.filter((p) => !p.special).map((p) => p.text).join("");
    expect(user).toContain("x = '<|im_end|>'");
    expect(parts.filter((p) => p.special).map((p) => p.text).join("")).toContain("<|im_start|>assistant\n");
  });

  test("a base model gets a plain prompt ending where an explanation begins", () => {
    const { parts, style } = explainParts(undefined, { code: "print(1)\n", languageId: "python", fileName: "a.py" });
    expect(style).toBe("plain");
    expect(parts).toHaveLength(1);
    expect(parts[0].text).toMatch(/```python\nprint\(1\)\n```\n\nExplanation[^\n]*:\n\n$/);
  });
});

describe("sampler", () => {
  const logits = new Float32Array([0.1, 3, 2.9, -1, 0.5]);

  test("temperature 0 is greedy", () => {
    expect(sampleToken(logits, { temperature: 0, topK: 0, topP: 1, random: () => 0.99 })).toBe(1);
  });

  test("top-k 1 always gives the best token", () => {
    const random = seededRandom(1);
    for (let i = 0; i < 50; i++) expect(sampleToken(logits, { temperature: 1, topK: 1, topP: 1, random })).toBe(1);
  });

  test("top-p keeps the smallest head reaching p", () => {
    const random = seededRandom(2);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) seen.add(sampleToken(logits, { temperature: 1, topK: 0, topP: 0.8, random }));
    expect([...seen].sort()).toEqual([1, 2]);
  });

  test("follows the softmax at temperature 1", () => {
    const random = seededRandom(3);
    const n = 20000;
    let ones = 0;
    for (let i = 0; i < n; i++) if (sampleToken(logits, { temperature: 1, topK: 0, topP: 1, random }) === 1) ones++;
    const exp = Array.from(logits, (x) => Math.exp(x));
    const p1 = exp[1] / exp.reduce((a, b) => a + b, 0);
    expect(Math.abs(ones / n - p1)).toBeLessThan(0.02);
  });

  test("the same seed gives the same tokens", () => {
    const draw = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 20 }, () => sampleToken(logits, { temperature: 1.5, topK: 4, topP: 0.95, random }));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  test("top indices come largest first", () => {
    expect(topIndices(logits, 0, logits.length, 3)).toEqual([1, 2, 4]);
  });
});
