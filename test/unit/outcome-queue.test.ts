import { describe, expect, it, vi } from "vitest";
import type { RecordRow } from "../../src/state/contract.js";
import { OutcomeQueue, type Outcome } from "../../src/state/outcomes.js";

const row = (id: string): RecordRow =>
  ({ id, destination: "scicat", kind: "dataset", key: id, desired_hash: `h-${id}`, attempts: 0 }) as unknown as RecordRow;
const log = (id: string) => ({ sessionIdentifier: id, destination: "scicat" as const, success: true, metadata: {} });

/** A queue whose flushes only note the ids they commit. */
function recordingQueue(): { queue: OutcomeQueue; flushed: string[][] } {
  const flushed: string[][] = [];
  return { queue: new OutcomeQueue((outcomes) => void flushed.push(outcomes.map((o) => o.id))), flushed };
}

describe("OutcomeQueue.commitWith", () => {
  it("hands the queued outcomes to the caller's transaction, once", async () => {
    const { queue, flushed } = recordingQueue();
    queue.success(row("a"), { remoteId: "A" }, log("a"), 0);
    queue.failure(row("b"), "no", log("b"), 0);
    const seen = await queue.commitWith((outcomes: Outcome[]) => outcomes.map((o) => `${o.kind}:${o.id}`));
    expect(seen).toEqual(["success:a", "failure:b"]);
    expect(queue.size).toBe(0);
    await queue.flush();
    expect(flushed).toEqual([]);
  });

  it("keeps them queued, in order, when the caller's transaction fails", async () => {
    const { queue, flushed } = recordingQueue();
    queue.success(row("a"), { remoteId: "A" }, log("a"), 0);
    await expect(
      queue.commitWith(() => {
        throw new Error("disk full");
      }),
    ).rejects.toThrow("disk full");
    queue.success(row("b"), { remoteId: "B" }, log("b"), 0);
    expect(queue.size).toBe(2);
    await queue.flush();
    expect(flushed).toEqual([["a", "b"]]);
  });

  it("commits them later by itself when the caller's transaction failed and nothing else flushes", async () => {
    const { queue, flushed } = recordingQueue();
    queue.success(row("a"), { remoteId: "A" }, log("a"), 0);
    await expect(
      queue.commitWith(() => {
        throw new Error("database is locked");
      }),
    ).rejects.toThrow("locked");
    await vi.waitFor(() => expect(flushed).toEqual([["a"]]), { timeout: 5000, interval: 50 });
    queue.stop();
  });

  it("waits for a flush already committing, so nothing is written twice or out of order", async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const queue = new OutcomeQueue(async (outcomes) => {
      await gate;
      order.push(...outcomes.map((o) => `flush:${o.id}`));
    });
    queue.success(row("a"), { remoteId: "A" }, log("a"), 0);
    const flushing = queue.flush();
    queue.success(row("b"), { remoteId: "B" }, log("b"), 0);
    const leasing = queue.commitWith((outcomes) => order.push(...outcomes.map((o) => `lease:${o.id}`)));
    release();
    await Promise.all([flushing, leasing]);
    expect(order).toEqual(["flush:a", "lease:b"]);
  });
});
