import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeRecord, type DesiredRecord } from "../../src/mapping/record.js";
import type { RecordRow, StateStore, UploadLogEntry } from "../../src/state/contract.js";
import { PostgresStateStore } from "../../src/state/postgres-store.js";
import { SqliteStateStore } from "../../src/state/sqlite-store.js";
import { pgAvailable, usePostgres } from "../support/postgres.js";

/**
 * One suite, both backends: every StateStore method as the contract (state/contract.ts) describes it, run against
 * SQLite (a temporary directory per test) and PostgreSQL (a fresh database per test). Each case is a script of calls
 * whose answers the suite checks; "the same answers" runs every script on both backends and compares them whole.
 */

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const HOUR = 3_600_000;

function rec(kind: string, key: string, payload: Record<string, unknown>, dependsOn: string[] = [], extra: Partial<DesiredRecord> = {}): DesiredRecord {
  return makeRecord({ destination: "scicat", kind, key, payload, dependsOn, ...extra });
}

const proposal = (v = 1) => rec("proposal", "P1", { title: `t${v}` }, [], { beamtimeKey: "bt1" });
const dataset = (i: number, v = 1) => rec("dataset", `ds${i}`, { n: i, v }, ["scicat/proposal/P1"], { runUid: `run${i}`, beamtimeKey: "bt1" });
const icat = rec("investigation", "bt1", { x: 1 }, [], { destination: "icat", beamtimeKey: "bt1" });

const log = (row: RecordRow, success: boolean, worker = "w1", timestamp = new Date(T0).toISOString()): UploadLogEntry => ({
  sessionIdentifier: row.session_identifier,
  destination: row.destination,
  success,
  timestamp,
  recordId: success ? `remote-${row.key}` : undefined,
  errorMessage: success ? undefined : "boom",
  metadata: { kind: row.kind },
  worker,
});

const lease = (store: StateStore, owner: string, extra: { limit?: number; nowMs?: number; excludeIds?: Set<string>; destinations?: ("scicat" | "icat")[] } = {}) =>
  store.lease({ owner, limit: extra.limit ?? 10, nowMs: extra.nowMs ?? T0, leaseMs: 60_000, destinations: extra.destinations ?? ["scicat", "icat"], excludeIds: extra.excludeIds });

const ids = <T>(rows: { id: T }[]) => rows.map((r) => r.id);

