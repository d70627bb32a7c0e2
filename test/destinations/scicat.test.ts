import { afterEach, describe, expect, it } from "vitest";
import { configSchema, type Config } from "../../src/config/schema.js";
import type { Destination, PushContext, PushRecord } from "../../src/destinations/contract.js";
import { createScicatDestination, planDatablocks, splitIntoBlocks } from "../../src/destinations/scicat/index.js";
import { mapToScicat } from "../../src/mapping/scicat/index.js";
import type { DesiredRecord } from "../../src/mapping/record.js";
import { createMemoryLogger, silentLogger } from "../../src/ops/logger.js";
import { PermanentError, TransientError, UnavailableError } from "../../src/sync/errors.js";
import { startScicatFake, type ScicatFake, type ScicatFakeOptions } from "../fakes/scicat/index.js";
import { smallSnapshot } from "../support/snapshot.js";

const PASSWORD = "adapter-test-password";
let fake: ScicatFake | undefined;
let destination: Destination | undefined;

afterEach(async () => {
  await destination?.close();
  await fake?.close();
  fake = undefined;
  destination = undefined;
});

function configFor(url: string, scicat: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    dataRoot: "/data",
    destinations: { scicat: { url, username: "ingestor", password: PASSWORD, pidPrefix: "t/", ...scicat } },
    mapping: { ownerGroup: "group-a", instrument: "bl-1" },
  });
}

async function setup(options: { fake?: ScicatFakeOptions; scicat?: Record<string, unknown>; now?: () => number; user?: { admin: boolean } } = {}) {
  fake = await startScicatFake({ users: { ingestor: { password: PASSWORD, groups: ["ingestor"], admin: options.user?.admin ?? true } }, ...options.fake });
  const config = configFor(fake.url, options.scicat);
  destination = createScicatDestination(config.destinations.scicat, { logger: silentLogger, ...(options.now ? { now: options.now } : {}) });
  return { fake, destination, config };
}

/** Push records in dependency order, remembering remote ids like the outbox does. */
function pusher(dest: Destination) {
  const remote = new Map<string, string>();
  const ctx: PushContext = { dependencyRemoteId: (kind, key) => remote.get(`${kind}/${key}`) };
  const order = ["instrument", "proposal", "sample", "dataset", "origdatablocks"];
  return {
    ctx,
    async pushAll(records: DesiredRecord[]) {
      const sorted = [...records].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
      const results = [];
      for (const r of sorted) {
        const result = await dest.push(asPush(r, remote.get(`${r.kind}/${r.key}`)), ctx);
        remote.set(`${r.kind}/${r.key}`, result.remoteId);
        results.push({ kind: r.kind, ...result });
      }
      return results;
    },
  };
}

function asPush(record: DesiredRecord, remoteId?: string): PushRecord {
  return { kind: record.kind, key: record.key, payload: record.payload, hash: record.hash, remoteId };
}

