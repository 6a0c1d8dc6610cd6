/**
 * The vocabulary as llama.cpp builds it from `tokenizer.ggml.*` metadata:
 * token texts, scores, attributes, BPE merge ranks, special token ids and the
 * tokenizer flags. The quirks of llama.cpp's loader that change how text is
 * tokenized are kept on purpose (marker tokens such as FIM or end-of-turn
 * texts become control tokens; the per-model defaults of add_bos and friends).
 */
import type { GgufArray, GgufHeader } from "../gguf/ggufReader";
import { metaArrayOr, metaBoolOr, metaNumberOr, metaStringOr } from "../gguf/ggufReader";

/** `tokenizer.ggml.token_type` values. */
export enum TokenType {
  UNDEFINED = 0,
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

/** Token attribute bits (a token may carry several). */
export const TokenAttr = {
  UNDEFINED: 0,
  UNKNOWN: 1 << 0,
  UNUSED: 1 << 1,
  NORMAL: 1 << 2,
  CONTROL: 1 << 3,
  USER_DEFINED: 1 << 4,
  BYTE: 1 << 5,
  NORMALIZED: 1 << 6,
  LSTRIP: 1 << 7,
  RSTRIP: 1 << 8,
  SINGLE_WORD: 1 << 9,
} as const;

export type VocabKind = "spm" | "bpe";

/** Special token ids; undefined where the vocabulary has none. */
export interface SpecialTokenIds {
  bos?: number;
  eos?: number;
  eot?: number;
  eom?: number;
  unk?: number;
  sep?: number;
  pad?: number;
  mask?: number;
  fimPre?: number;
  fimSuf?: number;
  fimMid?: number;
  fimPad?: number;
  fimRep?: number;
  fimSep?: number;
}

export interface Vocab {
  /** File (or buffer name) the vocabulary came from, for messages. */
  source: string;
  kind: VocabKind;
  /** `tokenizer.ggml.model`. */
  model: string;
  /** `tokenizer.ggml.pre` ("" when absent). */
  pre: string;
  tokens: string[];
  scores: Float32Array;
  attrs: Uint16Array;
  tokenToId: Map<string, number>;
  /** BPE only: "left right" -> rank (lower merges first). */
  mergeRanks: Map<string, number>;
  special: SpecialTokenIds;
  /** Tokens that end generation. */
  eog: Set<number>;
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
  /** BPE: a pre-tokenized word that is itself a token skips the merges. */
  ignoreMerges: boolean;
  /** BPE: detokenize removes spaces before punctuation (clean_up_tokenization_spaces). */
  cleanSpaces: boolean;
  /** SPM: id of the byte fallback token for each byte, -1 where missing. */
  byteTokens: Int32Array;
  /** Things the loader fell back on, worth a line in the log. */
  warnings: string[];
}

const K = "tokenizer.ggml.";

// Texts llama.cpp recognises as marker tokens when the metadata does not name them.
const EOT_TEXTS = [
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
  "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
];
const EOM_TEXTS = ["<|eom_id|>"];
const FIM_PRE_TEXTS = ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>"];
const FIM_SUF_TEXTS = ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>"];
const FIM_MID_TEXTS = ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>"];
const FIM_PAD_TEXTS = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"];
const FIM_REP_TEXTS = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"];
const FIM_SEP_TEXTS = ["<|file_sep|>"];
const EOG_TEXTS = [
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",
  "<|end_of_text|>", "<end_of_utterance>", "<｜end▁of▁sentence｜>",
];

/** Everything a vocabulary is made of, for building one without a file (tests, tools). */
export interface VocabSpec {
  source?: string;
  model: string;
  pre?: string;
  tokens: string[];
  scores?: ArrayLike<number>;
  tokenTypes?: ArrayLike<number>;
  merges?: string[];
  /** Metadata ids by short name: bos, eos, eot, eom, unk, sep, pad, mask, fimPre... */
  ids?: SpecialTokenIds;
  addBos?: boolean;
  addEos?: boolean;
  addSpacePrefix?: boolean;
  /** `general.name`, which switches a few per-model token attributes. */
  modelName?: string;
}

/** Reads the vocabulary from GGUF metadata. Throws naming the file and key at fault. */
export function vocabFromGguf(h: GgufHeader): Vocab {
  const model = metaStringOr(h, K + "model", undefined);
  if (model === undefined) throw new Error(`${h.path}: key "${K}model" is missing (no tokenizer in this file)`);
  const tokensArr = metaArrayOr(h, K + "tokens");
  if (!tokensArr) throw new Error(`${h.path}: key "${K}tokens" is missing`);
  const tokens = stringArray(h, K + "tokens", tokensArr);
  const scoresArr = metaArrayOr(h, K + "scores");
  const typesArr = metaArrayOr(h, K + "token_type");
  const mergesArr = metaArrayOr(h, K + "merges");
  const num = (key: string): number | undefined => metaNumberOr(h, K + key, undefined);
  const optBool = (key: string): boolean | undefined => (h.metadata.has(K + key) ? metaBoolOr(h, K + key, false) : undefined);
  return buildVocab({
    source: h.path,
    model,
    pre: metaStringOr(h, K + "pre", undefined),
    tokens,
    scores: scoresArr ? numericArray(h, K + "scores", scoresArr, tokens.length) : undefined,
    tokenTypes: typesArr ? numericArray(h, K + "token_type", typesArr, tokens.length) : undefined,
    merges: mergesArr ? stringArray(h, K + "merges", mergesArr) : undefined,
    ids: {
      bos: num("bos_token_id"),
      eos: num("eos_token_id"),
      eot: num("eot_token_id"),
      eom: num("eom_token_id"),
      unk: num("unknown_token_id"),
      sep: num("seperator_token_id"),
      pad: num("padding_token_id"),
      mask: num("mask_token_id"),
      fimPre: num("fim_pre_token_id") ?? num("prefix_token_id"),
      fimSuf: num("fim_suf_token_id") ?? num("suffix_token_id"),
      fimMid: num("fim_mid_token_id") ?? num("middle_token_id"),
      fimPad: num("fim_pad_token_id"),
      fimRep: num("fim_rep_token_id"),
      fimSep: num("fim_sep_token_id"),
    },
    addBos: optBool("add_bos_token"),
    addEos: optBool("add_eos_token"),
    addSpacePrefix: optBool("add_space_prefix"),
    modelName: metaStringOr(h, "general.name", undefined),
  });
}

function stringArray(h: GgufHeader, key: string, a: GgufArray): string[] {
  const v = a.values;
  if (!Array.isArray(v) || (v.length > 0 && typeof v[0] !== "string")) {
    throw new Error(`${h.path}: key "${key}" must be an array of strings`);
  }
  return v as string[];
}

function numericArray(h: GgufHeader, key: string, a: GgufArray, need: number): ArrayLike<number> {
  const v = a.values;
  if (Array.isArray(v) || v instanceof BigInt64Array || v instanceof BigUint64Array) {
    throw new Error(`${h.path}: key "${key}" must be an array of numbers`);
  }
  if (v.length < need) throw new Error(`${h.path}: key "${key}" has ${v.length} entries for ${need} tokens`);
  return v;
}

/** Builds a vocabulary the way llama.cpp's loader does. */
export function buildVocab(spec: VocabSpec): Vocab {
  const source = spec.source ?? "<memory>";
  const warnings: string[] = [];
  let kind: VocabKind;
  const special: SpecialTokenIds = {};
  let addBos = false;
  let addEos = false;
  let addSpacePrefix = false;
  let ignoreMerges = false;
  let cleanSpaces = false;
  let pre = spec.pre ?? "";
  const mergeRanks = new Map<string, number>();

  if (spec.model === "llama") {
    kind = "spm";
    Object.assign(special, { bos: 1, eos: 2, unk: 0 });
    addSpacePrefix = true;
    addBos = true;
  } else if (spec.model === "gpt2") {
    kind = "bpe";
    if (!spec.merges) throw new Error(`${source}: key "${K}merges" is missing (needed by a gpt2 tokenizer)`);
    spec.merges.forEach((m, rank) => {
      // Split at the first space after the first character, as llama.cpp does.
      const at = m.indexOf(" ", 1);
      const key = at < 0 ? " " : m;
      if (!mergeRanks.has(key)) mergeRanks.set(key, rank);
    });
    Object.assign(special, { bos: 11, eos: 11 });
    cleanSpaces = true;
    if (pre === "") {
      warnings.push(`${source}: ${K}pre is missing; using the "default" pre-tokenizer, as llama.cpp does (quality may suffer)`);
      pre = "default";
    }
    const flags = bpePreFlags(pre);
    if (!flags) {
      throw new Error(
        `${source}: ${K}pre "${pre}" is not a supported pre-tokenizer (supported: ${SUPPORTED_BPE_PRE.join(", ")})`,
      );
    }
    if (flags.cleanSpaces === false) cleanSpaces = false;
    if (flags.ignoreMerges) ignoreMerges = true;
    if (flags.addBos) addBos = true;
    if (flags.noBos) delete special.bos;
  } else {
    throw new Error(`${source}: ${K}model "${spec.model}" is not supported (supported: llama, gpt2)`);
  }
  if (spec.addSpacePrefix !== undefined) addSpacePrefix = spec.addSpacePrefix;

  const n = spec.tokens.length;
  const tokens = new Array<string>(n);
  const scores = new Float32Array(n);
  const attrs = new Uint16Array(n);
  const tokenToId = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    let text = spec.tokens[i];
    if (text === "") {
      warnings.push(`${source}: empty token at index ${i}`);
      text = `[EMPTY_${i}]`;
    }
    if (tokenToId.has(text)) {
      // llama.cpp refuses such a file; texts that only collide after UTF-8 decoding keep the first id.
      warnings.push(`${source}: duplicate token text at ids ${tokenToId.get(text)} and ${i}`);
    } else {
      tokenToId.set(text, i);
    }
    tokens[i] = text;
    scores[i] = spec.scores ? spec.scores[i] : 0;
    attrs[i] = spec.tokenTypes ? attrOfType(spec.tokenTypes[i]) : TokenAttr.NORMAL;
  }

