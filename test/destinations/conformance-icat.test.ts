import { configSchema } from "../../src/config/schema.js";
import type { Destination } from "../../src/destinations/contract.js";
import { createIcatDestination } from "../../src/destinations/icat/index.js";
import { mapToIcat } from "../../src/mapping/icat/index.js";
import type { DesiredRecord } from "../../src/mapping/record.js";
import { silentLogger } from "../../src/ops/logger.js";
import { DEFAULT_PLUGINS, FIXTURE, startFakeIcat, type FakeIcat } from "../fakes/icat/index.js";
import { smallSnapshot } from "../support/snapshot.js";
import { describeConformance } from "./conformance.js";

const ORDER = ["investigation", "sample", "dataset"];
let fake: FakeIcat;
let destination: Destination;
const password = DEFAULT_PLUGINS.simple?.users?.ingestor ?? "";
const config = (url: string) =>
  configSchema.parse({
    dataRoot: "/data",
    destinations: { scicat: { enabled: false }, icat: { enabled: true, url, plugin: "simple", username: "ingestor", password, facility: FIXTURE.facility, instrument: FIXTURE.instrument, createInvestigations: true } },
  });

describeConformance({
  name: "ICAT",
  async start() {
    fake = await startFakeIcat({ fixtures: true });
    destination = createIcatDestination(config(fake.url).destinations.icat, { logger: silentLogger });
  },
  async stop() {
    await destination.close();
    await fake.close();
  },
  destination: () => destination,
  records: (variant = 0) => mapToIcat(smallSnapshot({ variant }), config(fake.url)).sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind)),
  countRemote(record: DesiredRecord) {
    const p = record.payload;
    switch (record.kind) {
      case "investigation":
        return fake.entities("Investigation").filter((i) => i.name === p.name && i.visitId === p.visitId).length;
      case "sample":
        return fake.entities("Sample").filter((s) => s.name === p.name).length;
      default:
        return fake.entities("Dataset").filter((d) => d.name === p.name).length;
    }
  },
  remoteTitle: () => fake.entities("Investigation").find((i) => i.name !== FIXTURE.investigation.name)?.title,
  expectedTitle: (variant) => `Polymer films, take ${variant}`,
  expireCredentials: () => fake.expireAllSessions(),
  failNextWrite: () => fake.inject({ route: "write", kind: "internal" }),
  rejected(records) {
    const sample = records.find((r) => r.kind === "sample")!;
    return { record: { ...sample, payload: { ...sample.payload, name: "x".repeat(300) } }, reason: /length/ };
  },
  writeCount: () => fake.writeCount(),
});
