import { Tokenizer } from "../../engine/tokenizer/tokenizer";
import { TokenType, type VocabSpec } from "../../engine/tokenizer/vocab";

/** A small SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens, then the given pieces with their scores. */
export function makeSpm(pieces: [string, number][], extra: Partial<VocabSpec> = {}): Tokenizer {
  const tokens = ["<unk>", "<s>", "</s>"];
  const scores = [0, 0, 0];
  const types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    scores.push(0);
    types.push(TokenType.BYTE);
  }
  for (const [text, score] of pieces) {
    tokens.push(text);
    scores.push(score);
    types.push(TokenType.NORMAL);
  }
  return Tokenizer.fromSpec({ model: "llama", tokens, scores, tokenTypes: types, ...extra });
}

/** Byte-level spelling of a plain ASCII string (space -> Ġ, newline -> Ċ). */
export function bl(s: string): string {
  return s.replaceAll(" ", "\u0120").replaceAll("\n", "\u010A");
}