  // Metadata ids override the defaults; ids outside the vocabulary are ignored.
  for (const name of Object.keys(special) as (keyof SpecialTokenIds)[]) {
    const id = special[name];
    if (id !== undefined && id >= n) delete special[name];
  }
  for (const [name, id] of Object.entries(spec.ids ?? {}) as [keyof SpecialTokenIds, number | undefined][]) {
    if (id === undefined) continue;
    if (id < 0 || id >= n || !Number.isInteger(id)) {
      warnings.push(`${source}: special token ${name} = ${id} is outside the vocabulary; ignored`);
      continue;
    }
    special[name] = id;
  }
  if (spec.addBos !== undefined) addBos = spec.addBos;
  if (spec.addEos !== undefined) addEos = spec.addEos;
  if (addBos && special.bos === undefined) throw new Error(`${source}: ${K}add_bos_token is true, but ${K}bos_token_id is not set`);
  if (addEos && special.eos === undefined) throw new Error(`${source}: ${K}add_eos_token is true, but ${K}eos_token_id is not set`);

  // Marker tokens found by their text become control tokens (llama.cpp does this too).
  const markControl = (id: number) => (attrs[id] |= TokenAttr.CONTROL);
  const findByText = (name: keyof SpecialTokenIds, texts: string[]) => {
    if (special[name] !== undefined) return;
    for (const t of texts) {
      const id = tokenToId.get(t);
      if (id !== undefined) {
        special[name] = id;
        markControl(id);
        return;
      }
    }
  };
  findByText("eot", EOT_TEXTS);
  findByText("eom", EOM_TEXTS);
  findByText("fimPre", FIM_PRE_TEXTS);
  findByText("fimSuf", FIM_SUF_TEXTS);
  findByText("fimMid", FIM_MID_TEXTS);
  findByText("fimPad", FIM_PAD_TEXTS);
  findByText("fimRep", FIM_REP_TEXTS);
  findByText("fimSep", FIM_SEP_TEXTS);

