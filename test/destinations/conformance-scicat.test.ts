/** The conformance suite against the SciCat adapter and the fake SciCat backend. */
import { configSchema } from "../../src/config/schema.js";
import type { Destination, PushRecord } from "../../src/destinations/contract.js";
import { createScicatDestination } from "../../src/destinations/scicat/index.js";
import { mapToScicat } from "../../src/mapping/scicat/index.js";
import { silentLogger } from "../../src/ops/logger.js";
import { startScicatFake, type ScicatFake } from "../fakes/scicat/index.js";
import { smallSnapshot } from "../support/snapshot.js";
import { describeConformance, PERMANENT_REASON } from "./conformance.js";

const ORDER = ["instrument", "proposal", "sample", "dataset", "origdatablocks"];
let fake: ScicatFake;
let destination: Destination;
const config = (url: string) =>
  configSchema.parse({ dataRoot: "/data", destinations: { scicat: { url, username: "ingestor", password: "conformance-pw", pidPrefix: "c/" } }, mapping: { ownerGroup: "g", instrument: "bl-1" } });

const find = (record: PushRecord) => {
  const p = record.payload;
  switch (record.kind) {
    case "instrument": return fake.instruments().filter((i) => i.uniqueName === p.uniqueName);
    case "proposal": return fake.proposals().filter((x) => x.proposalId === p.proposalId);
    case "sample": return fake.samples().filter((x) => x.sampleId === p.sampleId);
    case "dataset": return fake.datasets().filter((x) => x.pid === p.pid);
    default: return [];
  }
};

describeConformance({
  name: "scicat",
  async start() {
    fake = await startScicatFake({ users: { ingestor: { password: "conformance-pw", groups: ["g"], admin: true } } });
    destination = createScicatDestination(config(fake.url).destinations.scicat, { logger: silentLogger });
  },
  async stop() { await destination.close(); await fake.close(); },
  destination: () => destination,
  records: (variant = 0) => mapToScicat(smallSnapshot({ variant }), config(fake.url)).sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind)),
  countRemote(record) {
    if (record.kind !== "origdatablocks") return find(record).length;
    const p = record.payload;
    const paths = fake.origdatablocks(String(p.datasetId)).flatMap((b) => (b.dataFileList as { path: string }[]).map((f) => f.path));
    return paths.length === (p.files as unknown[]).length && new Set(paths).size === paths.length ? 1 : paths.length === 0 ? 0 : 2;
  },
  remoteAttribute(record) {
    const [doc] = find(record);
    if (record.kind === "proposal") return doc?.title;
    if (record.kind === "dataset") return doc?.scientificMetadata;
    return doc?.pid ?? doc?.sampleId;
  },
  expireCredentials: () => fake.expireTokens(),
  failNextWrite(count, kind) {
    // A write is a record's POST; the login is not one (its failures are the catalog's, not a record's).
    const write = { method: "POST", path: /^(?!.*\/auth\/login$)/i };
    if (kind === "transient") fake.failNext(count, 503, { match: write });
    else fake.failNext(count, 400, { match: write, body: { statusCode: 400, message: [`title ${PERMANENT_REASON}`], error: "Bad Request" } });
  },
  writeCount: () => fake.writeCount(),
});
