/**
 * The tokenizer facade: text to ids and back, token for token as llama.cpp.
 *
 *   const tok = await loadTokenizer("model.gguf");
 *   tok.tokenize("def f():", { addSpecial: true });          // [bos, ...]
 *   tok.tokenize("<PRE> x", { parseSpecial: true });          // marker recognised
 *   tok.detokenize(ids);
 *   const stream = tok.createStreamDecoder();  stream.push(id) ... stream.flush();
 */
import { readGgufHeader, type GgufHeader } from "../gguf/ggufReader";
import { BpeTokenizer } from "./bpeTokenizer";
import { Detokenizer, StreamDecoder, type DetokenizeOptions, type StreamDecoderOptions } from "./detokenizer";
import { SpecialTokenSplitter } from "./specialTokens";
import { SpmTokenizer } from "./spmTokenizer";
import { bytesToEscapedString, wellFormed } from "./utf8";
import { TokenAttr, buildVocab, vocabFromGguf, type SpecialTokenIds, type Vocab, type VocabSpec } from "./vocab";

export interface TokenizeOptions {
  /** Add BOS/EOS where the vocabulary asks for them (tokenizer.ggml.add_bos_token / add_eos_token). Default false. */
  addSpecial?: boolean;
  /**
   * Recognise control-token texts (BOS, FIM markers such as <PRE> or
   * <｜fim▁begin｜>) in the text. Default false: user code that happens to
   * contain such strings is tokenized as plain text.
   */
  parseSpecial?: boolean;
}

export class Tokenizer {
  readonly vocab: Vocab;
  private readonly splitter: SpecialTokenSplitter;
  private readonly spm?: SpmTokenizer;
  private readonly bpe?: BpeTokenizer;
  private readonly detok: Detokenizer;

  private constructor(vocab: Vocab) {
    this.vocab = vocab;
    this.splitter = new SpecialTokenSplitter(vocab);
    if (vocab.kind === "spm") this.spm = new SpmTokenizer(vocab);
    else this.bpe = new BpeTokenizer(vocab);
    this.detok = new Detokenizer(vocab);
  }

  /** Builds the tokenizer from a parsed GGUF header (a model file or a vocabulary-only file). */
  static fromGguf(header: GgufHeader): Tokenizer {
    return new Tokenizer(vocabFromGguf(header));
  }

  /** Builds the tokenizer from plain data (tests, tools). */
  static fromSpec(spec: VocabSpec): Tokenizer {
    return new Tokenizer(buildVocab(spec));
  }

  /** "spm" for SentencePiece-style vocabularies, "bpe" for byte-level BPE. */
  get kind(): "spm" | "bpe" {
    return this.vocab.kind;
  }

  get nTokens(): number {
    return this.vocab.tokens.length;
  }

  /** BOS, EOS, EOT, FIM markers... as the prompt builder needs them; undefined where absent. */
  get special(): Readonly<SpecialTokenIds> {
    return this.vocab.special;
  }

  /** Whether generation should stop at this token. */
  isEog(id: number): boolean {
    return this.vocab.eog.has(id);
  }

  /** Whether the token is a control token (rendered as nothing by default). */
  isControl(id: number): boolean {
    return (this.vocab.attrs[id] & TokenAttr.CONTROL) !== 0;
  }

  /** Loader notes worth logging (a missing pre-tokenizer name, duplicate texts...). */
  get warnings(): readonly string[] {
    return this.vocab.warnings;
  }

  /**
   * Token ids of `text`. Bytes are accepted too; malformed UTF-8 in them is
   * handled as llama.cpp does (byte tokens for SentencePiece, U+FFFD for BPE).
   */
  tokenize(text: string | Uint8Array, opts: TokenizeOptions = {}): number[] {
    const vocab = this.vocab;
    const s = typeof text === "string" ? wellFormed(text) : bytesToEscapedString(text);
    const addSpecial = opts.addSpecial ?? false;
    const out: number[] = [];
    const fragments = this.splitter.split(s, opts.parseSpecial ?? false);
    if (addSpecial && vocab.addBos) out.push(vocab.special.bos!);
    if (this.spm) {
      // SentencePiece puts a space before the text and after every special token.
      let prevSpecial = true;
      for (const f of fragments) {
        if ("token" in f) {
          out.push(f.token);
          prevSpecial = true;
        } else {
          this.spm.tokenize(f.text, vocab.addSpacePrefix && prevSpecial, out);
          prevSpecial = false;
        }
      }
    } else {
      for (const f of fragments) {
        if ("token" in f) out.push(f.token);
        else this.bpe!.tokenize(f.text, out);
      }
    }
    if (addSpecial && vocab.addEos) out.push(vocab.special.eos!);
    return out;
  }

  /** The bytes of one token. Control and unknown tokens give nothing unless `special`. */
  tokenToPiece(id: number, opts: { special?: boolean } = {}): Uint8Array {
    return this.detok.piece(id, opts.special ?? false);
  }

  /** The token's text as stored in the vocabulary ("▁the", "Ġthe", "<0x0A>"). */
  tokenText(id: number): string {
    const t = this.vocab.tokens[id];
    if (t === undefined) throw new Error(`${this.vocab.source}: token id ${id} is outside the vocabulary`);
    return t;
  }

  /** Id of a token by its vocabulary text, or undefined. */
  tokenId(text: string): number | undefined {
    return this.vocab.tokenToId.get(text);
  }

  /** Text of a sequence of ids, as llama.cpp's detokenize gives it. */
  detokenize(ids: ArrayLike<number>, opts: DetokenizeOptions = {}): string {
    return this.detok.detokenize(ids, opts);
  }

  /** Bytes of a sequence of ids (no U+FFFD substitution). */
  detokenizeBytes(ids: ArrayLike<number>, opts: DetokenizeOptions = {}): Uint8Array {
    return this.detok.detokenizeBytes(ids, opts);
  }

  /** A decoder for ids arriving one by one; it never emits half a character. */
  createStreamDecoder(opts: StreamDecoderOptions = {}): StreamDecoder {
    return new StreamDecoder(this.detok, this.vocab, opts);
  }
}

/** Reads the GGUF header of `path` (model or vocabulary-only file) and builds its tokenizer. */
export async function loadTokenizer(path: string): Promise<Tokenizer> {
  return Tokenizer.fromGguf(await readGgufHeader(path));
}
