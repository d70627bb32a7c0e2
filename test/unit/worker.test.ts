import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Database } from "../../src/sqlite.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeRecord, type DesiredRecord } from "../../src/mapping/record.js";
import { silentLogger } from "../../src/ops/logger.js";
import { SqliteStateStore } from "../../src/state/sqlite-store.js";
import { PermanentError, TransientError } from "../../src/sync/errors.js";
import { OutboxWorker, type WorkerOptions } from "../../src/sync/worker.js";
import { StateGuard } from "../../src/app/state-guard.js";
import { daemonStatus } from "../../src/ops/heartbeat.js";
import { MemoryDestination } from "../support/memory-destination.js";

let dir: string;
let store: SqliteStateStore;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "beamsync-worker-"));
  store = SqliteStateStore.open(dir);
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const options: WorkerOptions = { concurrency: 4, maxAttempts: 3, backoffBaseMs: 1, backoffMaxMs: 5, leaseMs: 60_000, probeBaseMs: 5, probeMaxMs: 20 };

function records(): DesiredRecord[] {
  const proposal = makeRecord({ destination: "scicat", kind: "proposal", key: "P1", beamtimeKey: "bt.db", payload: { title: "t" }, dependsOn: [] });
  const datasets = [1, 2, 3].map((i) =>
    makeRecord({ destination: "scicat", kind: "dataset", key: `ds${i}`, runUid: `run${i}`, payload: { proposalKey: "P1", n: i }, dependsOn: ["scicat/proposal/P1"] }),
  );
  return [proposal, ...datasets];
}

