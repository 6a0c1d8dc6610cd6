/** When completions stop, and what is trimmed from them. */
import { describe, expect, test } from "vitest";
import { cutAtDedent } from "../../engine/completion/indentCut";
import { allowsMultiline } from "../../engine/completion/linePolicy";
import { StopRules, type StopRuleOptions } from "../../engine/completion/stopRules";
import { trimLineSuffixOverlap, trimSuffixLines } from "../../engine/completion/suffixTrim";

function run(pieces: string[], opts: Partial<StopRuleOptions>, eogAt = -1) {
  let t = 0;
  const rules = new StopRules({ maxTokens: 100, timeBudgetMs: 1e9, linePrefix: "", lineSuffix: "", suffix: "", now: () => t, ...opts });
  let reason;
  for (let i = 0; i < pieces.length && !reason; i++) {
    t += 10;
    reason = rules.push(pieces[i], i === eogAt);
  }
  return { reason, text: rules.finish(), generated: rules.generated };
}

describe("stop rules", () => {
  test("stops at an end-of-generation token without counting it", () => {
    expect(run(["a", "b", "", "c"], {}, 2)).toMatchObject({ reason: "eog", text: "ab", generated: 2 });
  });

  test("stops at the token limit", () => {
    expect(run(["a", "b", "c", "d"], { maxTokens: 3 })).toMatchObject({ reason: "maxTokens", text: "abc", generated: 3 });
  });

  test("keeps to the rest of the line when text is right of the cursor", () => {
    const r = run(["x, ", "y)\n", "z = 1"], { linePrefix: "f(", lineSuffix: ")" });
    expect(r.reason).toBe("lineEnd");
    // The closing bracket the line already has is trimmed too.
    expect(r.text).toBe("x, y");
  });

  test("after the time budget, stops at the next newline", () => {
    const r = run(["a = 1", "\nb = 2", "\nc = 3", "\n"], { timeBudgetMs: 25 });
    expect(r.reason).toBe("timeBudget");
    expect(r.text).toBe("a = 1\nb = 2");
  });

  test("goes on past newlines within the time budget", () => {
    expect(run(["a = 1\n", "b = 2\n", "c"], { maxTokens: 3 })).toMatchObject({ reason: "maxTokens", text: "a = 1\nb = 2\nc" });
  });

  test("cuts where a line is indented less than the cursor's line", () => {
    const r = run(["\n", "    return 1\n", "  x\n", "def g():\n"], { linePrefix: "    " });
    expect(r.reason).toBe("indent");
    expect(r.text).toBe("\n    return 1");
  });

  test("stops at a line that repeats the first line of the suffix", () => {
    const r = run(["    x = 1\n", "    return x\n", "more\n"], { linePrefix: "", suffix: "\n    return x\n" });
    expect(r.reason).toBe("suffix");
    expect(r.text).toBe("    x = 1");
  });
});

describe("line policy, indentation and suffix trimming", () => {
  test("several lines only when nothing but whitespace is right of the cursor", () => {
    expect(allowsMultiline("")).toBe(true);
    expect(allowsMultiline("  \t")).toBe(true);
    expect(allowsMultiline(")")).toBe(false);
  });

  test("the dedent cut ignores blank lines and the first line", () => {
    expect(cutAtDedent("x\n\n    y\n  z", "    ")).toEqual({ text: "x\n\n    y", cut: true });
    expect(cutAtDedent("x\n\n    y", "    ")).toEqual({ text: "x\n\n    y", cut: false });
  });

  test("trims the part of a one-line completion that the rest of the line repeats", () => {
    expect(trimLineSuffixOverlap("a, b)", ")")).toBe("a, b");
    expect(trimLineSuffixOverlap("a, b)", ") + 1")).toBe("a, b");
    expect(trimLineSuffixOverlap("a, b", ")")).toBe("a, b");
  });

  test("trims trailing lines that the suffix starts with", () => {
    expect(trimSuffixLines("x = 1\ny = 2\nreturn y", "\n  return y\nfoo")).toBe("x = 1\ny = 2");
    expect(trimSuffixLines("x = 1\n\n", "bar")).toBe("x = 1");
  });
});
