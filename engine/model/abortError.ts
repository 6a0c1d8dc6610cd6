/** The error a cancelled evaluation rejects with, whichever backend ran it. */

export function abortError(message: string): Error {
  const err = new Error(message);
  err.name = "AbortError";
  (err as NodeJS.ErrnoException).code = "ABORT_ERR";
  return err;
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || (err as NodeJS.ErrnoException).code === "ABORT_ERR");
}
