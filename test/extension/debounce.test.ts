import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { waitUnlessCancelled, type CancelSignal } from "../../extension/debounce";

/** A cancellation token like VS Code's. */
function tokenSource() {
  const listeners = new Set<() => unknown>();
  let cancelled = false;
  const token: CancelSignal = {
    get isCancellationRequested() {
      return cancelled;
    },
    onCancellationRequested(l) {
      listeners.add(l);
      return { dispose: () => listeners.delete(l) };
    },
  };
  return { token, cancel: () => ((cancelled = true), [...listeners].forEach((l) => l())), listeners };
}

describe("debouncing completion requests", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("resolves true after the pause when nothing cancels", async () => {
    const s = tokenSource();
    let done: boolean | undefined;
    void waitUnlessCancelled(75, s.token).then((v) => (done = v));
    await vi.advanceTimersByTimeAsync(74);
    expect(done).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    expect(s.listeners.size).toBe(0);
  });

  it("resolves false as soon as the next keystroke cancels, without waiting out the pause", async () => {
    const s = tokenSource();
    let done: boolean | undefined;
    void waitUnlessCancelled(1000, s.token).then((v) => (done = v));
    await vi.advanceTimersByTimeAsync(10);
    s.cancel();
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("resolves false at once for a token that is already cancelled, and true at once for no pause", async () => {
    const s = tokenSource();
    s.cancel();
    expect(await waitUnlessCancelled(50, s.token)).toBe(false);
    expect(await waitUnlessCancelled(0, tokenSource().token)).toBe(true);
  });
});
