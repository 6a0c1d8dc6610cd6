/**
 * A newer completion for a document supersedes the older ones: starting one
 * aborts the previous request's signal with the reason "superseded".
 */

export const SUPERSEDED = "superseded";
export const CANCELLED = "cancelled";

export class Superseder {
  private readonly current = new Map<string, AbortController>();

  /** A controller for a new request on `key`; the previous one is aborted. */
  begin(key: string): AbortController {
    this.current.get(key)?.abort(SUPERSEDED);
    const controller = new AbortController();
    this.current.set(key, controller);
    return controller;
  }

  /** Forgets `controller` when its request ends (unless a newer one took its place). */
  end(key: string, controller: AbortController): void {
    if (this.current.get(key) === controller) this.current.delete(key);
  }

  /** Aborts every request (model reload, shutdown). */
  abortAll(reason: unknown): void {
    for (const c of this.current.values()) c.abort(reason);
    this.current.clear();
  }
}
