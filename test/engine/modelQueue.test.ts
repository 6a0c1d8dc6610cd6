/** The model queue: one piece of work at a time, by priority, with cancellation while queued. */
import { describe, expect, test } from "vitest";
import { CancelledWhileQueued, ModelQueue, Priority } from "../../engine/scheduler/modelQueue";

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("model queue", () => {
  test("runs one piece of work at a time, completions before Explain", async () => {
    const q = new ModelQueue();
    const order: string[] = [];
    let release!: () => void;
    const first = q.run(Priority.Completion, undefined, () => new Promise<void>((r) => (release = r)).then(() => void order.push("first")));
    const explain = q.run(Priority.Explain, undefined, async () => void order.push("explain"));
    const completion = q.run(Priority.Completion, undefined, async () => void order.push("completion"));
    await tick();
    expect(order).toEqual([]);
    release();
    await Promise.all([first, explain, completion]);
    expect(order).toEqual(["first", "completion", "explain"]);
  });

  test("work cancelled while queued never runs", async () => {
    const q = new ModelQueue();
    let release!: () => void;
    const busy = q.run(Priority.Completion, undefined, () => new Promise<void>((r) => (release = r)));
    const controller = new AbortController();
    let ran = false;
    const queued = q.run(Priority.Completion, controller.signal, async () => void (ran = true));
    controller.abort("cancelled");
    await expect(queued).rejects.toBeInstanceOf(CancelledWhileQueued);
    expect(q.waiting).toBe(0);
    release();
    await busy;
    expect(ran).toBe(false);
  });

  test("yielding long work lets waiting completions go first, then resumes it", async () => {
    const q = new ModelQueue();
    const order: string[] = [];
    let completion: Promise<void> | undefined;
    await q.run(Priority.Explain, undefined, async (lease) => {
      order.push("explain 1");
      expect(await lease.yieldTo()).toBe(false);
      completion = q.run(Priority.Completion, undefined, async () => void order.push("completion"));
      expect(await lease.yieldTo()).toBe(true);
      order.push("explain 2");
    });
    await completion;
    expect(order).toEqual(["explain 1", "completion", "explain 2"]);
  });
});
