/**
 * The loaded model and everything read from its file once: tokenizer, FIM
 * format, chat format. Slot 0 holds completions (and their prefix cache),
 * slot 1 Explain, so an explanation never wipes the completion cache.
 */
import * as fs from "node:fs";
import { detectFimFormat, type FimFormat } from "../completion/fimFormat";
import { TokenCache } from "../completion/tokenCache";
import { pieceIndex } from "../completion/tokenHealing";
import { recognizeChatTemplate, type ChatFormat } from "../explain/chatTemplate";
import { metaStringOr, readGgufHeader } from "../gguf/ggufReader";
import type { ModelFacts } from "../health/healthTracker";
import { LocalModel } from "../model/localModel";
import type { GhostlineSettings } from "../protocol/protocol";
import { Tokenizer } from "../tokenizer/tokenizer";

export const COMPLETION_SLOT = 0;
export const EXPLAIN_SLOT = 1;
const SLOTS = 2;

export interface LoadedModel {
  model: LocalModel;
  tok: Tokenizer;
  fim: FimFormat;
  chat: ChatFormat | undefined;
  cache: TokenCache;
  path: string;
  name: string;
  fileBytes: number;
}

export async function loadModel(settings: GhostlineSettings, onFallback?: (reason: string) => void): Promise<LoadedModel> {
  const path = settings.modelPath;
  if (!path) throw new Error("no model configured: set ghostline.modelPath to a GGUF file");
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(path);
  } catch {
    throw new Error(`model file not found: ${path}`);
  }
  if (!stat.isFile()) throw new Error(`model path is not a file: ${path}`);
  // The header first: a broken file fails here with a message naming the key or tensor.
  const header = await readGgufHeader(path);
  const tok = Tokenizer.fromGguf(header);
  const model = await LocalModel.load(path, {
    threads: settings.threads,
    contextSize: settings.contextSize,
    slots: SLOTS,
    batchSize: 64,
    backend: settings.backend,
    onFallback,
  });
  if (model.info.nVocab < tok.nTokens) {
    model.free();
    throw new Error(`${path}: the vocabulary has ${tok.nTokens} tokens but the model's output has ${model.info.nVocab}`);
  }
  // The healing index takes tens of milliseconds to build: at load, not on the first keystroke.
  pieceIndex(tok);
  const template = metaStringOr(header, "tokenizer.chat_template", undefined);
  let chat = recognizeChatTemplate(template);
  if (template && !chat && tok.tokenId("<|im_start|>") !== undefined) chat = recognizeChatTemplate("<|im_start|>");
  return {
    model,
    tok,
    fim: detectFimFormat(tok),
    chat,
    cache: new TokenCache(tok, 128),
    path,
    name: model.info.name || metaStringOr(header, "general.name", undefined) || path,
    fileBytes: stat.size,
  };
}

export function modelFacts(m: LoadedModel): ModelFacts {
  const info = m.model.info;
  return {
    model: {
      path: m.path,
      name: m.name,
      fileBytes: m.fileBytes,
      fimFormat: m.fim.name,
      fim: m.fim.name !== "none",
      chatTemplate: m.chat?.name ?? "none",
      contextSize: info.nCtx,
      vocabSize: info.nVocab,
    },
    backend: info.backend,
    device: info.device,
    backendFallback: info.fallbackReason,
    bufferBytes: info.bufferBytes,
    slots: info.nSlots,
    slotTokens: () => Array.from({ length: info.nSlots }, (_, s) => m.model.tokens(s).length),
    gpu: () => {
      if (info.backend === "cpu") return null;
      const c = m.model.counters();
      return {
        liveBuffers: c.liveBuffers,
        inFlight: c.inFlight,
        submits: c.submits,
        poolsPushed: c.poolsPushed,
        poolsDrained: c.poolsDrained,
        deviceUsedBytes: c.deviceUsedBytes,
        deviceBudgetBytes: c.deviceBudgetBytes,
      };
    },
  };
}