/** Each script: calls on a fresh store, answers as a plain object. */
const scripts = {
  async reconcileCounts(store: StateStore) {
    const first = await store.reconcile([proposal(), dataset(1), dataset(2)], [], { nowMs: T0 });
    const again = await store.reconcile([proposal(), dataset(1), dataset(2)], [], { nowMs: T0 + 1 });
    const changed = await store.reconcile([proposal(2), dataset(1), dataset(3)], [], { nowMs: T0 + 2 });
    const forced = await store.reconcile([proposal(2), dataset(1), dataset(2, 2)], [], { nowMs: T0 + 3, force: (r) => r.kind === "dataset" });
    // The same record twice in one call: the second compares with the first, as in a loop.
    const twice = await store.reconcile([dataset(4), dataset(4), dataset(4, 2)], [], { nowMs: T0 + 4 });
    const diff = await store.diff([proposal(2), dataset(9)]);
    return {
      first,
      again,
      changed,
      forced,
      twice,
      diff: diff.map((d) => [d.record.key, d.change]),
      record: await store.getRecord("scicat/dataset/ds2"),
      missing: (await store.getRecord("nope")) ?? null,
    };
  },

  async watermarks(store: StateStore) {
    await store.reconcile(
      [],
      [
        { source: "resonance", path: "a/one.db", size: 10, mtimeMs: 1234.5, data: { open: ["r1"] } },
        { source: "resonance", path: "b/two.db", size: 20, mtimeMs: 99, problem: "locked", retry: true },
        { source: "bluesky", path: "c.jsonl", size: 3_000_000_000, mtimeMs: T0, problem: "bad line 3" },
      ],
      { nowMs: T0 },
    );
    await store.reconcile([], [{ source: "resonance", path: "a/one.db", size: 11, mtimeMs: 1300 }], { nowMs: T0 + HOUR });
    const one = await store.getWatermark("resonance", "a/one.db");
    const two = await store.getWatermark("resonance", "b/two.db");
    const summary = await store.sourceSummary();
    const problems = await store.sourceProblems();
    const forgot = await store.forgetSourcesExcept("resonance", new Set(["a/one.db"]));
    const forgotNone = await store.forgetSourcesExcept("bluesky", new Set(["c.jsonl"]));
    return { one, two, summary, problems, forgot, forgotNone, gone: (await store.getWatermark("resonance", "b/two.db")) ?? null, after: await store.sourceSummary() };
  },

  async leaseRules(store: StateStore) {
    await store.reconcile([proposal(), dataset(1), dataset(2), icat], [], { nowMs: T0 });
    // Datasets wait for their proposal; the proposal and ICAT's investigation are due.
    const first = await lease(store, "a");
    const none = await lease(store, "b");
    const waiting = await store.waitingCounts();
    const held = await store.extendLeases("a", ["scicat/proposal/P1", "scicat/dataset/ds1", "icat/investigation/bt1"], T0 + 120_000);
    const notMine = await store.extendLeases("b", ["scicat/proposal/P1"], T0 + 120_000);
    const [p] = first.filter((r) => r.kind === "proposal");
    store.recordSuccess(p!, { remoteId: "remote-P1", remoteUrl: "https://x/P1", written: { title: "t1" } }, log(p!, true), T0 + 1000);
    await store.releaseLease("icat/investigation/bt1", "a");
    await store.flushWrites();
    // Now the datasets are due; ds1 is kept out by excludeIds (the caller holds it in flight).
    const second = await lease(store, "b", { nowMs: T0 + 2000, excludeIds: new Set(["scicat/dataset/ds1"]) });
    const afterExclude = await store.getRecord("scicat/dataset/ds1");
    const third = await lease(store, "c", { nowMs: T0 + 2000, limit: 1 });
    // Leases run out: the rest is leasable again after leaseMs.
    const expired = await lease(store, "d", { nowMs: T0 + 200_000, destinations: ["icat"] });
    await store.releaseLeases("d");
    const remote = await store.remoteIdsOf(["scicat/proposal/P1", "scicat/dataset/ds1", "nope", "scicat/proposal/P1"]);
    return {
      first: ids(first),
      leasedRow: first.find((r) => r.kind === "proposal"),
      none: ids(none),
      waiting,
      held: held.sort(),
      notMine,
      second: ids(second),
      secondOwner: second.map((r) => [r.lease_owner, r.lease_until]),
      afterExclude: [afterExclude?.lease_owner ?? null, afterExclude?.lease_until ?? null],
      third: ids(third),
      expired: ids(expired),
      remoteIdOf: await store.remoteIdOf("scicat/proposal/P1"),
      remoteIdOfNone: (await store.remoteIdOf("scicat/dataset/ds1")) ?? null,
      remote: [...remote.entries()],
      icat: (await store.getRecord("icat/investigation/bt1"))?.lease_owner ?? null,
    };
  },

  async due(store: StateStore) {
    await store.reconcile([proposal(), icat], [], { nowMs: T0 });
    const [p, i] = await lease(store, "w1");
    store.recordRetry(p!, "503", T0 + 5000, 3, log(p!, false), T0 + 10);
    store.recordDeferred(i!, "catalog down", T0 + 9000, log(i!, false), T0 + 11);
    return {
      nextDue: await store.nextDueAt(["scicat", "icat"]),
      nextDueIcat: await store.nextDueAt(["icat"]),
      nextDueAfter: await store.nextDueAt(["scicat", "icat"], T0 + 5000),
      nextDueNone: (await store.nextDueAt([])) ?? null,
      notYet: ids(await lease(store, "w2", { nowMs: T0 + 4999 })),
      nowDue: ids(await lease(store, "w2", { nowMs: T0 + 5000 })),
      pending: await store.countPending(["scicat", "icat"]),
      pendingIcat: await store.countPending(["icat"]),
      icat: await store.getRecord("icat/investigation/bt1"),
    };
  },

  async outcomes(store: StateStore) {
    await store.reconcile([proposal(), dataset(1), dataset(2), dataset(3), icat], [], { nowMs: T0 });
    const [p, i] = await lease(store, "w1");
    store.recordSuccess(p!, { remoteId: "remote-P1", conflicts: [{ field: "title" }] }, log(p!, true), T0 + 1);
    store.recordFailure(i!, "400: bad", log(i!, false), T0 + 2);
    await store.flushWrites();
    const ds = await lease(store, "w1", { nowMs: T0 + 10 });
    const [d1, d2, d3] = ds;
    // Retries: dead once maxAttempts are spent (2 here).
    const states = [store.recordRetry(d1!, "503", T0 + 20, 2, log(d1!, false), T0 + 11)];
    await store.flushWrites();
    const d1again = (await lease(store, "w1", { nowMs: T0 + 20 })).find((r) => r.id === d1!.id)!;
    states.push(store.recordRetry(d1again, "503 again", T0 + 40, 2, log(d1again, false, "w2"), T0 + 21));
    // A success for content that changed meanwhile keeps the record pending, with its remote id.
    await store.reconcile([dataset(2, 2)], [], { nowMs: T0 + 22 });
    store.recordSuccess(d2!, { remoteId: "remote-ds2" }, log(d2!, true), T0 + 23);
    store.recordSuccess(d3!, { remoteId: "remote-ds3", remoteUrl: "https://x/ds3", written: { n: 3 } }, log(d3!, true), T0 + 24);
    await store.flushWrites();
    return {
      states,
      records: await Promise.all(["scicat/proposal/P1", "icat/investigation/bt1", "scicat/dataset/ds1", "scicat/dataset/ds2", "scicat/dataset/ds3"].map((id) => store.getRecord(id))),
      log: await store.uploadLog({ limit: 100 }),
      logFailed: ids(await store.uploadLog({ failed: true, limit: 100 })),
      logRun: ids(await store.uploadLog({ runUid: "run1", limit: 100 })),
      logIcat: ids(await store.uploadLog({ destination: "icat", limit: 100 })),
      logLast2: ids(await store.uploadLog({ limit: 2 })),
      counts: await store.countsByState(),
      failures: ids(await store.recentFailures(10)),
      conflicted: ids(await store.conflicted(10)),
      countConflicted: await store.countConflicted(),
      writtenOf: (await store.writtenOf("scicat/dataset/ds3")) ?? null,
      writtenNone: (await store.writtenOf("scicat/dataset/ds1")) ?? null,
    };
  },

  async operatorActions(store: StateStore) {
    await store.reconcile([proposal(), dataset(1), dataset(2), icat], [], { nowMs: T0 });
    const [p, i] = await lease(store, "w1");
    store.recordSuccess(p!, { remoteId: "remote-P1", written: { a: 1 } }, log(p!, true), T0 + 1);
    store.recordFailure(i!, "400", log(i!, false), T0 + 2);
    await store.flushWrites();
    const [d1, d2] = await lease(store, "w1", { nowMs: T0 + 3 });
    store.recordFailure(d1!, "400", log(d1!, false), T0 + 4);
    store.recordRetry(d2!, "503", T0 + 5, 1, log(d2!, false), T0 + 5);
    store.recordSuccess(d2!, { remoteId: "x" }, log(d2!, true), T0 + 6);
    await store.flushWrites();
    const retryRun = await store.retry({ runUid: "run1" });
    const retryIcat = await store.retry({ destination: "icat" });
    const retryAgain = await store.retry({ beamtime: "bt1" });
    const forgetScicat = await store.forgetWritten({ destination: "scicat" });
    const forgetBeamtime = await store.forgetWritten({ beamtime: "bt1" });
    const records = (await store.records({ beamtime: "bt1", states: ["pending"] })).map((r) => [r.id, r.state, r.attempts, r.last_error]).sort();
    return {
      retryRun,
      retryIcat,
      retryAgain,
      forgetScicat,
      forgetBeamtime,
      records,
      all: (await store.records({})).length,
      limited: (await store.records({ limit: 2 })).length,
      byRun: ids(await store.records({ runUid: "run2" })),
      runRecords: (await store.runRecordsOfBeamtime("bt1")).sort((a, b) => a.id.localeCompare(b.id)),
      runRecordsNone: await store.runRecordsOfBeamtime("bt9"),
    };
  },

  async requests(store: StateStore) {
    const a = await store.addRequest("resync", { runUid: "run1", force: true });
    const b = await store.addRequest("retry", {});
    const open1 = await store.openRequests();
    await store.finishRequest(a, { queued: 3 });
    const open2 = await store.openRequests();
    const finished = await store.getRequest(a);
    return {
      ids: [a, b],
      open1: open1.map((r) => [r.id, r.action, r.scope, r.handled_at, r.result]),
      open2: ids(open2),
      finished: finished && [finished.id, finished.action, finished.scope, finished.handled_at !== null, finished.result],
      missing: (await store.getRequest(999)) ?? null,
    };
  },

  async status(store: StateStore) {
    const dep = (key: string, dependsOn: string[]) => rec("dataset", key, { key }, dependsOn);
    await store.reconcile([proposal(), icat], [], { nowMs: T0 });
    await store.reconcile(
      [
        dep("a", ["scicat/proposal/P1"]),
        dep("b", ["scicat/dataset/a"]),
        dep("missing", ["scicat/proposal/none"]),
        dep("c", ["scicat/dataset/missing"]),
        dep("fails", ["icat/investigation/bt1"]),
      ],
      [],
      { nowMs: T0 + 1 },
    );
    const oldest1 = await store.oldestPending();
    const blocked1 = await store.countBlocked(["scicat"]);
    const [p, i] = await lease(store, "w1");
    store.recordFailure(i!, "400", log(i!, false), T0 + 2);
    store.recordSuccess(p!, { remoteId: "remote-P1" }, log(p!, true), T0 + 3);
    await store.flushWrites();
    return {
      oldest1,
      blocked1,
      blocked2: await store.countBlocked(["scicat"]),
      blockedIcat: await store.countBlocked(["icat"]),
      blockedNone: await store.countBlocked([]),
      waiting: await store.waitingCounts(),
      counts: await store.countsByState(),
      oldest2: await store.oldestPending(),
      failures: ids(await store.recentFailures(1)),
    };
  },

  async metaAndWorkers(store: StateStore) {
    const none = (await store.getMeta("last_scan")) ?? null;
    await store.setMeta("last_scan", "a");
    await store.setMeta("last_scan", "b", { waitMs: 100 });
    await store.heartbeatWorker({ id: "1-aaaa", host: "h1", pid: 1, startedAt: new Date(T0).toISOString() });
    await store.heartbeatWorker({ id: "2-bbbb", host: "h2", pid: 2, startedAt: new Date(T0).toISOString() }, { waitMs: 100 });
    await store.stopWorker("1-aaaa");
    await store.heartbeatWorker({ id: "2-bbbb", host: "h2", pid: 2, startedAt: new Date(T0).toISOString() });
    const workers = await store.workers();
    return {
      none,
      value: await store.getMeta("last_scan"),
      workers: workers.map((w) => [w.id, w.host, w.pid, w.started_at, w.stopped_at !== null]).sort(),
      schema: await store.schemaVersion(),
    };
  },

  async deadLeases(store: StateStore) {
    await store.reconcile([proposal(), icat], [], { nowMs: T0 });
    const deadPid = 2 ** 22 + 12_345;
    const dead = `${deadPid}-dead0000`;
    const live = `${process.pid}-live0000`;
    await store.heartbeatWorker({ id: dead, host: os.hostname(), pid: deadPid, startedAt: new Date(T0).toISOString() });
    await store.heartbeatWorker({ id: live, host: os.hostname(), pid: process.pid, startedAt: new Date(T0).toISOString() });
    await lease(store, dead, { limit: 1 });
    await lease(store, live, { limit: 1 });
    const released = await store.releaseDeadLeases((pid) => pid === process.pid);
    return {
      released,
      owners: (await Promise.all(["scicat/proposal/P1", "icat/investigation/bt1"].map((id) => store.getRecord(id)))).map((r) => r?.lease_owner ?? null).sort(),
    };
  },

  async pruneLog(store: StateStore) {
    const entry = (i: number): UploadLogEntry => ({
      sessionIdentifier: `s${i}`,
      destination: "scicat",
      success: i % 2 === 0,
      timestamp: new Date(T0 + i * HOUR).toISOString(),
      metadata: { i },
    });
    for (const i of [3, 1, 0, 2, 4]) await store.appendLog(entry(i));
    const pruned = await store.pruneUploadLog(new Date(T0 + 3 * HOUR).toISOString(), 2);
    const left = (await store.uploadLog({ limit: 10 })).map((r) => r.session_identifier);
    const prunedRest = await store.pruneUploadLog(new Date(T0 + 3 * HOUR).toISOString(), 10);
    return {
      pruned,
      left,
      prunedRest,
      since: (await store.uploadLog({ since: new Date(T0 + 4 * HOUR).toISOString(), limit: 10 })).map((r) => [r.session_identifier, r.success, r.worker, r.metadata_json]),
    };
  },
};

