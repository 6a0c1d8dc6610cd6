/**
 * Byte-level BPE pre-tokenizers: the word splits chosen by `tokenizer.ggml.pre`.
 *
 * llama.cpp runs a list of regexes one after another; each regex splits every
 * piece left by the previous one into its matches and the gaps between them,
 * and it never looks past the end of the piece it works on. Its "\s" is the
 * ASCII whitespace set: other Unicode whitespace is rewritten to U+000B before
 * matching, and so it is here (`view` below), which keeps literal ranges such
 * as [ࠀ-一] from matching U+3000. \p{L}, \p{N}, \p{P} are Unicode categories.
 * The gpt2 and llama3 regexes have hand-written splitters in llama.cpp that
 * behave exactly like the regexes written here.
 */

import {
  splitCjkHangul,
  splitEachNumber,
  splitGpt2,
  splitLlama3,
  splitNewlines,
  splitQwen2,
  splitSpaceLetters,
  splitSpacePunct,
  Cuts,
  type Splitter,
} from "./fastSplitters";

/** ASCII whitespace, for use inside a character class. */
const WS = "\\t\\n\\v\\f\\r ";
const NON_ASCII_WS = /[\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/g;

const CONTRACTIONS_CASELESS = "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]";

const GPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`;
const LLAMA3 =
  `${CONTRACTIONS_CASELESS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*` +
  `|[${WS}]*[\\r\\n]+|[${WS}]+(?![^${WS}])|[${WS}]+`;
const QWEN2 =
  `${CONTRACTIONS_CASELESS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*` +
  `|[${WS}]*[\\r\\n]+|[${WS}]+(?![^${WS}])|[${WS}]+`;
const CJK_HANGUL = "[\\u{4E00}-\\u{9FA5}\\u{800}-\\u{4E00}\\u{AC00}-\\u{D7FF}]+";
const PUNCT_SYMBOLS = "[\\p{P}\\$\\+<=>\\^~\\|]+";
// DeepSeek LLM's letter class, from its tokenizer.json (cased letters of many scripts).
const DEEPSEEK_LLM_LETTERS =
  "A-Za-z\\u{B5}\\u{C0}-\\u{D6}\\u{D8}-\\u{F6}\\u{F8}-\\u{1BA}\\u{1BC}-\\u{1BF}\\u{1C4}-\\u{293}\\u{295}-\\u{2AF}" +
  "\\u{370}-\\u{373}\\u{376}\\u{377}\\u{37B}-\\u{37D}\\u{37F}\\u{386}\\u{388}-\\u{38A}\\u{38C}\\u{38E}-\\u{3A1}" +
  "\\u{3A3}-\\u{3F5}\\u{3F7}-\\u{481}\\u{48A}-\\u{52F}\\u{531}-\\u{556}\\u{10A0}-\\u{10C5}\\u{13A0}-\\u{13F5}" +
  "\\u{13F8}-\\u{13FD}\\u{1C90}-\\u{1CBA}\\u{1CBD}-\\u{1CBF}\\u{1D00}-\\u{1D2B}\\u{1D6B}-\\u{1D77}\\u{1D79}-\\u{1D9A}" +
  "\\u{1E00}-\\u{1F15}\\u{1F18}-\\u{1F1D}\\u{1F20}-\\u{1F45}\\u{1F48}-\\u{1F4D}\\u{1F50}-\\u{1F57}\\u{1F59}\\u{1F5B}" +
  "\\u{1F5D}\\u{1F5F}-\\u{1F7D}\\u{1F80}-\\u{1FB4}\\u{1FB6}-\\u{1FBC}\\u{1FBE}\\u{1FC2}-\\u{1FC4}\\u{1FC6}-\\u{1FCC}" +
  "\\u{1FD0}-\\u{1FD3}\\u{1FD6}-\\u{1FDB}\\u{1FE0}-\\u{1FEC}\\u{1FF2}-\\u{1FF4}\\u{1FF6}-\\u{1FFC}\\u{2102}\\u{2107}" +
  "\\u{210A}-\\u{2113}\\u{2115}\\u{2119}-\\u{211D}\\u{2124}\\u{2126}\\u{2128}\\u{212A}-\\u{212D}\\u{212F}-\\u{2134}" +
  "\\u{2139}\\u{213C}-\\u{213F}\\u{2145}-\\u{2149}\\u{214E}\\u{2183}\\u{2184}\\u{2C00}-\\u{2C7B}\\u{2C7E}-\\u{2CE4}" +
  "\\u{2CEB}-\\u{2CEE}\\u{2CF2}\\u{2CF3}\\u{A640}-\\u{A66D}\\u{A680}-\\u{A69B}\\u{A722}-\\u{A76F}\\u{A771}-\\u{A787}" +
  "\\u{A78B}-\\u{A78E}\\u{AB70}-\\u{ABBF}\\u{FB00}-\\u{FB06}\\u{FB13}-\\u{FB17}\\u{FF21}-\\u{FF3A}\\u{FF41}-\\u{FF5A}" +
  "\\u{10400}-\\u{1044F}\\u{104B0}-\\u{104D3}\\u{104D8}-\\u{104FB}\\u{10C80}-\\u{10CB2}\\u{10CC0}-\\u{10CF2}" +
  "\\u{118A0}-\\u{118DF}\\u{1E900}-\\u{1E943}";
const DEEPSEEK_LLM_PUNCT = "!-/:-~\\u{FF01}-\\u{FF0F}\\u{FF1A}-\\u{FF5E}\\u{2018}-\\u{201F}\\u{3000}-\\u{3002}";

/**
 * One split pass: a regex (with a hand-written equivalent where speed
 * matters), or llama.cpp's "\s+$" (split off trailing whitespace).
 */
type Step = { kind: "regex"; source: string; fast?: Splitter } | { kind: "trailingWhitespace" };

const re = (source: string, fast?: Splitter): Step => ({ kind: "regex", source, fast });

const STEPS: Record<string, Step[]> = {
  default: [re(PUNCT_SYMBOLS), re(GPT2, splitGpt2), re("\\p{N}+"), re("[0-9][0-9][0-9]")],
  llama3: [re(LLAMA3, splitLlama3)],
  "deepseek-llm": [
    re("[\\r\\n]"),
    re(`[${WS}]?[${DEEPSEEK_LLM_LETTERS}]+`),
    re(`[${WS}]?[${DEEPSEEK_LLM_PUNCT}]+`),
    { kind: "trailingWhitespace" },
    re(CJK_HANGUL, splitCjkHangul),
    re("\\p{N}+"),
  ],
  "deepseek-coder": [
    re("[\\r\\n]", splitNewlines),
    re(`[${WS}]?\\p{L}+`, splitSpaceLetters),
    re(`[${WS}]?\\p{P}+`, splitSpacePunct),
    re(CJK_HANGUL, splitCjkHangul),
    re("\\p{N}", splitEachNumber),
  ],
  falcon: [re(PUNCT_SYMBOLS), re(GPT2, splitGpt2), re("[0-9][0-9][0-9]")],
  starcoder: [re("\\p{N}", splitEachNumber), re(GPT2, splitGpt2)],
  gpt2: [re(GPT2, splitGpt2)],
  qwen2: [re(QWEN2, splitQwen2)],
};

/** Which regex list each `tokenizer.ggml.pre` value uses. */
const PRE_TO_STEPS: Record<string, string> = {
  default: "default",
  llama3: "llama3", "llama-v3": "llama3", "llama-bpe": "llama3", falcon3: "llama3",
  dbrx: "llama3", "smaug-bpe": "llama3", "chatglm-bpe": "llama3", glm4: "llama3",
  "deepseek-llm": "deepseek-llm",
  "deepseek-coder": "deepseek-coder",
  falcon: "falcon",
  starcoder: "starcoder", refact: "starcoder", "command-r": "starcoder", smollm: "starcoder",
  codeshell: "starcoder", exaone: "starcoder", "minerva-7b": "starcoder",
  "gpt-2": "gpt2", "phi-2": "gpt2", mpt: "gpt2", olmo: "gpt2", jais: "gpt2",
  qwen2: "qwen2", "deepseek-r1-qwen": "qwen2", megrez: "qwen2", stablelm2: "qwen2",
};

interface CompiledStep {
  kind: Step["kind"];
  regex?: RegExp;
  fast?: Splitter;
  /** The regex peeks past its match with (?!...), so a piece's end can change its matches. */
  lookahead: boolean;
  /** The regex has no lookaround or anchor, so "no match in the text" means "no match in any piece". */
  local: boolean;
}

/** Splits text into the words BPE merges run on. */
export class PreTokenizer {
  private readonly steps: CompiledStep[];

  /**
   * @param pre `tokenizer.ggml.pre`
   * @param options.regexOnly use the regexes even where a hand-written splitter exists (the reference in tests)
   */
  constructor(readonly pre: string, options: { regexOnly?: boolean } = {}) {
    const name = PRE_TO_STEPS[pre];
    if (!name) throw new Error(`pre-tokenizer "${pre}" is not supported`);
    this.steps = STEPS[name].map((s) =>
      s.kind === "regex"
        ? {
            kind: s.kind,
            regex: new RegExp(s.source, "gu"),
            fast: options.regexOnly ? undefined : s.fast,
            lookahead: s.source.includes("(?!"),
            local: !s.source.includes("(?"),
          }
        : { kind: s.kind, lookahead: false, local: false },
    );
  }

  /** The words of `text`, in order; joined they give `text` back. */
  split(text: string): string[] {
    if (text.length === 0) return [];
    NON_ASCII_WS.lastIndex = 0;
    const view = NON_ASCII_WS.test(text) ? text.replace(NON_ASCII_WS, "\x0B") : text;
    let bounds = new Cuts();
    bounds.add(0);
    bounds.add(text.length);
    for (const step of this.steps) bounds = this.pass(view, bounds, step);
    const words = new Array<string>(bounds.n - 1);
    const b = bounds.buf;
    for (let i = 0; i + 1 < bounds.n; i++) words[i] = text.slice(b[i], b[i + 1]);
    return words;
  }

  /**
   * One pass over all pieces. `bounds` lists piece starts then the text end.
   * Instead of running the regex on every piece, it runs once over the whole
   * text; a piece whose matches all lie inside it gets exactly those matches
   * (a match that only reads inside the piece is found the same way on the
   * piece alone). Pieces touched by a match that crosses their edge, or whose
   * end a lookahead could see, are matched on their own.
   */
  private pass(view: string, bounds: Cuts, step: CompiledStep): Cuts {
    const last = bounds.n - 1;
    const b = bounds.buf;
    const out = new Cuts();
    if (step.kind === "trailingWhitespace") {
      for (let c = 0; c < last; c++) {
        const cs = b[c];
        const ce = b[c + 1];
        out.add(cs);
        let p = ce;
        while (p > cs && isAsciiWs(view.charCodeAt(p - 1))) p--;
        if (p > cs && p < ce) out.add(p);
      }
      out.add(b[last]);
      return out;
    }
    if (step.fast) {
      for (let c = 0; c < last; c++) {
        const ce = b[c + 1];
        out.add(b[c]);
        step.fast(view, b[c], ce, out);
        if (out.last === ce) out.n--;
      }
      out.add(b[last]);
      return out;
    }
    const regex = step.regex!;
    if (last === 1) {
      // One piece: the whole-text scan is the answer.
      out.add(0);
      regex.lastIndex = 0;
      for (let m = regex.exec(view); m !== null; m = regex.exec(view)) {
        if (m[0].length === 0) {
          regex.lastIndex++;
          continue;
        }
        out.add(m.index);
        out.add(m.index + m[0].length);
      }
      out.add(view.length);
      return out;
    }
    const ms: number[] = [];
    const me: number[] = [];
    regex.lastIndex = 0;
    for (let m = regex.exec(view); m !== null; m = regex.exec(view)) {
      if (m[0].length === 0) {
        regex.lastIndex++;
        continue;
      }
      ms.push(m.index);
      me.push(m.index + m[0].length);
    }
    if (ms.length === 0 && step.local) return bounds;
    let j = 0;
    for (let c = 0; c < last; c++) {
      const cs = b[c];
      const ce = b[c + 1];
      out.add(cs);
      while (j < ms.length && me[j] <= cs) j++;
      let k = j;
      let alone = step.lookahead && ce < view.length && isAsciiWs(view.charCodeAt(ce - 1));
      while (!alone && k < ms.length && ms[k] < ce) {
        if (ms[k] < cs || me[k] > ce) alone = true;
        k++;
      }
      if (alone) {
        const piece = view.slice(cs, ce);
        regex.lastIndex = 0;
        for (let m = regex.exec(piece); m !== null; m = regex.exec(piece)) {
          if (m[0].length === 0) {
            regex.lastIndex++;
            continue;
          }
          out.add(cs + m.index);
          out.add(cs + m.index + m[0].length);
        }
      } else {
        for (let i = j; i < k; i++) {
          out.add(ms[i]);
          out.add(me[i]);
        }
      }
      if (out.last === ce) out.n--;
    }
    out.add(b[last]);
    return out;
  }
}

function isAsciiWs(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** True when `tokenizer.ggml.pre` names a pre-tokenizer this module implements. */
export function isSupportedPre(pre: string): boolean {
  return Object.prototype.hasOwnProperty.call(PRE_TO_STEPS, pre);
}
