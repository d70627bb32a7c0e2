import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Destination, PushRecord, PushResult } from "../../src/destinations/contract.js";
import { createCatalogClient } from "../../src/destinations/http-client.js";
import { makeRecord } from "../../src/mapping/record.js";
import { silentLogger } from "../../src/ops/logger.js";
import { openDatabase } from "../../src/state/database.js";
import { SqliteStateStore } from "../../src/state/sqlite-store.js";
import { LeaseFence, LeaseLostError, outsideLeaseFence, withLeaseFence } from "../../src/sync/lease-fence.js";
import { TRANSPORTS } from "../../src/destinations/transport.js";
import { OutboxWorker } from "../../src/sync/worker.js";

/**
 * A worker frozen past its lease (SIGSTOP, a lost state connection) must not write for a record another worker
 * may hold now: every write through the catalog client checks the push's lease first, and the worker records
 * nothing for a push stopped that way.
 */

/** A SQLite state standing in for a shared one: the worker fences pushes only where others may take records over. */
class SharedSqliteStore extends SqliteStateStore {
  override readonly shared = true;
}

let dir: string;
let store: SqliteStateStore;
let server: http.Server;
let url: string;
const received: string[] = [];

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "beamsync-fence-"));
  store = new SharedSqliteStore(openDatabase(dir));
  received.splice(0);
  server = http.createServer((req, res) => {
    received.push(`${req.method} ${req.url}`);
    req.resume();
    // /slow holds its connection a while, so that a request behind it waits for one.
    req.on("end", () => setTimeout(() => res.end(JSON.stringify({ ok: true })), req.url === "/slow" ? 300 : 0));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await store.close();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

const LEASE_MS = 10_000;

/** A catalog that reads, then writes (as a file-list push does); `between` runs after the read. */
class ReadThenWrite implements Destination {
  readonly name = "scicat" as const;
  private readonly http = createCatalogClient(url, { baseURL: url, timeout: 5000 });
  constructor(private readonly between: () => void) {}
  async push(record: PushRecord): Promise<PushResult> {
    await this.http.client.get(`/read/${record.key}`);
    this.between();
    await this.http.client.post(`/write/${record.key}`, {});
    return { operation: "create", remoteId: `remote-${record.key}` };
  }
  lookup(): never {
    throw new Error("not used");
  }
  health() {
    return Promise.resolve({ reachable: true, authenticated: true, message: "ok" });
  }
  preflight() {
    return Promise.resolve([]);
  }
  authenticate() {
    return Promise.resolve();
  }
  close() {
    this.http.close();
    return Promise.resolve();
  }
}

describe("the lease fence", () => {
  it("stops a push's write once its lease has run out, records no outcome, and leaves the record for the next lease", async () => {
    let offset = 0;
    const now = () => Date.now() + offset;
    await store.reconcile([makeRecord({ destination: "scicat", kind: "proposal", key: "P1", payload: { title: "t" }, dependsOn: [] })], []);
    // The process "sleeps" past its lease between the read and the write.
    const destination = new ReadThenWrite(() => (offset += LEASE_MS));
    const worker = new OutboxWorker(store, [destination], { concurrency: 1, maxAttempts: 3, backoffBaseMs: 1, backoffMaxMs: 5, leaseMs: LEASE_MS, now }, silentLogger);
    const stop = setTimeout(() => worker.stop(), 1500);
    await worker.drain({ forever: true });
    clearTimeout(stop);
    await destination.close();

    expect(received).toContain("GET /read/P1");
    expect(received.filter((r) => r.startsWith("POST"))).toEqual([]);
    // Nothing recorded: no attempt counted, no upload_log row; the record waits, pending, for whoever leases it.
    expect(await store.uploadLog({ limit: 10 })).toEqual([]);
    const row = await store.getRecord("scicat/proposal/P1");
    expect(row).toMatchObject({ state: "pending", attempts: 0 });
  });

  it("lets the same push write while its lease holds, and a login made outside any push's fence", async () => {
    await store.reconcile([makeRecord({ destination: "scicat", kind: "proposal", key: "P2", payload: { title: "t" }, dependsOn: [] })], []);
    const destination = new ReadThenWrite(() => undefined);
    const summary = await new OutboxWorker(store, [destination], { concurrency: 1, maxAttempts: 3, backoffBaseMs: 1, backoffMaxMs: 5, leaseMs: LEASE_MS }, silentLogger).drain({ forever: false });
    expect(summary.succeeded).toBe(1);
    expect(received).toEqual(["GET /read/P2", "POST /write/P2"]);
    // Outside a push (the CLI, a shared login), writes are never fenced.
    const client = createCatalogClient(url, { baseURL: url, timeout: 5000 });
    await outsideLeaseFence(() => client.client.post("/auth/login", {}));
    client.close();
    await destination.close();
    expect(received).toContain("POST /auth/login");
  });

  for (const transport of TRANSPORTS) {
    it(`checks again as a write leaves for the wire (${transport}): one that waited for a connection past the lease is not sent`, async () => {
      let offset = 0;
      const fence = new LeaseFence("scicat/proposal/P3", Date.now() + LEASE_MS, () => Date.now() + offset);
      const client = createCatalogClient(url, { baseURL: url, timeout: 5000, transport, maxSockets: 1 });
      try {
        const outcome = await withLeaseFence(fence, async () => {
          const slow = client.client.get("/slow");
          // Taken by axios while the lease holds; it waits for the one connection, and the lease runs out meanwhile.
          const write = client.client.post("/write/P3", {}).then(
            () => "sent",
            (error: unknown) => error,
          );
          setTimeout(() => (offset += LEASE_MS), 100);
          await slow;
          return write;
        });
        expect(outcome).toBeInstanceOf(LeaseLostError);
        expect(received).toEqual(["GET /slow"]);
      } finally {
        client.close();
      }
    });
  }
});
