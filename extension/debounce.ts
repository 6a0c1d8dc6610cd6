/**
 * Debounce for completion requests. VS Code cancels a provider call's token
 * as soon as the user types again, so waiting a little before asking the
 * engine, and giving up when the token is cancelled, sends one request per
 * pause in typing instead of one per keystroke.
 */

/** The part of vscode.CancellationToken this needs. */
export interface CancelSignal {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => unknown): { dispose(): unknown };
}

/** Resolves true after `ms`, or false as soon as `token` is cancelled (at once if it already is). */
export function waitUnlessCancelled(ms: number, token: CancelSignal): Promise<boolean> {
  if (token.isCancellationRequested) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const sub = token.onCancellationRequested(() => {
      clearTimeout(timer);
      sub.dispose();
      resolve(false);
    });
    const timer = setTimeout(() => {
      sub.dispose();
      resolve(!token.isCancellationRequested);
    }, ms);
  });
}
