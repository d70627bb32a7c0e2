import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { makeRecord, type DesiredRecord } from "../../src/mapping/record.js";
import type { Config } from "../../src/config/schema.js";
import type { RecordRow, StateEvent } from "../../src/state/contract.js";
import { openStateStore } from "../../src/state/open.js";
import { PostgresStateStore } from "../../src/state/postgres-store.js";
import { silentLogger } from "../../src/ops/logger.js";
import { isTransientStateError, StateFileError } from "../../src/sync/errors.js";
import { OutboxWorker } from "../../src/sync/worker.js";
import { MemoryDestination } from "../support/memory-destination.js";
import { pgAvailable, usePostgres } from "../support/postgres.js";

/** What only a shared state has to get right: several workers on one database, and a server that goes away. */

const T0 = Date.parse("2026-01-01T00:00:00.000Z");

function datasets(n: number, version = 1): DesiredRecord[] {
  return Array.from({ length: n }, (_, i) =>
    makeRecord({ destination: "scicat", kind: "dataset", key: `ds${i}`, runUid: `run${i}`, payload: { i, version }, dependsOn: [] }),
  );
}

async function count(url: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(sql);
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

/** Put `around` in place of every COMMIT the store's connections send (to lose its answer, or the COMMIT itself). */
function onCommit(store: PostgresStateStore, around: (commit: () => Promise<unknown>, rollback: () => Promise<unknown>) => Promise<unknown>): void {
  const pool = (store as unknown as { pool: pg.Pool }).pool;
  const patched = new WeakSet<pg.PoolClient>();
  pool.on("acquire", (client) => {
    if (patched.has(client)) return;
    patched.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.query = ((...args: unknown[]) =>
      args[0] === "COMMIT" ? around(() => query("COMMIT"), () => query("ROLLBACK")) : query(...args)) as typeof client.query;
  });
}

describe.runIf(pgAvailable())("the PostgreSQL state store", () => {
  const server = usePostgres();
  let n = 0;
  const stores: PostgresStateStore[] = [];
  const fresh = () => server.createDatabase(`pgstore_${++n}`);
  const open = async (url: string, extra: { poolSize?: number; mustExist?: boolean; password?: string } = {}) => {
    const store = await PostgresStateStore.open({ url, poolSize: extra.poolSize ?? 4, mustExist: extra.mustExist ?? false, password: extra.password });
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close().catch(() => undefined);
  });

  it("names its database without the password, and takes the password given beside the URL", async () => {
    const url = await fresh();
    const store = await open(url);
    expect(store).toMatchObject({ backend: "postgres", shared: true, file: undefined });
    expect(store.location).not.toContain(encodeURIComponent(server.password));
    expect(store.location).toContain("***");
    expect(store.migration).toMatchObject({ from: 0, to: 4 });
    expect(store.migration.applied).toHaveLength(4);
    const bare = url.replace(`:${encodeURIComponent(server.password)}@`, "@");
    const again = await open(bare, { password: server.password });
    expect(again.migration).toEqual({ from: 4, to: 4, applied: [] });
    expect(await again.schemaVersion()).toBe(4);
  });

  it("is what openStateStore opens for state.backend: postgres, with state.password and poolSize", async () => {
    const url = await fresh();
    const bare = url.replace(`:${encodeURIComponent(server.password)}@`, "@");
    const config = { stateDir: "/nonexistent", state: { backend: "postgres", url: bare, password: server.password, poolSize: 2 } } as unknown as Config;
    await expect(openStateStore(config, { mustExist: true })).rejects.toThrow(StateFileError);
    const store = await openStateStore(config);
    try {
      expect(store).toBeInstanceOf(PostgresStateStore);
      expect(store.location).toBe(bare);
      await store.setMeta("k", "v");
      expect(await store.getMeta("k")).toBe("v");
    } finally {
      await store.close();
    }
    const status = await openStateStore(config, { mustExist: true });
    await status.close();
  });

  it("migrates a fresh database once when three workers start at once", async () => {
    const url = await fresh();
    const opened = await Promise.all([open(url), open(url), open(url)]);
    expect(opened.map((s) => s.migration.applied.length).sort()).toEqual([0, 0, 4]);
    expect(await count(url, "SELECT COUNT(*) AS n FROM schema_migrations")).toBe(4);
  });

  it("refuses a database from a newer beamsync, and status on a database where beamsync never ran", async () => {
    const never = await fresh();
    const error = await PostgresStateStore.open({ url: never, poolSize: 2, mustExist: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateFileError);
    expect((error as Error).message).toMatch(/no beamsync state at postgres:\/\/beamsync:\*\*\*@/);
    expect((error as Error).message).not.toContain(encodeURIComponent(server.password));

    const url = await fresh();
    await (await open(url)).close();
    await server.admin((c) => c.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'now')"), url.split("/").pop());
    await expect(PostgresStateStore.open({ url, poolSize: 2, mustExist: false })).rejects.toThrow(/schema version 99, newer than this beamsync understands/);
  });

  it("never leases one record to two workers leasing at once", async () => {
    const url = await fresh();
    const [a, b] = [await open(url), await open(url)];
    await a.reconcile(datasets(300), [], { nowMs: T0 });
    const got = new Map<string, string>();
    const take = async (store: PostgresStateStore, owner: string) => {
      for (;;) {
        const rows: RecordRow[] = await store.lease({ owner, limit: 7, nowMs: T0, leaseMs: 60_000, destinations: ["scicat"] });
        if (rows.length === 0) return;
        for (const row of rows) {
          expect(got.get(row.id), row.id).toBeUndefined();
          got.set(row.id, owner);
        }
      }
    };
    await Promise.all([take(a, "a1"), take(a, "a2"), take(b, "b1"), take(b, "b2")]);
    expect(got.size).toBe(300);
    expect(await count(url, "SELECT COUNT(*) AS n FROM records WHERE lease_owner IS NULL")).toBe(0);
  });

  it("lets two outbox workers on two stores drain one state: every record pushed once, dependencies first", async () => {
    const url = await fresh();
    const [a, b] = [await open(url), await open(url)];
    const proposal = makeRecord({ destination: "scicat", kind: "proposal", key: "P1", payload: { title: "t" }, dependsOn: [] });
    const runs = Array.from({ length: 60 }, (_, i) =>
      makeRecord({ destination: "scicat", kind: "dataset", key: `ds${i}`, runUid: `run${i}`, payload: { proposalKey: "P1", i }, dependsOn: ["scicat/proposal/P1"] }),
    );
    await a.reconcile([proposal, ...runs], [], { nowMs: Date.now() });
    const [da, db] = [new MemoryDestination(), new MemoryDestination()];
    const options = { concurrency: 4, maxAttempts: 3, backoffBaseMs: 1, backoffMaxMs: 5, leaseMs: 60_000, probeBaseMs: 5, probeMaxMs: 20 };
    const [x, y] = await Promise.all([
      new OutboxWorker(a, [da], options, silentLogger).drain({ forever: false }),
      new OutboxWorker(b, [db], options, silentLogger).drain({ forever: false }),
    ]);
    expect(x.succeeded + y.succeeded).toBe(61);
    const pushed = [...da.pushes, ...db.pushes].map((p) => p.key);
    expect(new Set(pushed).size).toBe(61);
    expect(pushed).toHaveLength(61);
    expect([...da.pushes, ...db.pushes].filter((p) => p.kind === "dataset").every((p) => p.dependencyIds.proposal === "remote-P1")).toBe(true);
    expect(await a.countsByState()).toEqual([{ destination: "scicat", state: "synced", n: 61 }]);
    const workers = new Set((await a.uploadLog({ limit: 100 })).map((r) => r.worker));
    expect(workers.size).toBeGreaterThanOrEqual(1);
    // One-shot drains (as `beamsync sync` runs them) are no daemons: they leave the workers table alone.
    expect(await a.workers()).toEqual([]);
  });

  it("lets two workers reconcile the same records at once: each record is created once", async () => {
    const url = await fresh();
    const [a, b] = [await open(url), await open(url)];
    const [x, y] = await Promise.all([a.reconcile(datasets(200), [], { nowMs: T0 }), b.reconcile(datasets(200), [], { nowMs: T0 })]);
    expect(x.created + y.created).toBe(200);
    expect(x.unchanged + y.unchanged).toBe(200);
    const [u, v] = await Promise.all([a.reconcile(datasets(200, 2), [], { nowMs: T0 + 1 }), b.reconcile(datasets(200, 2), [], { nowMs: T0 + 1 })]);
    expect(u.updated + v.updated).toBe(200);
    expect(u.created + v.created).toBe(0);
  });

  it("gives the full scan to one worker at a time, until released or its holder closes", async () => {
    const url = await fresh();
    const [a, b] = [await open(url), await open(url)];
    const release = await a.tryScanLock();
    expect(release).toBeTypeOf("function");
    expect(await b.tryScanLock()).toBeUndefined();
    await release!();
    await release!();
    const releaseB = await b.tryScanLock();
    expect(releaseB).toBeTypeOf("function");
    expect(await a.tryScanLock()).toBeUndefined();
    await b.close();
    const releaseA = await a.tryScanLock();
    expect(releaseA).toBeTypeOf("function");
    await releaseA!();
  });

  it("tells listeners when another worker queues work or an operator asks", async () => {
    const url = await fresh();
    const [a, b] = [await open(url), await open(url)];
    const events: StateEvent[] = [];
    await a.listen((e) => events.push(e));
    await b.reconcile(datasets(2), [], { nowMs: T0 });
    await expect.poll(() => events).toContain("work");
    await b.addRequest("retry", {});
    await expect.poll(() => events).toContain("request");
  });

  it("survives a server restart: calls fail at most once, then work, and the listener hears again", async () => {
    const url = await fresh();
    const [a, b] = [await open(url), await open(url)];
    const events: StateEvent[] = [];
    await a.listen((e) => events.push(e));
    await a.setMeta("k", "before");
    await server.restart();
    events.length = 0;
    // The first call may meet a connection the restart broke; it throws a transient error, never hangs.
    const first = await a.getMeta("k").catch((e: unknown) => e);
    if (first instanceof Error) expect(isTransientStateError(first)).toBe(true);
    else expect(first).toBe("before");
    await b.getMeta("k").catch(() => undefined);
    for (let i = 0; i < 3; i++) {
      await a.setMeta("k", `after${i}`);
      expect(await a.getMeta("k")).toBe(`after${i}`);
    }
    // After reconnecting, the listener reports both events (what was said meanwhile is lost), and hears new ones.
    await expect.poll(() => events, { timeout: 20_000 }).toEqual(expect.arrayContaining(["work", "request"]));
    events.length = 0;
    await b.addRequest("resync", {});
    await expect.poll(() => events, { timeout: 10_000 }).toContain("request");
  });

  it("keeps outcomes queued while the server is down and writes them once it is back", async () => {
    const url = await fresh();
    const store = await open(url);
    await store.reconcile(datasets(3), [], { nowMs: T0 });
    const leased = await store.lease({ owner: "w", limit: 10, nowMs: T0, leaseMs: 60_000, destinations: ["scicat"] });
    expect(leased).toHaveLength(3);
    await server.kill9();
    // The backends outlive the postmaster by a moment (a connection of the pool may still commit): until they are gone.
    await expect.poll(() => store.getMeta("k").then(() => "up", () => "down"), { timeout: 10_000 }).toBe("down");
    for (const row of leased) {
      store.recordSuccess(row, { remoteId: `remote-${row.key}` }, { sessionIdentifier: row.session_identifier, destination: "scicat", success: true, metadata: {}, worker: "w" }, T0 + 1);
    }
    const error = await store.flushWrites().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(isTransientStateError(error)).toBe(true);
    await server.restart();
    // The first try may still meet a connection from before the restart.
    await store.flushWrites().catch(() => undefined);
    await store.flushWrites();
    expect((await store.countsByState())).toEqual([{ destination: "scicat", state: "synced", n: 3 }]);
    expect(await store.uploadLog({ limit: 10 })).toHaveLength(3);
    expect((await store.getRecord("scicat/dataset/ds0"))?.remote_id).toBe("remote-ds0");
  });

  it("writes outcomes once when a COMMIT's answer is lost after the server committed", async () => {
    const url = await fresh();
    const store = await open(url);
    await store.reconcile(datasets(2), [], { nowMs: T0 });
    const leased = await store.lease({ owner: "w", limit: 10, nowMs: T0, leaseMs: 60_000, destinations: ["scicat"] });
    // The connection goes just after the server commits: the client hears an error, not the commit.
    let loseNextCommitAnswer = false;
    onCommit(store, async (commit) => {
      await commit();
      if (loseNextCommitAnswer) {
        loseNextCommitAnswer = false;
        throw new Error("Connection terminated unexpectedly");
      }
    });
    const log = (row: RecordRow) => ({ sessionIdentifier: row.session_identifier, destination: "scicat" as const, recordId: row.id, success: false, errorMessage: "HTTP 503", metadata: {}, worker: "w" });
    const [first, second] = leased as [RecordRow, RecordRow];
    store.recordRetry(first, "HTTP 503", T0 + 60_000, 10, log(first), T0 + 1);
    loseNextCommitAnswer = true;
    await expect(store.flushWrites()).rejects.toThrow(/Connection terminated/);
    // Queued since: written with the next commit, while the first outcome is not written again.
    store.recordSuccess(second, { remoteId: "remote-ds1" }, { ...log(second), success: true, errorMessage: undefined }, T0 + 2);
    await store.flushWrites();
    expect((await store.getRecord(first.id))?.attempts).toBe(1);
    expect((await store.getRecord(second.id))).toMatchObject({ state: "synced", attempts: 1, remote_id: "remote-ds1" });
    expect((await store.uploadLog({ limit: 10 })).map((r) => r.record_id).sort()).toEqual([first.id, second.id].sort());
  });

  it("writes outcomes again when the COMMIT whose answer was lost did not commit", async () => {
    const url = await fresh();
    const store = await open(url);
    await store.reconcile(datasets(1), [], { nowMs: T0 });
    const [row] = (await store.lease({ owner: "w", limit: 10, nowMs: T0, leaseMs: 60_000, destinations: ["scicat"] })) as [RecordRow];
    let failNextCommit = true;
    // The COMMIT never reaches the server: its transaction is rolled back, and the client hears an error.
    onCommit(store, async (commit, rollback) => {
      if (!failNextCommit) return commit();
      failNextCommit = false;
      await rollback();
      throw new Error("Connection terminated unexpectedly");
    });
    store.recordSuccess(row, { remoteId: "remote-ds0" }, { sessionIdentifier: row.session_identifier, destination: "scicat", success: true, metadata: {}, worker: "w" }, T0 + 1);
    await expect(store.flushWrites()).rejects.toThrow(/Connection terminated/);
    expect((await store.getRecord(row.id))?.state).toBe("pending");
    await store.flushWrites();
    expect((await store.getRecord(row.id))).toMatchObject({ state: "synced", attempts: 1 });
    expect(await store.uploadLog({ limit: 10 })).toHaveLength(1);
  });
});
