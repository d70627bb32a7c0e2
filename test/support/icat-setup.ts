import { afterEach } from "vitest";
import { configSchema, type Config } from "../../src/config/schema.js";
import type { Destination, PushRecord } from "../../src/destinations/contract.js";
import { createIcatDestination } from "../../src/destinations/icat/index.js";
import { mapToIcat } from "../../src/mapping/icat/index.js";
import type { Snapshot } from "../../src/model/types.js";
import { createMemoryLogger } from "../../src/ops/logger.js";
import { outboxLike } from "../destinations/conformance.js";
import { DEFAULT_PLUGINS, FIXTURE, startFakeIcat, type FakeIcat, type FakeIcatOptions } from "../fakes/icat/index.js";
import { smallSnapshot } from "./snapshot.js";

/** The ICAT adapter against a fresh fake ICAT with the fixture facility, one per test (closed after it). */

export const ICAT_PASSWORD = DEFAULT_PLUGINS.simple?.users.ingestor ?? "";
const ORDER = ["investigation", "sample", "dataset"];

export function icatConfig(url: string, icat: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    dataRoot: "/data",
    destinations: {
      scicat: { enabled: false },
      icat: { enabled: true, url, plugin: "simple", username: "ingestor", password: ICAT_PASSWORD, facility: FIXTURE.facility, instrument: FIXTURE.instrument, createInvestigations: true, ...icat },
    },
  });
}

export interface IcatSetupOptions {
  fake?: FakeIcatOptions;
  icat?: Record<string, unknown>;
  /** Shared by the fake and the adapter, so session lifetimes can be walked through. */
  clock?: { t: number };
}

/** Call at the top of a test file; `setup()` in a test starts the fake and the adapter. */
export function icatAdapterPerTest() {
  // A test may set up more than once (one fake per database flavour) and close some itself; all are closed here.
  const open: { fake: FakeIcat; destination: Destination }[] = [];
  afterEach(async () => {
    for (const { fake, destination } of open.splice(0)) {
      await destination.close().catch(() => undefined);
      await fake.close();
    }
  });
  return async function setup(options: IcatSetupOptions = {}) {
    const { clock } = options;
    const server = await startFakeIcat({ fixtures: true, maxIdGap: 2, ...(clock ? { now: () => clock.t } : {}), ...options.fake });
    const config = icatConfig(server.url, options.icat);
    const logger = createMemoryLogger();
    const dest = createIcatDestination(config.destinations.icat, { logger, ...(clock ? { now: () => clock.t } : {}) });
    open.push({ fake: server, destination: dest });
    const records = (snapshot: Snapshot = smallSnapshot({ runs: 3, files: 7 })): PushRecord[] =>
      mapToIcat(snapshot, config).sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
    return { fake: server, destination: dest, config, logger, records, outbox: outboxLike(() => dest) };
  };
}