describe("outbox worker", () => {
  it("pushes dependencies first, logs one row per attempt, and a second reconcile queues nothing", async () => {
    const dest = new MemoryDestination();
    expect(await store.reconcile(records(), [])).toMatchObject({ created: 4 });
    const summary = await new OutboxWorker(store, [dest], options, silentLogger).drain({ forever: false });
    expect(summary).toMatchObject({ succeeded: 4, failed: 0, dead: 0 });
    expect(dest.pushes[0]?.kind).toBe("proposal");
    // Datasets saw the proposal's remote id through the push context.
    expect(dest.pushes.filter((p) => p.kind === "dataset").every((p) => p.dependencyIds.proposal === "remote-P1")).toBe(true);
    expect(await store.uploadLog({ limit: 100 })).toHaveLength(4);
    expect(await store.reconcile(records(), [])).toMatchObject({ created: 0, updated: 0, unchanged: 4 });
    expect(await store.countPending(["scicat"])).toBe(0);
  });

  it("starts the records of a lease that wait on nothing first: the others wait on them", async () => {
    const dest = new MemoryDestination();
    // An earlier proposal already in the catalog; queued later: its datasets, then a second proposal.
    await store.reconcile([makeRecord({ destination: "scicat", kind: "proposal", key: "P0", payload: { title: "0" }, dependsOn: [] })], []);
    await new OutboxWorker(store, [dest], options, silentLogger).drain({ forever: false });
    const datasets = [1, 2, 3].map((i) => makeRecord({ destination: "scicat", kind: "dataset", key: `d${i}`, payload: { n: i }, dependsOn: ["scicat/proposal/P0"] }));
    await store.reconcile([...datasets, makeRecord({ destination: "scicat", kind: "proposal", key: "P1", payload: { title: "1" }, dependsOn: [] })], []);
    dest.pushes.length = 0;
    await new OutboxWorker(store, [dest], { ...options, concurrency: 1 }, silentLogger).drain({ forever: false });
    expect(dest.pushes.map((p) => p.key)).toEqual(["P1", "d1", "d2", "d3"]);
  });

  it("a drain registers no worker (a one-shot one names itself in upload_log only); the daemon's StateGuard registers its worker", async () => {
    const dest = new MemoryDestination();
    await store.reconcile(records(), []);
    const oneShot = new OutboxWorker(store, [dest], options, silentLogger);
    let during: unknown[] | undefined;
    // What the workers table holds while the one-shot drain pushes.
    const push = dest.push.bind(dest);
    dest.push = async (record, ctx) => {
      during ??= await store.workers();
      return push(record, ctx);
    };
    expect(await oneShot.drain({ forever: false })).toMatchObject({ succeeded: 4 });
    expect(during).toEqual([]);
    expect(await store.workers()).toEqual([]);
    expect((await store.uploadLog({ limit: 10 })).map((r) => r.worker)).toEqual(Array(4).fill(oneShot.owner));

    // A drain forever (the daemon's) registers nothing by itself either: the daemon's StateGuard does, and says
    // so on SQLite in daemon_heartbeat too (which is what decides "a daemon runs" there).
    const daemon = new OutboxWorker(store, [dest], options, silentLogger);
    const controller = new AbortController();
    const draining = daemon.drain({ forever: true, signal: controller.signal });
    const guard = new StateGuard(store, silentLogger, daemon.identity());
    expect(await guard.beat()).toBe(true);
    expect((await store.workers()).map((w) => [w.id, w.pid, w.stopped_at])).toEqual([[daemon.owner, process.pid, null]]);
    expect(await daemonStatus(store)).toMatchObject({ running: true, pid: process.pid });
    controller.abort();
    await draining;
    await guard.stop();
    expect((await store.workers()).map((w) => [w.id, w.stopped_at === null])).toEqual([[daemon.owner, false]]);
    expect(await daemonStatus(store)).toEqual({ running: false });
  });

  it("a one-shot drain held open by the scan pushes what each file queues, and ends only after the scan", async () => {
    const dest = new MemoryDestination();
    const [proposal, ...datasets] = records();
    await store.reconcile([proposal!], []);
    let scanDone!: () => void;
    const scanning = new Promise<void>((resolve) => (scanDone = resolve));
    const worker = new OutboxWorker(store, [dest], options, silentLogger);
    let finished = false;
    const draining = worker.drain({ forever: false, holdOpenUntil: scanning }).then((summary) => {
      finished = true;
      return summary;
    });
    // The first file's record goes out while the scan still runs, and the drain waits for more.
    await expect.poll(() => dest.pushes.length).toBe(1);
    expect(finished).toBe(false);
    // The next file: its records are queued and the worker woken, as the engine does after each file.
    await store.reconcile(datasets, []);
    worker.wake();
    await expect.poll(() => dest.pushes.length).toBe(4);
    expect(finished).toBe(false);
    scanDone();
    expect(await draining).toMatchObject({ succeeded: 4, failed: 0 });
  });

  it("retries transient failures with one upload_log row per attempt, and stops at once on permanent ones", async () => {
    const dest = new MemoryDestination();
    dest.script = [undefined, new TransientError("503 from proxy", { httpStatus: 503 }), new PermanentError("400: datasetName must be a string", { httpStatus: 400 })];
    await store.reconcile(records(), []);
    const summary = await new OutboxWorker(store, [dest], { ...options, concurrency: 1 }, silentLogger).drain({ forever: false });
    expect(summary.failed).toBe(1);
    expect(summary.retried).toBe(1);
    const failed = await store.recentFailures(10);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.last_error).toContain("datasetName must be a string");
    const log = await store.uploadLog({ limit: 100 });
    expect(log.filter((r) => r.success === 0)).toHaveLength(2);
    expect(log.filter((r) => r.success === 1)).toHaveLength(3);
    const meta = JSON.parse(log.find((r) => r.success === 0)?.metadata_json ?? "{}");
    expect(meta).toMatchObject({ kind: "dataset", attempt: 1, httpStatus: 503, errorKind: "transient" });
  });

  it("marks a record dead after maxAttempts and retry() brings it back", async () => {
    const dest = new MemoryDestination();
    await store.reconcile(records().slice(0, 1), []);
    dest.alwaysFail = new TransientError("socket hang up");
    const worker = new OutboxWorker(store, [dest], { ...options, circuitThreshold: 100 }, silentLogger);
    const summary = await worker.drain({ forever: false });
    expect(summary.dead).toBe(1);
    expect(await store.countsByState()).toEqual([{ destination: "scicat", state: "dead", n: 1 }]);
    expect(await store.uploadLog({ limit: 10 })).toHaveLength(3);
    dest.alwaysFail = undefined;
    expect(await store.retry({})).toBe(1);
    await new OutboxWorker(store, [dest], options, silentLogger).drain({ forever: false });
    expect(await store.countsByState()).toEqual([{ destination: "scicat", state: "synced", n: 1 }]);
  });

  it("dependents of a rejected record do not keep a one-shot sync waiting", async () => {
    const dest = new MemoryDestination();
    dest.script = [new PermanentError("403: not allowed")];
    await store.reconcile(records(), []);
    const summary = await new OutboxWorker(store, [dest], options, silentLogger).drain({ forever: false });
    expect(summary.failed).toBe(1);
    expect(await store.countBlocked(["scicat"])).toBe(3);
  });

  it("stops hammering a catalog that is down, probes it, and gives up in one-shot mode", async () => {
    const dest = new MemoryDestination();
    dest.alwaysFail = new TransientError("ECONNREFUSED");
    dest.reachable = false;
    await store.reconcile(records(), []);
    const summary = await new OutboxWorker(store, [dest], { ...options, maxAttempts: 50, circuitThreshold: 2, concurrency: 1 }, silentLogger).drain({
      forever: false,
      maxProbesWhenDown: 2,
    });
    expect(summary.unreachable).toEqual(["scicat"]);
    expect(dest.pushes.length).toBe(2);
    expect(dest.healthProbes).toBeGreaterThanOrEqual(2);
    expect(await store.countPending(["scicat"])).toBe(4);
  });

  it("resumes after the catalog comes back", async () => {
    const dest = new MemoryDestination();
    dest.alwaysFail = new TransientError("ECONNREFUSED");
    dest.reachable = false;
    await store.reconcile(records(), []);
    const worker = new OutboxWorker(store, [dest], { ...options, maxAttempts: 50, circuitThreshold: 1, concurrency: 1 }, silentLogger);
    const done = worker.drain({ forever: false, maxProbesWhenDown: 1000 });
    await new Promise((r) => setTimeout(r, 50));
    dest.alwaysFail = undefined;
    dest.reachable = true;
    const summary = await done;
    expect(summary.succeeded).toBe(4);
    expect(await store.countPending(["scicat"])).toBe(0);
  });

  it("does not lease records leased by another live process, but frees leases of dead ones", async () => {
    await store.reconcile(records().slice(0, 1), []);
    const leased = await store.lease({ owner: `${process.pid}-other`, limit: 10, nowMs: Date.now(), leaseMs: 60_000, destinations: ["scicat"] });
    expect(leased).toHaveLength(1);
    expect(await store.lease({ owner: `${process.pid}-mine`, limit: 10, nowMs: Date.now(), leaseMs: 60_000, destinations: ["scicat"] })).toHaveLength(0);
    expect(await store.releaseDeadLeases(() => true)).toBe(0);
    expect(await store.releaseDeadLeases(() => false)).toBe(1);
    expect(await store.lease({ owner: `${process.pid}-mine`, limit: 10, nowMs: Date.now(), leaseMs: 60_000, destinations: ["scicat"] })).toHaveLength(1);
  });

  it("waits out a state store it cannot write (locked by another connection) and loses no outcome", async () => {
    await store.reconcile(records(), []);
    // Another process holds the write lock longer than this store's busy timeout.
    store.db.pragma("busy_timeout = 20");
    const other = new Database(store.file);
    const errors: string[] = [];
    const logger = { ...silentLogger, error: (message: string) => void errors.push(message) };
    const dest = new MemoryDestination();
    // The lock is taken while the first record is being pushed: its outcome must wait for the store.
    const push = dest.push.bind(dest);
    let locked = false;
    dest.push = (record, ctx) => {
      if (!locked) other.prepare("BEGIN IMMEDIATE").run();
      locked = true;
      return push(record, ctx);
    };
    const done = new OutboxWorker(store, [dest], options, logger as typeof silentLogger).drain({ forever: false });
    await new Promise((r) => setTimeout(r, 300));
    expect(errors).toContain("state store error; pushes paused");
    expect(await store.uploadLog({ limit: 100 })).toHaveLength(0);
    other.prepare("COMMIT").run();
    other.close();
    const summary = await done;
    expect(summary).toMatchObject({ succeeded: 4, failed: 0 });
    expect(await store.countPending(["scicat"])).toBe(0);
    // One upload_log row per attempt: what was pushed while the store was locked was written once it was free.
    expect(await store.uploadLog({ limit: 100 })).toHaveLength(summary.attempts);
  });
});
