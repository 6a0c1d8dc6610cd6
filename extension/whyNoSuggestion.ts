/**
 * "Why no suggestion?": what happened to each completion request, and a
 * sentence for the last one that showed nothing (Show Engine Health prints it).
 */

export type SuggestionOutcome =
  | { kind: "shown"; count: number; fromCache: boolean }
  | { kind: "off" }
  | { kind: "languageOff"; languageId: string }
  | { kind: "fileTooLarge"; sizeKB: number; limitKB: number }
  | { kind: "engineNotRunning"; detail: string }
  | { kind: "debounced" }
  | { kind: "cancelled"; by: "editor" | "engine" }
  | { kind: "empty"; fim: boolean | undefined }
  | { kind: "error"; message: string };

export interface RecordedOutcome {
  outcome: SuggestionOutcome;
  at: Date;
  languageId?: string;
}

/** The last outcome, and the last one that showed nothing. */
export class SuggestionLog {
  last: RecordedOutcome | undefined;
  lastNothing: RecordedOutcome | undefined;
  readonly counts: Record<SuggestionOutcome["kind"], number> = {
    shown: 0, off: 0, languageOff: 0, fileTooLarge: 0, engineNotRunning: 0, debounced: 0, cancelled: 0, empty: 0, error: 0,
  };

  record(outcome: SuggestionOutcome, languageId?: string, at: Date = new Date()): void {
    const entry = { outcome, at, languageId };
    this.last = entry;
    this.counts[outcome.kind]++;
    if (outcome.kind !== "shown") this.lastNothing = entry;
  }
}

/** One sentence saying why a request showed nothing (or that it showed something). */
export function explainOutcome(o: SuggestionOutcome): string {
  switch (o.kind) {
    case "shown":
      return `${o.count} suggestion${o.count === 1 ? " was" : "s were"} shown${o.fromCache ? " from the cache (you typed what the previous one predicted)" : ""}.`;
    case "off":
      return "Completions are turned off (Ghostline: Enable Completions turns them on).";
    case "languageOff":
      return `Completions are turned off for ${o.languageId} (Ghostline: Enable Completions for This Language turns them on).`;
    case "fileTooLarge":
      return `The file is ${o.sizeKB} KB, above ghostline.maxFileSizeKB (${o.limitKB} KB), so no request was sent.`;
    case "engineNotRunning":
      return `The engine was not ready: ${o.detail}.`;
    case "debounced":
      return "You kept typing: the request was dropped while waiting for a pause (ghostline.debounceMs).";
    case "cancelled":
      return o.by === "editor"
        ? "The request was cancelled because the editor moved on (you typed or moved the cursor) before the engine answered."
        : "The engine cancelled the request because a newer one for the same document replaced it.";
    case "empty":
      return o.fim === false
        ? "The model has no fill-in-the-middle support: it only continues the text before the cursor, and here it produced nothing. Select a code model with FIM tokens for real completions."
        : "The model answered with an empty completion here (nothing useful to add, or it stopped at once).";
    case "error":
      return `The request failed: ${o.message}`;
  }
}
