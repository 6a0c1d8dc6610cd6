/**
 * Ghost text: the language client's inline-completion middleware. The client
 * sends `textDocument/inlineCompletion` with VS Code's cancellation token
 * (a stale request becomes `$/cancelRequest` in the engine); this middleware
 * decides whether to ask at all, debounces, serves what a recent suggestion
 * still predicts from the cache, and records why nothing was shown.
 */
import * as vscode from "vscode";
import type { Middleware } from "vscode-languageclient/node";
import type { ExtensionSettings } from "./configuration";
import { CompletionCache, type DocumentView } from "./completionCache";
import { waitUnlessCancelled } from "./debounce";
import { gateRequest } from "./requestGate";
import { shapeSuggestions } from "./suggestionText";
import { explainOutcome, SuggestionLog, type SuggestionOutcome } from "./whyNoSuggestion";

export interface InlineDeps {
  settings: () => ExtensionSettings;
  /** Undefined when the engine can take a request; otherwise why not. */
  engineProblem: () => string | undefined;
  /** Called after the engine answered, so the status bar catches up with the speeds. */
  answered: () => void;
  /** Whether the loaded model has FIM tokens (undefined: unknown). */
  modelHasFim: () => boolean | undefined;
  log: vscode.LogOutputChannel;
}

type InlineCompletionMiddleware = Pick<Middleware, "provideInlineCompletionItems">;
type Next = Parameters<NonNullable<Middleware["provideInlineCompletionItems"]>>[4];

export class InlineCompletions {
  readonly cache = new CompletionCache();
  readonly why = new SuggestionLog();

  constructor(private readonly deps: InlineDeps) {}

  readonly middleware: InlineCompletionMiddleware = {
    provideInlineCompletionItems: (document, position, context, token, next) => this.provide(document, position, context, token, next),
  };

  private note(outcome: SuggestionOutcome, languageId: string): void {
    this.why.record(outcome, languageId);
    this.deps.log.trace(`inline completion: ${explainOutcome(outcome)}`);
  }

  private async provide(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
    next: Next,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const s = this.deps.settings();
    const lang = document.languageId;
    this.deps.log.trace(`inline completion asked at ${document.uri.toString()}:${position.line + 1}:${position.character + 1} (${context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke ? "invoked" : "automatic"})`);
    const refused = gateRequest({
      enabled: s.enabled,
      enabledLanguages: s.enabledLanguages,
      languageId: lang,
      length: documentLength(document),
      maxFileSizeKB: s.maxFileSizeKB,
      engineProblem: this.deps.engineProblem(),
    });
    if (refused) {
      this.note(refused, lang);
      return undefined;
    }

    const view = documentView(document, position);
    const cached = this.cache.lookup(view);
    if (cached) {
      const texts = shapeSuggestions(cached, s.multiLine);
      if (texts.length > 0) {
        this.note({ kind: "shown", count: texts.length, fromCache: true }, lang);
        return items(texts, position);
      }
    }

    // An explicit request (Alt+\) is answered at once; automatic ones wait for a pause in typing.
    if (context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic && !(await waitUnlessCancelled(s.debounceMs, token))) {
      this.note({ kind: "debounced" }, lang);
      return undefined;
    }

    let result: vscode.InlineCompletionItem[] | vscode.InlineCompletionList | null | undefined;
    try {
      result = await next(document, position, context, token);
    } catch (err) {
      this.deps.answered();
      if (token.isCancellationRequested) this.note({ kind: "cancelled", by: "editor" }, lang);
      else if (err instanceof vscode.CancellationError) this.note({ kind: "cancelled", by: "engine" }, lang);
      else {
        const message = (err as Error)?.message ?? String(err);
        this.note({ kind: "error", message }, lang);
        this.deps.log.warn(`inline completion in ${document.uri.toString()} failed: ${message}`);
      }
      return undefined;
    }
    this.deps.answered();
    if (token.isCancellationRequested) {
      this.note({ kind: "cancelled", by: "editor" }, lang);
      return undefined;
    }
    const raw = (Array.isArray(result) ? result : (result?.items ?? [])).map(textOf).filter((t): t is string => t !== undefined);
    this.cache.store(view, raw);
    const texts = shapeSuggestions(raw, s.multiLine);
    if (texts.length === 0) {
      this.note({ kind: "empty", fim: this.deps.modelHasFim() }, lang);
      return undefined;
    }
    this.note({ kind: "shown", count: texts.length, fromCache: false }, lang);
    return items(texts, position);
  }
}

/** The text an item inserts at the cursor (the engine's items always start there). */
function textOf(item: vscode.InlineCompletionItem): string | undefined {
  const t = item.insertText;
  return typeof t === "string" ? t : t?.value;
}

function items(texts: string[], position: vscode.Position): vscode.InlineCompletionItem[] {
  return texts.map((t) => new vscode.InlineCompletionItem(t, new vscode.Range(position, position)));
}

function documentView(document: vscode.TextDocument, position: vscode.Position): DocumentView {
  const length = documentLength(document);
  const clamp = (o: number) => Math.max(0, Math.min(length, o));
  return {
    uri: document.uri.toString(),
    offset: document.offsetAt(position),
    read: (start, end) => document.getText(new vscode.Range(document.positionAt(clamp(start)), document.positionAt(clamp(end)))),
  };
}

/** Length in UTF-16 units without copying the text. */
function documentLength(document: vscode.TextDocument): number {
  return document.offsetAt(document.lineAt(document.lineCount - 1).range.end);
}
