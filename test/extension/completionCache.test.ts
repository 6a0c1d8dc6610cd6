import { describe, expect, it } from "vitest";
import { CompletionCache, type DocumentView } from "../../extension/completionCache";
import { shapeSuggestions } from "../../extension/suggestionText";

/** A document as text with a cursor marked by "|". */
function doc(marked: string, uri = "file:///a.ts"): DocumentView {
  const offset = marked.indexOf("|");
  const text = marked.slice(0, offset) + marked.slice(offset + 1);
  const clamp = (o: number) => Math.max(0, Math.min(text.length, o));
  return { uri, offset, read: (a, b) => text.slice(clamp(a), clamp(b)) };
}

describe("the cache of recent suggestions", () => {
  it("keeps showing the rest of a suggestion while its characters are typed", () => {
    const cache = new CompletionCache();
    cache.store(doc("function add(a, b) {\n  return |\n}\n"), ["a + b;"]);
    expect(cache.lookup(doc("function add(a, b) {\n  return |\n}\n"))).toEqual(["a + b;"]);
    expect(cache.lookup(doc("function add(a, b) {\n  return a|\n}\n"))).toEqual([" + b;"]);
    expect(cache.lookup(doc("function add(a, b) {\n  return a + |\n}\n"))).toEqual(["b;"]);
  });

  it("follows a multi-line suggestion across the typed newline", () => {
    const cache = new CompletionCache();
    cache.store(doc("if (x) {|"), ["\n  y();\n}"]);
    expect(cache.lookup(doc("if (x) {\n  |"))).toEqual(["y();\n}"]);
  });

  it("misses when the typed text departs from the suggestion", () => {
    const cache = new CompletionCache();
    cache.store(doc("const x = |;"), ["42"]);
    expect(cache.lookup(doc("const x = 7|;"))).toBeUndefined();
  });

  it("misses once the whole suggestion has been typed", () => {
    const cache = new CompletionCache();
    cache.store(doc("x = |"), ["42"]);
    expect(cache.lookup(doc("x = 42|"))).toBeUndefined();
  });

  it("misses when the text before the original place changed", () => {
    const cache = new CompletionCache();
    cache.store(doc("let a = 1;\nlet b = |"), ["2;"]);
    expect(cache.lookup(doc("let z = 1;\nlet b = |"))).toBeUndefined();
  });

  it("misses when the text after the cursor changed", () => {
    const cache = new CompletionCache();
    cache.store(doc("call(|)"), ["x"]);
    expect(cache.lookup(doc("call(|, y)"))).toBeUndefined();
  });

  it("keeps the alternatives that still match, and no other document's entries", () => {
    const cache = new CompletionCache();
    cache.store(doc("log(|"), ["message)", "meta)", "error)"]);
    expect(cache.lookup(doc("log(me|"))).toEqual(["ssage)", "ta)"]);
    expect(cache.lookup(doc("log(me|", "file:///b.ts"))).toBeUndefined();
  });

  it("forgets the oldest entries beyond its capacity, and a closed document's entries", () => {
    const cache = new CompletionCache(2);
    cache.store(doc("a|", "file:///a.ts"), ["1"]);
    cache.store(doc("b|", "file:///b.ts"), ["2"]);
    cache.store(doc("c|", "file:///c.ts"), ["3"]);
    expect(cache.size).toBe(2);
    expect(cache.lookup(doc("a|", "file:///a.ts"))).toBeUndefined();
    expect(cache.lookup(doc("c|", "file:///c.ts"))).toEqual(["3"]);
    cache.clear("file:///b.ts");
    expect(cache.size).toBe(1);
  });

  it("replaces the entry asked for at the same place", () => {
    const cache = new CompletionCache();
    cache.store(doc("x = |"), ["1"]);
    cache.store(doc("x = |"), ["2"]);
    expect(cache.size).toBe(1);
    expect(cache.lookup(doc("x = |"))).toEqual(["2"]);
  });

  it("stores nothing for empty suggestions", () => {
    const cache = new CompletionCache();
    cache.store(doc("x|"), ["", ""]);
    expect(cache.size).toBe(0);
  });
});

describe("shaping suggestions for the editor", () => {
  it("keeps only the first line under the single-line policy", () => {
    expect(shapeSuggestions(["foo();\nbar();"], "singleLine")).toEqual(["foo();"]);
    expect(shapeSuggestions(["foo();\r\nbar();"], "singleLine")).toEqual(["foo();"]);
    expect(shapeSuggestions(["foo();\nbar();"], "auto")).toEqual(["foo();\nbar();"]);
  });

  it("drops blank and duplicate alternatives", () => {
    expect(shapeSuggestions(["a", "  ", "a", "b", "\nc"], "singleLine")).toEqual(["a", "b"]);
  });
});
