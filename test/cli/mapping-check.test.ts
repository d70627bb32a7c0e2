import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { parseRules } from "../../src/config/rules-file.js";
import { mapToScicat } from "../../src/mapping/scicat/index.js";
import { createDataRoot } from "../fixtures/resonance/index.js";
import { REPO_ROOT, runCli, tempDir } from "../support/cli.js";

/** Issue 17 item 3: per-instrument mapping rules and `beamsync mapping check`. */

const EXAMPLE = path.join(REPO_ROOT, "config/mapping.example.yaml");
const REALDOC = path.join(REPO_ROOT, "test/fixtures/realdocs/apstools/uid-3ab777ae.json");
let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function world(extra: Record<string, unknown> = {}) {
  const dir = tempDir("mapping-check");
  dirs.push(dir);
  const dataRoot = path.join(dir, "DATA");
  const written = createDataRoot(dataRoot, { beamtimes: [{ label: "2026-11-03", researcher: "jdoe", samples: [{ name: "HOPG" }], runs: [{ metadata: { edge: "C K" } }] }] });
  fs.mkdirSync(path.join(dataRoot, "bluesky"));
  fs.copyFileSync(REALDOC, path.join(dataRoot, "bluesky", "uid-3ab777ae.json"));
  const configFile = path.join(dir, "beamsync.yaml");
  fs.writeFileSync(configFile, YAML.stringify({ dataRoot, stateDir: path.join(dir, "state"), mapping: { instrument: "11.0.1.2", rulesFile: EXAMPLE }, ...extra }));
  return { dir, dataRoot, written, configFile };
}

interface Report {
  rules: number;
  runs: { source: string; rule: string | null; dataset: Record<string, unknown>; icat?: { description: string; techniques: unknown[] }; problems: string[] }[];
}

describe("mapping rules", () => {
  it("mapping check on the example file shows the fields of one resonance and one bluesky run", async () => {
    const { configFile, written } = world();
    const result = await runCli(["mapping", "check", "--config", configFile, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.rules).toBe(3);
    const resonance = report.runs.find((r) => r.source === "resonance")!;
    expect(resonance.rule).toBe("nexafs");
    expect(resonance.dataset.datasetName).toBe("NEXAFS HOPG #1 2026-11-03");
    expect(resonance.dataset.keywords).toEqual(expect.arrayContaining(["NEXAFS", "C K"]));
    expect(resonance.dataset.techniques).toEqual([{ pid: "http://purl.org/pan-science/PaNET/PaNET01196", name: "near edge X-ray absorption fine structure spectroscopy" }]);
    expect(written.beamtimes[0]!.runs).toHaveLength(1);
    const bluesky = report.runs.find((r) => r.source === "bluesky")!;
    expect(bluesky.rule).toBe("bluesky alignment");
    expect(bluesky.dataset.description).toBe("alignment: lineup2 (success)");
    expect(bluesky.problems).toEqual([]);
    const text = await runCli(["mapping", "check", "--config", configFile]);
    expect(text.stdout).toContain('rule "nexafs"');
  });

  it("with ICAT enabled, also shows the ICAT dataset the same rule gives", async () => {
    const icat = { enabled: true, url: "https://icat.example.org", plugin: "simple", username: "ingest", password: "pw", facility: "ALS" };
    const { configFile } = world({ destinations: { scicat: { enabled: false }, icat } });
    const result = await runCli(["mapping", "check", "--config", configFile, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const resonance = (JSON.parse(result.stdout) as Report).runs.find((r) => r.source === "resonance")!;
    expect(resonance.icat).toEqual({ description: "NEXAFS HOPG #1 2026-11-03", techniques: resonance.dataset.techniques });
    const text = await runCli(["mapping", "check", "--config", configFile]);
    expect(text.stdout).toContain("ICAT dataset:");
  });

  it("a field whose template names what the run lacks is left out and reported; the rest still applies", () => {
    const rules = parseRules(fs.readFileSync(EXAMPLE, "utf8"), EXAMPLE);
    const config = configSchema.parse({ dataRoot: "/data", mapping: { rules } });
    const run = { uid: "u1", source: "resonance" as const, planName: "nexafs", timeStart: 1, timeStop: 2, state: "complete" as const, exitStatus: "success", numEvents: 1, metadata: {}, streams: [], sourceFolder: "/data", files: [], dataFormat: "x" };
    const dataset = mapToScicat({ beamtimes: [], samples: [], runs: [run], problems: [] }, config).find((r) => r.kind === "dataset")!.payload;
    // No sample and no label: the name template cannot be filled, so the default name stays.
    expect(dataset.datasetName).toBe("nexafs");
    expect(dataset.keywords).toContain("NEXAFS");
    expect(dataset.techniques).toHaveLength(1);
  });

  it("a broken mapping file is an error naming its line", async () => {
    const { dir, configFile } = world();
    const broken = path.join(dir, "broken.yaml");
    fs.writeFileSync(broken, "rules:\n  - name: x\n    match: { plan: nexafs }\n    techniques:\n      - { pid: not-a-url, name: NEXAFS }\n");
    const result = await runCli(["mapping", "check", "--config", configFile, "--rules", broken]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/broken\.yaml:5:\d+: rules\.0\.techniques\.0\.pid: must be the term's URL/);
    fs.writeFileSync(broken, "rules:\n  - name: x\n    match: { plan: [nexafs }\n");
    const syntax = await runCli(["mapping", "check", "--config", configFile, "--rules", broken]);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toMatch(/broken\.yaml:3:\d+:/);
  });
});
