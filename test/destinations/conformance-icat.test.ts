import { configSchema, type Config } from "../../src/config/schema.js";
import type { Destination, PushRecord } from "../../src/destinations/contract.js";
import { createIcatDestination } from "../../src/destinations/icat/index.js";
import { mapToIcat, type InvestigationRef } from "../../src/mapping/icat/index.js";
import { silentLogger } from "../../src/ops/logger.js";
import { DEFAULT_PLUGINS, FIXTURE, startFakeIcat, type DatabaseFlavour, type FakeIcat } from "../fakes/icat/index.js";
import { smallSnapshot } from "../support/snapshot.js";
import { describeConformance, PERMANENT_REASON } from "./conformance.js";

/**
 * The conformance suite against the ICAT adapter and the fake ICAT server, once per database flavour under the
 * server: MySQL/MariaDB drops the milliseconds of dates, Oracle keeps them (issue 20).
 */

const ORDER = ["investigation", "sample", "dataset"];
let fake: FakeIcat;
let destination: Destination;

function config(url: string): Config {
  return configSchema.parse({
    dataRoot: "/data",
    destinations: {
      scicat: { enabled: false },
      icat: {
        enabled: true,
        url,
        plugin: "simple",
        username: "ingestor",
        password: DEFAULT_PLUGINS.simple?.users.ingestor,
        facility: FIXTURE.facility,
        instrument: FIXTURE.instrument,
        createInvestigations: true,
      },
    },
  });
}

/** One beamtime, sample and closed run; a variant retitles the beamtime and renames the run's plan (→ dataset description). */
function records(variant = 0): PushRecord[] {
  const snapshot = smallSnapshot({ variant });
  if (variant) snapshot.runs = snapshot.runs.map((run) => ({ ...run, planName: `${run.planName}-v${variant}` }));
  return mapToIcat(snapshot, config(fake.url)).sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
}

function investigationId(ref: InvestigationRef): number | undefined {
  return fake.entities("Investigation").find((i) => i.facility === fake.fixtures?.facility && i.name === ref.name && i.visitId === ref.visitId)?.id;
}

/** The stored entity (or entities) under the record's natural key. */
function remoteRows(record: PushRecord) {
  const p = record.payload;
  if (record.kind === "investigation") {
    return fake.entities("Investigation").filter((i) => i.facility === fake.fixtures?.facility && i.name === p.name && i.visitId === p.visitId);
  }
  const inInvestigation = investigationId(p.investigation as InvestigationRef);
  const entity = record.kind === "sample" ? "Sample" : "Dataset";
  return fake.entities(entity).filter((row) => row.investigation === inInvestigation && row.name === p.name);
}

for (const database of ["mysql", "oracle"] satisfies DatabaseFlavour[]) {
  describeConformance({
    name: `icat (${database})`,
    async start() {
      fake = await startFakeIcat({ fixtures: true, maxIdGap: 3, database });
      destination = createIcatDestination(config(fake.url).destinations.icat, { logger: silentLogger });
    },
    async stop() {
      await destination.close();
      await fake.close();
    },
    destination: () => destination,
    records,
    countRemote: (record) => remoteRows(record).length,
    remoteAttribute(record) {
      const [row] = remoteRows(record);
      if (!row) return undefined;
      return record.kind === "investigation" ? row.title : record.kind === "sample" ? row.name : row.description;
    },
    expireCredentials: () => fake.expireSessions(),
    failNextWrite(count, kind) {
      const match = { route: "write" as const };
      if (kind === "transient") fake.failNext(count, "INTERNAL", { match });
      else fake.failNext(count, "VALIDATION", { match, message: `Investigation: title ${PERMANENT_REASON}` });
    },
    writeCount: () => fake.writeCount(),
  });
}