describe("SciCat adapter", () => {
  it("creates every kind once; pushing again writes nothing", async () => {
    const { fake, destination, config } = await setup();
    const records = mapToScicat(smallSnapshot({ runs: 2 }), config);
    const p = pusher(destination);
    const first = await p.pushAll(records);
    expect(first.every((r) => r.operation === "create")).toBe(true);
    expect(fake.datasets()).toHaveLength(2);
    const instrumentPid = fake.instruments()[0]?.pid;
    expect(fake.datasets()[0]?.instrumentIds).toEqual([instrumentPid]);

    fake.resetRequests();
    const second = await p.pushAll(records);
    expect(second.every((r) => r.operation === "skip")).toBe(true);
    expect(fake.writeCount()).toBe(0);
    expect(fake.datasets()).toHaveLength(2);
    expect(fake.origdatablocks()).toHaveLength(2);
  });

  it("updates changed fields of an existing dataset and proposal with PATCH", async () => {
    const { fake, destination, config } = await setup();
    const p = pusher(destination);
    await p.pushAll(mapToScicat(smallSnapshot(), config));
    const changed = mapToScicat(smallSnapshot({ variant: 3 }), config);
    const results = await p.pushAll(changed);
    expect(results.find((r) => r.kind === "dataset")?.operation).toBe("update");
    expect(results.find((r) => r.kind === "proposal")?.operation).toBe("update");
    expect(fake.proposals()[0]?.title).toBe("Polymer films, take 3");
    expect((fake.datasets()[0]?.scientificMetadata as { run: { num_events: number } }).run.num_events).toBe(15);
    expect(fake.requests.filter((r) => r.method === "PATCH").length).toBeGreaterThanOrEqual(2);
  });

  it("adds only the missing files to a dataset, split into blocks within the limits", async () => {
    const { fake, destination, config } = await setup({ scicat: { maxFilesPerBlock: 4 } });
    const p = pusher(destination);
    await p.pushAll(mapToScicat(smallSnapshot({ files: 5 }), config));
    const pid = fake.datasets()[0]?.pid as string;
    expect(fake.origdatablocks(pid).map((b) => (b.dataFileList as unknown[]).length)).toEqual([4, 2]);
    await p.pushAll(mapToScicat(smallSnapshot({ files: 9 }), config));
    const paths = fake.origdatablocks(pid).flatMap((b) => (b.dataFileList as { path: string }[]).map((f) => f.path));
    expect(paths).toHaveLength(10);
    expect(new Set(paths).size).toBe(10);
  });

  it("never duplicates a block whose answer was lost", async () => {
    const { fake, destination, config } = await setup();
    const records = mapToScicat(smallSnapshot(), config);
    const p = pusher(destination);
    fake.loseResponseNext(1, { method: "POST", path: /origdatablocks$/i });
    await expect(p.pushAll(records)).rejects.toBeInstanceOf(TransientError);
    await p.pushAll(records);
    expect(fake.origdatablocks()).toHaveLength(1);
  });

  it("uses the v3 dataset routes on a server without v4", async () => {
    const { fake, destination, config } = await setup({ fake: { v4: false } });
    const p = pusher(destination);
    await p.pushAll(mapToScicat(smallSnapshot(), config));
    expect(fake.datasets()).toHaveLength(1);
    expect(fake.requests.some((r) => r.method === "POST" && /\/v3\/datasets$/i.test(r.path))).toBe(true);
    expect(fake.requests.some((r) => /\/v4\//i.test(r.path))).toBe(false);
    fake.resetRequests();
    await p.pushAll(mapToScicat(smallSnapshot(), config));
    expect(fake.writeCount()).toBe(0);
  });

  it("logs in again when 80 % of the token lifetime has passed", async () => {
    let now = 1_000_000;
    const { fake, destination, config } = await setup({ fake: { tokenTtlSeconds: 100 }, now: () => now });
    const p = pusher(destination);
    await p.pushAll(mapToScicat(smallSnapshot(), config));
    const logins = () => fake.requests.filter((r) => /auth\/login/i.test(r.path)).length;
    expect(logins()).toBe(1);
    now += 79_000;
    await p.pushAll(mapToScicat(smallSnapshot(), config));
    expect(logins()).toBe(1);
    now += 2_000;
    await p.pushAll(mapToScicat(smallSnapshot(), config));
    expect(logins()).toBe(2);
  });

  it("treats an expired token (403, not 401) by logging in again and repeating the request once", async () => {
    const { fake, destination, config } = await setup();
    const p = pusher(destination);
    const records = mapToScicat(smallSnapshot({ runs: 2 }), config);
    await p.pushAll(records.filter((r) => r.kind !== "dataset" && r.kind !== "origdatablocks"));
    fake.expireTokens();
    await p.pushAll(records);
    expect(fake.datasets()).toHaveLength(2);
    expect(fake.requests.some((r) => r.status === 403)).toBe(true);
  });

  it("reports refused credentials as the catalog's problem (records wait), naming the keys to check, without the password", async () => {
    const { config } = await setup();
    const bad = createScicatDestination({ ...config.destinations.scicat, password: "not-the-password" }, { logger: silentLogger });
    const error = await bad.authenticate().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(String((error as Error).message)).toMatch(/HTTP 401.*check destinations\.scicat\.username and password/);
    expect(String((error as Error).message)).not.toContain("not-the-password");
    await bad.close();
  });

  it("reports a permission problem as permanent after exactly one re-login", async () => {
    const { fake, destination, config } = await setup({ user: { admin: false } });
    const dataset = mapToScicat(smallSnapshot(), config).find((r) => r.kind === "dataset")!;
    const error = await destination.push(asPush(dataset), { dependencyRemoteId: () => undefined }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/Unauthorized to create this dataset/);
    expect(fake.requests.filter((r) => /auth\/login/i.test(r.path))).toHaveLength(2);
  });

  it("keeps the server's words for a rejected record", async () => {
    const { destination, config } = await setup();
    const dataset = mapToScicat(smallSnapshot(), config).find((r) => r.kind === "dataset")!;
    const bad = { ...asPush(dataset), payload: { ...dataset.payload, unknownField: 1 } };
    const error = await destination.push(bad, { dependencyRemoteId: () => undefined }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/property unknownField should not exist/);
  });

  it("a proposal update keeps its measurement periods (a PATCH without them empties them, proposals/04)", async () => {
    const { fake, destination, config } = await setup();
    const snapshot = smallSnapshot();
    snapshot.beamtimes[0]!.timeStop = 1772790000;
    const proposal = mapToScicat(snapshot, config).find((r) => r.kind === "proposal")!;
    expect(proposal.payload.MeasurementPeriodList).toEqual([expect.objectContaining({ instrument: "bl-1" })]);
    const ctx = { dependencyRemoteId: () => undefined };
    await destination.push(asPush(proposal), ctx);
    const renamed = { ...asPush(proposal), payload: { ...proposal.payload, title: "renamed" }, lastWritten: proposal.payload };
    expect((await destination.push(renamed, ctx)).operation).toBe("update");
    const stored = fake.proposals()[0]!;
    expect(stored.title).toBe("renamed");
    expect(stored.MeasurementPeriodList).toEqual([expect.objectContaining({ instrument: "bl-1", start: (proposal.payload.MeasurementPeriodList as { start: string }[])[0]!.start })]);
  });

  it("concurrent pushes share one login and one probe of /explorer-json", async () => {
    const { fake, destination, config } = await setup();
    const datasets = mapToScicat(smallSnapshot(), config).filter((r) => r.kind === "dataset");
    const ctx = { dependencyRemoteId: () => undefined };
    const copies = Array.from({ length: 16 }, (_, i) => ({ ...asPush(datasets[0]!), payload: { ...datasets[0]!.payload, pid: `t/copy-${i}` } }));
    const results = await Promise.all(copies.map((r) => destination.push(r, ctx)));
    expect(results.every((r) => r.operation === "create")).toBe(true);
    expect(fake.requests.filter((r) => r.path === "/explorer-json")).toHaveLength(1);
    expect(fake.requests.filter((r) => /auth\/login$/i.test(r.path))).toHaveLength(1);
  });

  it("classifies 503 and 429 as transient, honouring Retry-After", async () => {
    const { fake, destination, config } = await setup();
    const proposal = mapToScicat(smallSnapshot(), config).find((r) => r.kind === "proposal")!;
    await destination.authenticate();
    fake.failNext(1, 429, { retryAfterSeconds: 7 });
    const limited = await destination.push(asPush(proposal), { dependencyRemoteId: () => undefined }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(TransientError);
    expect((limited as TransientError).retryAfterMs).toBe(7000);
    fake.failNext(1, 503);
    await expect(destination.push(asPush(proposal), { dependencyRemoteId: () => undefined })).rejects.toBeInstanceOf(TransientError);
    await fake.goDown();
    await expect(destination.push(asPush(proposal), { dependencyRemoteId: () => undefined })).rejects.toBeInstanceOf(TransientError);
    expect((await destination.health()).reachable).toBe(false);
    await fake.comeBack();
    expect((await destination.push(asPush(proposal), { dependencyRemoteId: () => undefined })).operation).toBe("create");
  });

  it("checks existence after an ambiguous 500 and retries the create once within a push", async () => {
    const { fake, destination, config } = await setup();
    const records = mapToScicat(smallSnapshot(), config);
    const sample = records.find((r) => r.kind === "sample")!;
    const proposal = records.find((r) => r.kind === "proposal")!;
    await destination.push(asPush(proposal), { dependencyRemoteId: () => undefined });
    fake.failNext(1, 500, { match: { method: "POST", path: /samples$/i } });
    expect((await destination.push(asPush(sample), { dependencyRemoteId: () => undefined })).operation).toBe("create");
    const other = { ...asPush(sample), key: "other", payload: { ...sample.payload, sampleId: "other" } };
    fake.failNext(2, 500, { match: { method: "POST", path: /samples$/i } });
    // Two 500s: left to the outbox's backoff (and, after sync.maxAttempts, to an operator), never a duplicate.
    await expect(destination.push(other, { dependencyRemoteId: () => undefined })).rejects.toBeInstanceOf(TransientError);
    expect(fake.samples()).toHaveLength(1);
  });

  it("doctor: reachable, credentials, dataset API and pid permission", async () => {
    const { destination, config } = await setup();
    const p = pusher(destination);
    await p.pushAll(mapToScicat(smallSnapshot(), config));
    const checks = await destination.preflight();
    expect(checks.map((c) => [c.name, c.severity])).toEqual([
      ["reachable", "ok"],
      ["credentials", "ok"],
      ["dataset-api", "ok"],
      ["pid-permission", "ok"],
    ]);
  });

  it("never writes the password or token into a log line", async () => {
    const logger = createMemoryLogger();
    fake = await startScicatFake({ users: { ingestor: { password: PASSWORD, groups: ["g"], admin: true } } });
    destination = createScicatDestination(configFor(fake.url).destinations.scicat, { logger });
    await destination.authenticate();
    const text = JSON.stringify(logger.lines);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toMatch(/eyJ/);
  });
});

describe("origdatablock planning", () => {
  const file = (path: string, size = 1) => ({ path, size, time: "2026-03-05T00:00:00.000Z" });
  it("splits by file count and by listing size", () => {
    const files = Array.from({ length: 7 }, (_, i) => file(`f${i}`));
    expect(splitIntoBlocks(files, { maxFilesPerBlock: 3, maxBytesPerBlock: 1e6 }).map((b) => b.length)).toEqual([3, 3, 1]);
    const bytes = Buffer.byteLength(JSON.stringify(file("f0"))) + 1;
    expect(splitIntoBlocks(files, { maxFilesPerBlock: 100, maxBytesPerBlock: bytes * 2 }).map((b) => b.length)).toEqual([2, 2, 2, 1]);
  });
  it("patches a block whose file grew and posts only missing files", () => {
    const plan = planDatablocks([{ _id: "b1", dataFileList: [file("a"), file("b")] }], [file("a", 5), file("b"), file("c")], { maxFilesPerBlock: 10, maxBytesPerBlock: 1e6 });
    expect(plan.updates).toEqual([{ id: "b1", files: [file("a", 5), file("b")] }]);
    expect(plan.additions).toEqual([[file("c")]]);
  });
});
