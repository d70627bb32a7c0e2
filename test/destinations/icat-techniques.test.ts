import { describe, expect, it } from "vitest";
import { rulesSchema } from "../../src/config/mapping-rules.js";
import type { Config } from "../../src/config/schema.js";
import { createIcatDestination } from "../../src/destinations/icat/index.js";
import { createMemoryLogger } from "../../src/ops/logger.js";
import { mapToIcat } from "../../src/mapping/icat/index.js";
import type { Snapshot } from "../../src/model/types.js";
import type { LoggedRequest } from "../fakes/icat/index.js";
import { icatAdapterPerTest } from "../support/icat-setup.js";
import { smallSnapshot } from "../support/snapshot.js";

/**
 * The mapping rules' techniques as ICAT DatasetTechniques (icat-api.md §7, ICAT 5.0+): linked to the Technique
 * with the term's pid, never creating one; a technique ICAT lacks, or an older server, leaves the link out.
 * The pids here are test terms, not PaNET ids.
 */

const setup = icatAdapterPerTest();
const SCATTERING = { pid: "http://example.org/technique/test-scattering", name: "test scattering" };
const ABSORPTION = { pid: "http://example.org/technique/test-absorption", name: "test absorption" };

function withRules(config: Config, techniques: { pid: string; name: string }[]): Config {
  const rules = rulesSchema.parse({ rules: [{ name: "nexafs", match: { plan: "nexafs" }, techniques, fields: { description: "Carbon K-edge of {sample}" } }] });
  return { ...config, mapping: { ...config.mapping, rules } };
}

const records = (snapshot: Snapshot, config: Config) => mapToIcat(snapshot, config).sort((a, b) => ["investigation", "sample", "dataset"].indexOf(a.kind) - ["investigation", "sample", "dataset"].indexOf(b.kind));
const writes = (requests: readonly LoggedRequest[]) => requests.filter((r) => r.route === "write").map((r) => r.form.entities ?? "");

describe("ICAT techniques from the mapping rules", () => {
  it("links the dataset to the Techniques with the rule's pids, on create and when the rule gains one", async () => {
    const { fake, outbox, config } = await setup();
    const [scattering, absorption] = fake.create([{ Technique: { name: SCATTERING.name, pid: SCATTERING.pid } }, { Technique: { name: ABSORPTION.name, pid: ABSORPTION.pid } }]);
    const snapshot = smallSnapshot({ runs: 1 });
    await outbox.pushAll(records(snapshot, withRules(config, [SCATTERING])));
    const [dataset] = fake.entities("Dataset");
    expect(dataset?.description).toMatch(/ — Carbon K-edge of PS-b-PMMA$/);
    expect(fake.entities("DatasetTechnique").map((dt) => [dt.dataset, dt.technique])).toEqual([[dataset!.id, scattering]]);

    fake.clearRequests();
    await outbox.pushAll(records(snapshot, withRules(config, [SCATTERING, ABSORPTION])));
    expect(fake.entities("DatasetTechnique").map((dt) => dt.technique).sort()).toEqual([scattering, absorption].sort());
    // Only the missing link is written; the Technique itself never is.
    expect(writes(fake.requests).join("\n")).not.toMatch(/"Technique"/);
    expect(fake.entities("Technique")).toHaveLength(2);
  });

  it("a technique ICAT does not have is left out with a warning; the dataset lands", async () => {
    const { fake, outbox, config, logger } = await setup();
    const results = await outbox.pushAll(records(smallSnapshot({ runs: 1 }), withRules(config, [SCATTERING])));
    expect(results.every((r) => r.operation === "create")).toBe(true);
    expect(fake.entities("Dataset")).toHaveLength(1);
    expect(fake.entities("DatasetTechnique")).toHaveLength(0);
    expect(logger.lines.filter((l) => l.level === "warn" && /no Technique with this pid/.test(l.message)).map((l) => l.meta?.pid)).toEqual([SCATTERING.pid]);
  });

  it("ICAT before 5.0 has no techniques: none are sent, the dataset lands with the rule's description", async () => {
    const { fake, outbox, config, logger } = await setup({ fake: { version: "4.10.0" } });
    await outbox.pushAll(records(smallSnapshot({ runs: 1 }), withRules(config, [SCATTERING])));
    expect(fake.entities("Dataset")[0]?.description).toMatch(/ — Carbon K-edge of PS-b-PMMA$/);
    expect(writes(fake.requests).join("\n")).not.toMatch(/datasetTechniques|Technique/);
    expect(logger.lines.some((l) => l.level === "warn" && /before 5\.0/.test(l.message))).toBe(true);
  });

  it("doctor checks each technique the rules name against ICAT's: found, missing, or named otherwise", async () => {
    const { fake, config } = await setup();
    fake.create([{ Technique: { name: SCATTERING.name, pid: SCATTERING.pid } }, { Technique: { name: "something else", pid: ABSORPTION.pid } }]);
    const missing = { pid: "http://example.org/technique/not-loaded", name: "not loaded" };
    const ruleTechniques = [SCATTERING, ABSORPTION, missing].map((t) => ({ ...t, rule: "nexafs" }));
    const destination = createIcatDestination(config.destinations.icat, { logger: createMemoryLogger(), ruleTechniques });
    try {
      const checks = (await destination.preflight()).filter((c) => c.name.startsWith("icat.technique"));
      expect(checks.map((c) => [c.name, c.severity])).toEqual([
        [`icat.technique.${SCATTERING.pid}`, "ok"],
        [`icat.technique.${ABSORPTION.pid}`, "warning"],
        [`icat.technique.${missing.pid}`, "warning"],
      ]);
      expect(checks[1]?.message).toMatch(/is 'something else' in ICAT, 'test absorption' in rule nexafs/);
      expect(checks[2]?.message).toMatch(/not found: datasets are not linked to it/);
    } finally {
      await destination.close();
    }
  });
});
