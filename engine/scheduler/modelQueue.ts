/**
 * One model, one evaluation at a time: a priority queue of work waiting for
 * the model. Lower priority numbers go first (model reloads, then completions,
 * then Explain); equal priorities go in arrival order. Work cancelled while it
 * waits leaves the queue at once and never runs. Long work (Explain) calls
 * `yieldTo()` between tokens, so a completion waiting behind it goes next.
 */

export const Priority = {
  Reload: 0,
  Completion: 1,
  Explain: 2,
} as const;

/** Thrown when work is cancelled before it got the model. */
export class CancelledWhileQueued extends Error {
  constructor(readonly reason: unknown) {
    super("cancelled before it started");
    this.name = "CancelledWhileQueued";
  }
}

interface Waiter {
  priority: number;
  seq: number;
  grant: () => void;
}

export interface Lease {
  readonly priority: number;
  /**
   * Gives the model to waiting work of higher priority, if any, and waits to
   * get it back; `signal` cancels the wait.
   */
  yieldTo(signal?: AbortSignal): Promise<boolean>;
}

export class ModelQueue {
  private busy = false;
  private waiters: Waiter[] = [];
  private seq = 0;

  /** Work waiting for the model. */
  get waiting(): number {
    return this.waiters.length;
  }

  get running(): boolean {
    return this.busy;
  }

  /** Runs `work` when the model is free and nothing more urgent waits. */
  async run<T>(priority: number, signal: AbortSignal | undefined, work: (lease: Lease) => Promise<T>): Promise<T> {
    await this.acquire(priority, signal);
    const lease: Lease = {
      priority,
      yieldTo: async (s) => {
        if (!this.waiters.some((w) => w.priority < priority)) return false;
        this.release();
        await this.acquire(priority, s, true);
        return true;
      },
    };
    try {
      return await work(lease);
    } finally {
      this.release();
    }
  }

  private acquire(priority: number, signal: AbortSignal | undefined, front = false): Promise<void> {
    if (signal?.aborted) return Promise.reject(new CancelledWhileQueued(signal.reason));
    if (!this.busy && this.waiters.length === 0) {
      this.busy = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      // Yielding work keeps its place ahead of later work of its own priority.
      const waiter: Waiter = { priority, seq: front ? -++this.seq : ++this.seq, grant: () => {} };
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new CancelledWhileQueued(signal!.reason));
      };
      waiter.grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
      this.waiters.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
      this.pump();
    });
  }

  private release(): void {
    this.busy = false;
    this.pump();
  }

  private pump(): void {
    if (this.busy) return;
    const next = this.waiters.shift();
    if (!next) return;
    this.busy = true;
    next.grant();
  }
}