type ScriptName = keyof typeof scripts;

/** What each script must answer (checked on both backends). */
function checks(name: ScriptName, answer: Record<string, unknown>): void {
  const a = answer;
  switch (name) {
    case "reconcileCounts":
      expect(a.first).toEqual({ created: 3, updated: 0, forced: 0, unchanged: 0 });
      expect(a.again).toEqual({ created: 0, updated: 0, forced: 0, unchanged: 3 });
      expect(a.changed).toEqual({ created: 1, updated: 1, forced: 0, unchanged: 1 });
      expect(a.forced).toEqual({ created: 0, updated: 1, forced: 1, unchanged: 1 });
      expect(a.twice).toEqual({ created: 1, updated: 1, forced: 0, unchanged: 1 });
      expect(a.diff).toEqual([["P1", "update"], ["ds9", "create"]]);
      expect(a.record).toMatchObject({ id: "scicat/dataset/ds2", state: "pending", attempts: 0, next_attempt_at: 0, changed_at_ms: T0 + 3, run_uid: "run2", depends_on: '["scicat/proposal/P1"]', created_at: new Date(T0).toISOString(), updated_at: new Date(T0 + 3).toISOString(), lease_owner: null });
      expect(a.missing).toBeNull();
      break;
    case "watermarks":
      expect(a.one).toEqual({ source: "resonance", path: "a/one.db", size: 11, mtimeMs: 1300, data: undefined, problem: undefined, retry: false });
      expect(a.two).toEqual({ source: "resonance", path: "b/two.db", size: 20, mtimeMs: 99, data: undefined, problem: "locked", retry: true });
      expect(a.summary).toEqual([
        { source: "bluesky", files: 1, problems: 1, last_scanned: new Date(T0).toISOString() },
        { source: "resonance", files: 2, problems: 1, last_scanned: new Date(T0 + HOUR).toISOString() },
      ]);
      expect(a.problems).toEqual([
        { source: "bluesky", path: "c.jsonl", problem: "bad line 3", retry: false, scanned_at: new Date(T0).toISOString() },
        { source: "resonance", path: "b/two.db", problem: "locked", retry: true, scanned_at: new Date(T0).toISOString() },
      ]);
      expect([a.forgot, a.forgotNone, a.gone]).toEqual([1, 0, null]);
      break;
    case "leaseRules":
      expect(a.first).toEqual(["scicat/proposal/P1", "icat/investigation/bt1"]);
      expect(a.leasedRow).toMatchObject({ lease_owner: "a", lease_until: T0 + 60_000, attempts: 0 });
      expect(a.none).toEqual([]);
      expect(a.waiting).toEqual([{ destination: "scicat", n: 2 }]);
      expect(a.held).toEqual(["icat/investigation/bt1", "scicat/proposal/P1"]);
      expect(a.notMine).toEqual([]);
      expect(a.second).toEqual(["scicat/dataset/ds2", "icat/investigation/bt1"]);
      expect(a.secondOwner).toEqual([
        ["b", T0 + 62_000],
        ["b", T0 + 62_000],
      ]);
      expect(a.afterExclude).toEqual([null, null]);
      expect(a.third).toEqual(["scicat/dataset/ds1"]);
      expect(a.expired).toEqual(["icat/investigation/bt1"]);
      expect(a.remoteIdOf).toBe("remote-P1");
      expect(a.remoteIdOfNone).toBeNull();
      expect(a.remote).toEqual([["scicat/proposal/P1", "remote-P1"]]);
      expect(a.icat).toBeNull();
      break;
    case "due":
      expect([a.nextDue, a.nextDueIcat, a.nextDueAfter, a.nextDueNone]).toEqual([T0 + 5000, T0 + 9000, T0 + 9000, null]);
      expect([a.notYet, a.nowDue]).toEqual([[], ["scicat/proposal/P1"]]);
      expect([a.pending, a.pendingIcat]).toEqual([2, 1]);
      expect(a.icat).toMatchObject({ attempts: 0, next_attempt_at: T0 + 9000, last_error: "catalog down", state: "pending", lease_owner: null });
      break;
    case "outcomes": {
      expect(a.states).toEqual(["pending", "dead"]);
      const [p, i, d1, d2, d3] = a.records as unknown as RecordRow[];
      expect(p).toMatchObject({ state: "synced", remote_id: "remote-P1", synced_hash: p!.desired_hash, payload: null, attempts: 1, conflicts: '[{"field":"title"}]', lease_owner: null });
      expect(i).toMatchObject({ state: "failed", attempts: 1, last_error: "400: bad" });
      expect(d1).toMatchObject({ state: "dead", attempts: 2, last_error: "503 again", next_attempt_at: T0 + 40 });
      expect(d2).toMatchObject({ state: "pending", remote_id: "remote-ds2", synced_hash: null, attempts: 0, lease_owner: null });
      expect(d3).toMatchObject({ state: "synced", remote_url: "https://x/ds3", written: '{"n":3}', updated_at: new Date(T0 + 24).toISOString() });
      const rows = a.log as unknown as { success: number; worker: string | null; id: number; metadata_json: string }[];
      expect(rows.map((r) => r.success)).toEqual([1, 0, 0, 0, 1, 1]);
      expect(rows[3]).toMatchObject({ worker: "w2", success: 0, metadata_json: '{"kind":"dataset"}' });
      expect(rows.every((r, k) => k === 0 || r.id > rows[k - 1]!.id)).toBe(true);
      expect(a.logFailed).toHaveLength(3);
      expect(a.logRun).toHaveLength(2);
      expect(a.logIcat).toHaveLength(1);
      expect(a.logLast2).toEqual(rows.slice(4).map((r) => r.id));
      expect(a.counts).toEqual([
        { destination: "icat", state: "failed", n: 1 },
        { destination: "scicat", state: "dead", n: 1 },
        { destination: "scicat", state: "pending", n: 1 },
        { destination: "scicat", state: "synced", n: 2 },
      ]);
      expect(a.failures).toEqual(["scicat/dataset/ds1", "icat/investigation/bt1"]);
      expect([a.conflicted, a.countConflicted]).toEqual([["scicat/proposal/P1"], 1]);
      expect([a.writtenOf, a.writtenNone]).toEqual([{ n: 3 }, null]);
      break;
    }
    case "operatorActions":
      expect([a.retryRun, a.retryIcat, a.retryAgain]).toEqual([1, 1, 0]);
      expect([a.forgetScicat, a.forgetBeamtime]).toEqual([3, 4]);
      expect(a.records).toEqual([
        ["icat/investigation/bt1", "pending", 0, null],
        ["scicat/dataset/ds1", "pending", 0, null],
      ]);
      expect([a.all, a.limited, a.byRun]).toEqual([4, 2, ["scicat/dataset/ds2"]]);
      expect(a.runRecords).toEqual([
        { id: "scicat/dataset/ds1", run_uid: "run1" },
        { id: "scicat/dataset/ds2", run_uid: "run2" },
      ]);
      expect(a.runRecordsNone).toEqual([]);
      break;
    case "requests":
      expect(a.ids).toEqual([1, 2]);
      expect(a.open1).toEqual([
        [1, "resync", '{"runUid":"run1","force":true}', null, null],
        [2, "retry", "{}", null, null],
      ]);
      expect(a.open2).toEqual([2]);
      expect(a.finished).toEqual([1, "resync", '{"runUid":"run1","force":true}', true, '{"queued":3}']);
      expect(a.missing).toBeNull();
      break;
    case "status":
      expect(a.oldest1).toEqual({ id: "scicat/proposal/P1", destination: "scicat", changed_at_ms: T0, created_at: new Date(T0).toISOString(), last_error: null });
      // missing (its dependency does not exist) and c (depends on missing).
      expect(a.blocked1).toBe(2);
      // … and fails (its investigation failed) once the investigation failed.
      expect([a.blocked2, a.blockedIcat, a.blockedNone]).toEqual([3, 0, 0]);
      expect(a.waiting).toEqual([{ destination: "scicat", n: 4 }]);
      expect(a.counts).toEqual([
        { destination: "icat", state: "failed", n: 1 },
        { destination: "scicat", state: "pending", n: 5 },
        { destination: "scicat", state: "synced", n: 1 },
      ]);
      expect(a.oldest2).toMatchObject({ id: "scicat/dataset/a", changed_at_ms: T0 + 1 });
      expect(a.failures).toEqual(["icat/investigation/bt1"]);
      break;
    case "metaAndWorkers":
      expect([a.none, a.value, a.schema]).toEqual([null, "b", 4]);
      expect(a.workers).toEqual([
        ["1-aaaa", "h1", 1, new Date(T0).toISOString(), true],
        ["2-bbbb", "h2", 2, new Date(T0).toISOString(), false],
      ]);
      break;
    case "deadLeases":
      expect(a.released).toBe(1);
      expect(a.owners).toEqual([`${process.pid}-live0000`, null].sort());
      break;
    case "pruneLog":
      expect(a.pruned).toBe(2);
      expect(a.left).toEqual(["s3", "s2", "s4"]);
      expect(a.prunedRest).toBe(1);
      expect(a.since).toEqual([["s4", 1, null, '{"i":4}']]);
      break;
  }
}