  const eog = new Set<number>();
  for (const id of [special.fimPad, special.fimRep, special.fimSep]) if (id !== undefined) eog.add(id);
  for (const t of EOG_TEXTS) {
    const id = tokenToId.get(t);
    if (id !== undefined) {
      eog.add(id);
      markControl(id);
    }
  }
  for (const t of ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]) {
    const id = tokenToId.get(t);
    if (id !== undefined) attrs[id] = TokenAttr.USER_DEFINED;
  }
  for (const id of [special.eos, special.eot, special.eom]) if (id !== undefined) eog.add(id);

  // Per-model attributes llama.cpp sets by name.
  const name = (spec.modelName ?? "").toLowerCase();
  if (name.includes("phi-3") || name.includes("phi3")) {
    for (let id = 0; id < n; id++) {
      if (attrs[id] & (TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN)) attrs[id] |= TokenAttr.RSTRIP;
    }
    const setR = (t: string, on: boolean) => {
      const id = tokenToId.get(t);
      if (id !== undefined) attrs[id] = on ? attrs[id] | TokenAttr.RSTRIP : attrs[id] & ~TokenAttr.RSTRIP;
    };
    setR("</s>", true);
    for (const t of ["<unk>", "<s>", "<|endoftext|>"]) setR(t, false);
  }

  const byteTokens = new Int32Array(256).fill(-1);
  for (let b = 0; b < 256; b++) {
    const hex = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
    const id = tokenToId.get(hex) ?? (b < 0x80 ? tokenToId.get(String.fromCharCode(b)) : undefined);
    if (id !== undefined) byteTokens[b] = id;
  }

  return {
    source, kind, model: spec.model, pre, tokens, scores, attrs, tokenToId, mergeRanks, special, eog,
    addBos, addEos, addSpacePrefix, ignoreMerges, cleanSpaces, byteTokens, warnings,
  };
}

