import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Destination, PushContext, PushRecord, PushResult } from "../../src/destinations/contract.js";
import type { DesiredRecord } from "../../src/mapping/record.js";
import { PermanentError, TransientError } from "../../src/sync/errors.js";

/**
 * One suite, run against every destination adapter (issue 4): create, repeat is a no-op, update, expired
 * credentials, a transient failure retried, a permanent failure reported with the server's reason. Records
 * come from the real mappings, so the suite tests the payloads beamsync really sends.
 */
export interface ConformanceHarness {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  destination(): Destination;
  /** Records of one beamtime, sample and closed run, in dependency order; `variant` changes visible attributes. */
  records(variant?: number): DesiredRecord[];
  /** How many entities the catalog holds under this record's natural key. */
  countRemote(record: DesiredRecord): number;
  /** The beamtime's title as the catalog holds it (the update check). */
  remoteTitle(): unknown;
  /** The title `records(variant)` sends. */
  expectedTitle(variant: number): string;
  expireCredentials(): void;
  /** The next write request fails with a server error (5xx / INTERNAL). */
  failNextWrite(): void;
  /** A record the catalog rejects, and the words of its answer. */
  rejected(records: DesiredRecord[]): { record: DesiredRecord; reason: RegExp };
  writeCount(): number;
}

/** Pushes records in order like the outbox does: dependency remote ids from earlier results, remote id hints kept. */
export function outboxLike(destination: () => Destination) {
  const remote = new Map<string, string>();
  const ctx: PushContext = { dependencyRemoteId: (kind, key) => remote.get(`${kind}/${key}`) };
  const asPush = (r: DesiredRecord): PushRecord => ({ kind: r.kind, key: r.key, payload: r.payload, hash: r.hash, remoteId: remote.get(`${r.kind}/${r.key}`) });
  return {
    ctx,
    async push(record: DesiredRecord): Promise<PushResult> {
      const result = await destination().push(asPush(record), ctx);
      remote.set(`${record.kind}/${record.key}`, result.remoteId);
      return result;
    },
    async pushAll(records: DesiredRecord[]): Promise<PushResult[]> {
      const results: PushResult[] = [];
      for (const r of records) results.push(await this.push(r));
      return results;
    },
  };
}

export function describeConformance(h: ConformanceHarness): void {
  describe(`${h.name} destination conformance`, () => {
    beforeEach(() => h.start());
    afterEach(() => h.stop());

    it("creates each record once", async () => {
      const outbox = outboxLike(() => h.destination());
      const results = await outbox.pushAll(h.records());
      expect(results.map((r) => r.operation)).toEqual(results.map(() => "create"));
      for (const record of h.records()) expect(h.countRemote(record), `${record.kind} ${record.key}`).toBe(1);
    });

    it("repeating a push changes nothing and writes nothing", async () => {
      const outbox = outboxLike(() => h.destination());
      await outbox.pushAll(h.records());
      const writes = h.writeCount();
      const again = await outbox.pushAll(h.records());
      expect(again.map((r) => r.operation)).toEqual(again.map(() => "skip"));
      expect(h.writeCount()).toBe(writes);
      for (const record of h.records()) expect(h.countRemote(record)).toBe(1);
    });

    it("updates what changed", async () => {
      const outbox = outboxLike(() => h.destination());
      await outbox.pushAll(h.records());
      const results = await outbox.pushAll(h.records(4));
      expect(results.some((r) => r.operation === "update")).toBe(true);
      expect(h.remoteTitle()).toBe(h.expectedTitle(4));
      for (const record of h.records(4)) expect(h.countRemote(record)).toBe(1);
    });

    it("renews expired credentials without the caller noticing", async () => {
      const outbox = outboxLike(() => h.destination());
      const records = h.records();
      await outbox.push(records[0]!);
      h.expireCredentials();
      await outbox.pushAll(records.slice(1));
      for (const record of records) expect(h.countRemote(record)).toBe(1);
    });

    it("reports a server failure as transient, and the retry succeeds without duplicates", async () => {
      const outbox = outboxLike(() => h.destination());
      h.failNextWrite();
      const error = await outbox.pushAll(h.records()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      await outbox.pushAll(h.records());
      for (const record of h.records()) expect(h.countRemote(record)).toBe(1);
    });

    it("reports a rejected record as permanent, with the server's reason", async () => {
      const outbox = outboxLike(() => h.destination());
      const records = h.records();
      const { record, reason } = h.rejected(records);
      await outbox.pushAll(records.slice(0, records.indexOf(records.find((r) => r.kind === record.kind)!)));
      const error = await outbox.push(record).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toMatch(reason);
    });
  });
}
