/**
 * Which fill-in-the-middle layout a model speaks, found from its vocabulary:
 * FIM ids from the metadata (tokenizer.ggml.fim_pre_token_id and friends) or
 * the known marker texts the tokenizer recognises. A model without all three
 * markers gets prefix-only continuation.
 */
import type { Tokenizer } from "../tokenizer/tokenizer";

export interface FimFormat {
  /** "deepseek-coder", "codellama", "starcoder", "qwen", "codegemma", "fim" (ids only), or "none". */
  name: string;
  pre?: number;
  suf?: number;
  mid?: number;
  /** Separates files of the extra context (Qwen/StarCoder2 `<|file_sep|>`), when the model has one. */
  fileSep?: number;
}

const NAMES: [marker: string, name: string][] = [
  ["<｜fim▁begin｜>", "deepseek-coder"],
  ["<PRE>", "codellama"],
  ["▁<PRE>", "codellama"],
  ["<|fim_prefix|>", "qwen"],
  ["<fim_prefix>", "starcoder"],
  ["<fim-prefix>", "fim"],
  ["<|code_prefix|>", "codegemma"],
];

export function detectFimFormat(tok: Tokenizer): FimFormat {
  const { fimPre, fimSuf, fimMid, fimSep } = tok.special;
  if (fimPre === undefined || fimSuf === undefined || fimMid === undefined) return { name: "none" };
  const text = tok.tokenText(fimPre);
  const name = NAMES.find(([marker]) => marker === text)?.[1] ?? "fim";
  return { name, pre: fimPre, suf: fimSuf, mid: fimMid, fileSep: fimSep };
}

export function hasFim(f: FimFormat): f is FimFormat & { pre: number; suf: number; mid: number } {
  return f.pre !== undefined && f.suf !== undefined && f.mid !== undefined;
}