/** The answers without what depends on the clock of the run (times the store takes itself). */
function comparable(answer: unknown): unknown {
  return JSON.parse(
    JSON.stringify(answer, (key, value: unknown) => (["requested_at", "heartbeat_at"].includes(key) ? "<now>" : value)),
  ) as unknown;
}

function conformance(open: () => Promise<StateStore>) {
  let store: StateStore;
  beforeEach(async () => {
    store = await open();
  });
  afterEach(async () => {
    await store.close();
  });
  for (const name of Object.keys(scripts) as ScriptName[]) {
    it(name, async () => {
      checks(name, (await scripts[name](store)) as Record<string, unknown>);
    });
  }
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});
function openSqlite(): SqliteStateStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "beamsync-conformance-"));
  dirs.push(dir);
  return SqliteStateStore.open(dir);
}

describe("the state store contract: SQLite", () => {
  conformance(async () => openSqlite());
});

describe.runIf(pgAvailable())("the state store contract: PostgreSQL", () => {
  const server = usePostgres();
  let n = 0;
  const openPostgres = async () => PostgresStateStore.open({ url: await server.createDatabase(`conformance_${++n}`), poolSize: 4, mustExist: false });

  conformance(openPostgres);

  it("gives the same answers as SQLite to every script", async () => {
    for (const name of Object.keys(scripts) as ScriptName[]) {
      const sqlite = openSqlite();
      const postgres = await openPostgres();
      try {
        const [a, b] = [await scripts[name](sqlite), await scripts[name](postgres)];
        expect(comparable(b), name).toEqual(comparable(a));
      } finally {
        await sqlite.close();
        await postgres.close();
      }
    }
  });
});
