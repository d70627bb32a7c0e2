import { afterEach, describe, expect, it } from "vitest";
import { configSchema, type Config } from "../../src/config/schema.js";
import type { Destination } from "../../src/destinations/contract.js";
import { createIcatDestination } from "../../src/destinations/icat/index.js";
import { mapToIcat } from "../../src/mapping/icat/index.js";
import { silentLogger } from "../../src/ops/logger.js";
import { ConfigurationError, TransientError } from "../../src/sync/errors.js";
import { DEFAULT_PLUGINS, FIXTURE, startFakeIcat, type FakeIcat, type FakeIcatOptions } from "../fakes/icat/index.js";
import { smallSnapshot } from "../support/snapshot.js";
import { outboxLike } from "./conformance.js";

/** Issue 4: what is particular to ICAT — sessions, reference data, investigations, chunked datafiles, lost answers. */

const PASSWORD = DEFAULT_PLUGINS.simple?.users?.ingestor ?? "";
let fake: FakeIcat | undefined;
let destination: Destination | undefined;
afterEach(async () => {
  await destination?.close();
  await fake?.close();
  destination = undefined;
  fake = undefined;
});

function icatConfig(url: string, icat: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    dataRoot: "/data",
    destinations: {
      scicat: { enabled: false },
      icat: { enabled: true, url, plugin: "simple", username: "ingestor", password: PASSWORD, facility: FIXTURE.facility, instrument: FIXTURE.instrument, createInvestigations: true, ...icat },
    },
  });
}

async function setup(options: { fake?: FakeIcatOptions; icat?: Record<string, unknown>; clock?: { t: number } } = {}) {
  const clock = options.clock;
  fake = await startFakeIcat({ fixtures: true, ...(clock ? { now: () => clock.t } : {}), ...options.fake });
  const config = icatConfig(fake.url, options.icat);
  destination = createIcatDestination(config.destinations.icat, { logger: silentLogger, ...(clock ? { now: () => clock.t } : {}) });
  const records = (snapshot = smallSnapshot({ runs: 3, files: 7 })) => mapToIcat(snapshot, config).sort((a, b) => ["investigation", "sample", "dataset"].indexOf(a.kind) - ["investigation", "sample", "dataset"].indexOf(b.kind));
  return { fake, destination, config, records, outbox: outboxLike(() => destination!) };
}

describe("ICAT adapter", () => {
  it("refreshes the session before it runs out, using the server's lifetime, and logs out on close", async () => {
    const clock = { t: Date.now() };
    const { fake, outbox, records } = await setup({ clock, fake: { lifetimeMinutes: 10 } });
    const all = records();
    await outbox.pushAll(all.slice(0, 2));
    clock.t += 8.5 * 60_000;
    await outbox.pushAll(all.slice(2));
    expect(fake.count("login")).toBe(1);
    expect(fake.count("refresh")).toBeGreaterThanOrEqual(1);
    await destination?.close();
    destination = undefined;
    expect(fake.count("logout")).toBe(1);
  });

  it("renews a session that expires during a long sync and replays the call once", async () => {
    const { fake, outbox, records } = await setup();
    const all = records(smallSnapshot({ runs: 12 }));
    for (const [i, record] of all.entries()) {
      if (i % 4 === 3) fake.expireAllSessions();
      await outbox.push(record);
    }
    expect(fake.entities("Dataset")).toHaveLength(12);
    expect(fake.count("login")).toBeGreaterThanOrEqual(3);
  });

  it("ends with one Dataset when the answer to its create is lost after the server committed", async () => {
    const { fake, outbox, records } = await setup();
    const all = records();
    await outbox.pushAll(all.filter((r) => r.kind !== "dataset"));
    fake.inject({ route: "write", kind: "dropAfterCommit" });
    const dataset = all.find((r) => r.kind === "dataset")!;
    await expect(outbox.push(dataset)).rejects.toBeInstanceOf(TransientError);
    await outbox.pushAll(all);
    expect(fake.entities("Dataset").filter((d) => d.name === dataset.payload.name)).toHaveLength(1);
    expect(fake.entities("Datafile").length).toBe(3 * 8);
  });

  it("sends datafiles in bounded chunks", async () => {
    const { fake, outbox, records } = await setup({ icat: { datafileChunk: 3 } });
    await outbox.pushAll(records(smallSnapshot({ runs: 1, files: 10 })));
    expect(fake.entities("Datafile")).toHaveLength(11);
    // 11 files in chunks of at most 3: at least 4 write requests for them.
    expect(fake.requests.filter((r) => r.route === "write").length).toBeGreaterThanOrEqual(4 + 3);
  });

  it("reports missing reference data as a configuration error naming it", async () => {
    const { outbox, records } = await setup({ icat: { datasetType: "no-such-type" } });
    const error = await outbox.pushAll(records()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/no-such-type/);
  });

  it("matches an existing investigation and does not create one unless allowed", async () => {
    const { fake, outbox, records } = await setup({ icat: { createInvestigations: false } });
    const error = await outbox.pushAll(records()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/createInvestigations/);
    expect(fake.entities("Investigation")).toHaveLength(1);
  });

  it("doctor checks pass against a well-prepared catalog", async () => {
    const { destination } = await setup();
    const checks = await destination.preflight();
    expect(checks.filter((c) => c.severity === "error")).toEqual([]);
  });
});