function attrOfType(t: number): number {
  switch (t) {
    case TokenType.UNKNOWN: return TokenAttr.UNKNOWN;
    case TokenType.UNUSED: return TokenAttr.UNUSED;
    case TokenType.NORMAL: return TokenAttr.NORMAL;
    case TokenType.CONTROL: return TokenAttr.CONTROL;
    case TokenType.USER_DEFINED: return TokenAttr.USER_DEFINED;
    case TokenType.BYTE: return TokenAttr.BYTE;
    default: return TokenAttr.UNDEFINED;
  }
}

interface PreFlags {
  cleanSpaces?: boolean;
  ignoreMerges?: boolean;
  addBos?: boolean;
  noBos?: boolean;
}

const PRE_FLAGS: Record<string, PreFlags> = {
  default: {},
  "llama3": { ignoreMerges: true, addBos: true },
  "llama-v3": { ignoreMerges: true, addBos: true },
  "llama-bpe": { ignoreMerges: true, addBos: true },
  "falcon3": { ignoreMerges: true, addBos: true },
  "deepseek-llm": { cleanSpaces: false },
  "deepseek-coder": { cleanSpaces: false },
  falcon: {},
  mpt: {},
  starcoder: {},
  "gpt-2": {},
  "phi-2": {},
  refact: {},
  "command-r": { cleanSpaces: false },
  qwen2: { cleanSpaces: false },
  "deepseek-r1-qwen": { cleanSpaces: false },
  megrez: {},
  stablelm2: {},
  olmo: {},
  dbrx: {},
  "smaug-bpe": {},
  "chatglm-bpe": { noBos: true },
  glm4: { noBos: true },
  jais: {},
  smollm: { cleanSpaces: false },
  codeshell: {},
  exaone: {},
  "minerva-7b": {},
};

/** The `tokenizer.ggml.pre` values this tokenizer knows. */
export const SUPPORTED_BPE_PRE: string[] = Object.keys(PRE_FLAGS);

function bpePreFlags(pre: string): PreFlags | undefined {
  return Object.prototype.hasOwnProperty.call(PRE_FLAGS, pre) ? PRE_FLAGS[pre] : undefined;
}
