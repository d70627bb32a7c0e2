import { configSchema } from "../../src/config/schema.js";
import type { Destination } from "../../src/destinations/contract.js";
import { createScicatDestination } from "../../src/destinations/scicat/index.js";
import { mapToScicat } from "../../src/mapping/scicat/index.js";
import type { DesiredRecord } from "../../src/mapping/record.js";
import { silentLogger } from "../../src/ops/logger.js";
import { startScicatFake, type ScicatFake } from "../fakes/scicat/index.js";
import { smallSnapshot } from "../support/snapshot.js";
import { describeConformance } from "./conformance.js";

const ORDER = ["instrument", "proposal", "sample", "dataset", "origdatablocks"];
let fake: ScicatFake;
let destination: Destination;
const config = (url: string) =>
  configSchema.parse({ dataRoot: "/data", destinations: { scicat: { url, username: "ingestor", password: "conformance-pw", pidPrefix: "c/" } }, mapping: { ownerGroup: "g", instrument: "bl-1" } });

describeConformance({
  name: "SciCat",
  async start() {
    fake = await startScicatFake({ users: { ingestor: { password: "conformance-pw", groups: ["g"], admin: true } } });
    destination = createScicatDestination(config(fake.url).destinations.scicat, { logger: silentLogger });
  },
  async stop() {
    await destination.close();
    await fake.close();
  },
  destination: () => destination,
  records: (variant = 0) => mapToScicat(smallSnapshot({ variant }), config(fake.url)).sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind)),
  countRemote(record: DesiredRecord) {
    const p = record.payload;
    switch (record.kind) {
      case "instrument":
        return fake.instruments().filter((i) => i.uniqueName === p.uniqueName).length;
      case "proposal":
        return fake.proposals().filter((x) => x.proposalId === p.proposalId).length;
      case "sample":
        return fake.samples().filter((x) => x.sampleId === p.sampleId).length;
      case "dataset":
        return fake.datasets().filter((x) => x.pid === p.pid).length;
      default: {
        // Each file listed exactly once counts as "one".
        const paths = fake.origdatablocks(String(p.datasetId)).flatMap((b) => (b.dataFileList as { path: string }[]).map((f) => f.path));
        return paths.length === (p.files as unknown[]).length && new Set(paths).size === paths.length ? 1 : paths.length === 0 ? 0 : 2;
      }
    }
  },
  remoteTitle: () => fake.proposals()[0]?.title,
  expectedTitle: (variant) => `Polymer films, take ${variant}`,
  expireCredentials: () => fake.expireTokens(),
  failNextWrite: () => fake.failNext(1, 503, { match: { method: "POST" } }),
  rejected(records) {
    const dataset = records.find((r) => r.kind === "dataset")!;
    return { record: { ...dataset, payload: { ...dataset.payload, contactEmail: "not-an-email" } }, reason: /Expected an email/ };
  },
  writeCount: () => fake.writeCount(),
});
