import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Destination, PushContext, PushRecord, PushResult } from "../../src/destinations/contract.js";
import { stableStringify } from "../../src/mapping/record.js";
import { PermanentError, TransientError } from "../../src/sync/errors.js";

/**
 * One suite, run against every destination adapter: create, repeat is a no-op, update, expired credentials,
 * a transient failure retried, a permanent failure reported with the server's reason, look-ups. Harnesses build
 * their records through the real mapping, so the suite tests the payloads beamsync really sends.
 */
export interface ConformanceHarness {
  /** "scicat" | "icat" */
  name: string;
  /** Start (stop) the fake catalog and the adapter under test; called around every case. */
  start(): Promise<void>;
  stop(): Promise<void>;
  destination(): Destination;
  /**
   * Records in dependency order for one beamtime, sample and closed run. `variant` (default 0) changes a visible
   * attribute of some of them (e.g. a dataset's description, a proposal's title) for the update case.
   */
  records(variant?: number): PushRecord[];
  /** How many remote entities of the record's kind the fake holds for this record's natural key. */
  countRemote(record: PushRecord): number;
  /**
   * A visible attribute of the stored remote entity, to check that updates land — the attribute `variant`
   * changes, in the form the record's payload carries it (the suite finds it in the payload).
   */
  remoteAttribute(record: PushRecord): unknown;
  /** Every token or session issued so far expires at the fake. */
  expireCredentials(): void;
  /**
   * The next `count` write requests fail unprocessed: "transient" as a server-side failure (5xx, ICAT INTERNAL),
   * "permanent" as the catalog's validation error whose message contains PERMANENT_REASON.
   */
  failNextWrite(count: number, kind: "transient" | "permanent"): void;
  /** Write requests the fake has received so far (any outcome). */
  writeCount(): number;
}

/** Words a harness puts in the server's message for `failNextWrite(…, "permanent")`, so the suite can find them. */
export const PERMANENT_REASON = "value rejected by the conformance suite";

const keyOf = (r: { kind: string; key: string }) => `${r.kind}/${r.key}`;

/**
 * Pushes records in order like the outbox worker does: a PushContext that answers dependency remote ids from
 * earlier results, and each record's own remote id from its last push as the hint.
 */
export function outboxLike(destination: () => Destination) {
  const remote = new Map<string, string>();
  const ctx: PushContext = { dependencyRemoteId: (kind, key) => remote.get(`${kind}/${key}`) };
  const asPush = (r: PushRecord): PushRecord => ({ kind: r.kind, key: r.key, payload: r.payload, hash: r.hash, remoteId: remote.get(keyOf(r)) });
  return {
    ctx,
    remote,
    async push(record: PushRecord): Promise<PushResult> {
      const result = await destination().push(asPush(record), ctx);
      remote.set(keyOf(record), result.remoteId);
      return result;
    },
    async pushAll(records: PushRecord[]): Promise<PushResult[]> {
      const results: PushResult[] = [];
      for (const r of records) results.push(await this.push(r));
      return results;
    },
  };
}

export function describeConformance(h: ConformanceHarness): void {
  const expectOneEach = (records: PushRecord[]) => {
    for (const record of records) expect(h.countRemote(record), keyOf(record)).toBe(1);
  };

  describe(`${h.name} destination conformance`, () => {
    beforeEach(() => h.start());
    afterEach(() => h.stop());

    it("harness: records in dependency order, and a variant that changes something", () => {
      const records = h.records();
      expect(records.length).toBeGreaterThanOrEqual(3);
      expect(new Set(records.map(keyOf)).size).toBe(records.length);
      const changed = h.records(4).filter((r) => records.find((o) => keyOf(o) === keyOf(r))?.hash !== r.hash);
      expect(changed.length).toBeGreaterThan(0);
    });

    it("creates each record once", async () => {
      const outbox = outboxLike(() => h.destination());
      const records = h.records();
      const results = await outbox.pushAll(records);
      expect(results.map((r) => r.operation)).toEqual(records.map(() => "create"));
      for (const result of results) expect(result.remoteId).toMatch(/\S/);
      expectOneEach(records);
    });

    it("repeating a push is a no-op: no write request, operation skip", async () => {
      const outbox = outboxLike(() => h.destination());
      const first = await outbox.pushAll(h.records());
      const writes = h.writeCount();
      const again = await outbox.pushAll(h.records());
      expect(again.map((r) => r.operation)).toEqual(again.map(() => "skip"));
      expect(again.map((r) => r.remoteId)).toEqual(first.map((r) => r.remoteId));
      expect(h.writeCount()).toBe(writes);
      expectOneEach(h.records());
    });

    it("an update lands in the catalog, in place", async () => {
      const outbox = outboxLike(() => h.destination());
      const original = h.records();
      const created = await outbox.pushAll(original);
      const updated = h.records(4);
      const isChanged = (r: PushRecord) => original.find((o) => keyOf(o) === keyOf(r))?.hash !== r.hash;
      const before = new Map(updated.filter(isChanged).map((r) => [keyOf(r), h.remoteAttribute(r)]));

      const results = await outbox.pushAll(updated);
      for (const [i, record] of updated.entries()) {
        expect(results[i]?.remoteId, keyOf(record)).toBe(created[i]?.remoteId);
        if (!isChanged(record)) {
          expect(results[i]?.operation, keyOf(record)).toBe("skip");
          continue;
        }
        expect(results[i]?.operation, keyOf(record)).toBe("update");
        const after = h.remoteAttribute(record);
        expect(after, keyOf(record)).not.toEqual(before.get(keyOf(record)));
        // The new value is the one the record carries.
        expect(stableStringify(record.payload), keyOf(record)).toContain(stableStringify(after));
      }
      expectOneEach(updated);
    });

    it("renews expired credentials without the caller noticing", async () => {
      const outbox = outboxLike(() => h.destination());
      const records = h.records();
      await outbox.push(records[0]!);
      h.expireCredentials();
      await outbox.pushAll(records.slice(1));
      h.expireCredentials();
      const again = await outbox.pushAll(records);
      expect(again.map((r) => r.operation)).toEqual(records.map(() => "skip"));
      expectOneEach(records);
    });

    it("reports a transient server failure as TransientError; the retry succeeds without duplicates", async () => {
      const outbox = outboxLike(() => h.destination());
      const records = h.records();
      h.failNextWrite(1, "transient");
      const error = await outbox.pushAll(records).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      expect((error as TransientError).retryable).toBe(true);
      await outbox.pushAll(records);
      expectOneEach(records);
    });

    it("reports a permanent rejection as PermanentError carrying the server's reason", async () => {
      const outbox = outboxLike(() => h.destination());
      const records = h.records();
      h.failNextWrite(1, "permanent");
      const error = await outbox.push(records[0]!).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as PermanentError).retryable).toBe(false);
      expect((error as Error).message).toContain(PERMANENT_REASON);
      // The rejected write left nothing behind; without the fault the records go through.
      expect(h.countRemote(records[0]!)).toBe(0);
      await outbox.pushAll(records);
      expectOneEach(records);
    });

    it("looks records up without writing", async () => {
      const outbox = outboxLike(() => h.destination());
      const records = h.records();
      expect((await h.destination().lookup(records[0]!, outbox.ctx)).exists).toBe(false);
      const results = await outbox.pushAll(records);
      const writes = h.writeCount();
      for (const [i, record] of records.entries()) {
        const state = await h.destination().lookup(record, outbox.ctx);
        expect(state, keyOf(record)).toMatchObject({ exists: true, remoteId: results[i]?.remoteId });
      }
      expect(h.writeCount()).toBe(writes);
    });
  });
}
