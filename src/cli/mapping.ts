import path from "node:path";
import { Command } from "commander";
import { readRulesFile } from "../config/rules-file.js";
import type { Config } from "../config/schema.js";
import { indexSnapshot } from "../mapping/common.js";
import { datasetText } from "../mapping/dataset-text.js";
import { icatDatasetDescription } from "../mapping/icat/map.js";
import { mapToScicat } from "../mapping/scicat/index.js";
import type { Run, Snapshot } from "../model/types.js";
import { silentLogger } from "../ops/logger.js";
import { readFile as readDocumentFile } from "../sources/bluesky/index.js";
import { createResonanceSource } from "../sources/resonance/index.js";
import { buildSources } from "../app/wire.js";
import { globalOptions, loadCommandConfig } from "./context.js";
import { createOutput, printJson } from "./output.js";

/**
 * `beamsync mapping check`: the per-instrument rules validated (a mistake names its line), and the dataset
 * fields they give for one resonance and one bluesky run — of `--source FILE`, else of the DATA root — in SciCat,
 * and in ICAT when it is enabled.
 */
export function mappingCommand(): Command {
  const check = new Command("check")
    .description("validate the mapping rules (mapping.rulesFile, or --rules FILE) and show the dataset fields they give for sample runs")
    .option("--rules <file>", "a rules file to check instead of the configured one")
    .option("--source <file>", "read the sample runs from this bluesky document file or resonance beamtime DB (default: the whole DATA root)")
    .option("-c, --config <file>", "configuration file")
    .option("--json", "print data as JSON")
    .addHelpText("after", "\nExamples:\n  beamsync mapping check --rules config/mapping.example.yaml\n  beamsync mapping check --source /data/beamline/jdoe/2026-03-05.db --json")
    .action(async (opts: { rules?: string; source?: string }, command: Command) => {
      const options = globalOptions(command);
      const out = createOutput(options.json ?? false);
      const config = loadCommandConfig(options);
      if (opts.rules) config.mapping.rules = readRulesFile(path.resolve(opts.rules));
      const snapshot = await sampleSnapshot(config, opts.source);
      const samples = [snapshot.runs.find((r) => r.source === "resonance"), snapshot.runs.find((r) => r.source === "bluesky")].filter((r): r is Run => r !== undefined);
      const records = mapToScicat({ ...snapshot, runs: samples }, config);
      const index = indexSnapshot(snapshot.beamtimes, snapshot.samples);
      const report = samples.map((run) => {
        const beamtime = run.beamtimeKey ? index.beamtimes.get(run.beamtimeKey) : undefined;
        const sample = run.sampleKey ? index.samples.get(run.sampleKey) : undefined;
        const text = datasetText(run, beamtime, sample, config);
        const dataset = records.find((r) => r.kind === "dataset" && r.runUid === run.uid)?.payload ?? {};
        const { datasetName, description, keywords, techniques } = dataset;
        // ICAT's Dataset: its name is the run uid; the same name and description in its one text field, the same techniques.
        const icat = config.destinations.icat.enabled ? { icat: { description: icatDatasetDescription(text), techniques: text.techniques } } : {};
        return { source: run.source, run: run.uid, plan: run.planName, rule: text.rule ?? null, dataset: { datasetName, description, keywords, techniques }, ...icat, problems: text.problems };
      });
      const rules = config.mapping.rules;
      if (out.json) return printJson(out, { rules: rules ? rules.rules.length : 0, fallback: rules?.fallback !== undefined, runs: report });
      out.write(`mapping rules valid: ${rules ? rules.rules.length : 0} rule(s)${rules?.fallback ? " and a fallback" : ""}`);
      if (report.length === 0) out.write("no closed run found to show (give --source FILE)");
      for (const r of report) {
        out.write(`\n${r.source} run ${r.run} (plan ${r.plan}): ${r.rule ? `rule "${r.rule}"` : "no rule applies (default mapping)"}`);
        out.write(JSON.stringify(r.dataset, null, 2).replace(/^/gm, "  "));
        if (r.icat) out.write(`  ICAT dataset:\n${JSON.stringify(r.icat, null, 2).replace(/^/gm, "  ")}`);
        for (const p of r.problems) out.write(`  left out — ${p}`);
      }
    });
  check.exitOverride();
  return new Command("mapping").description("the per-instrument mapping rules").addCommand(check);
}

/** Everything the sources read (forced), from one file or from the whole DATA root. */
async function sampleSnapshot(config: Config, source: string | undefined): Promise<Snapshot> {
  const scanOptions = { force: true, nowMs: Date.now() };
  const none = { get: () => Promise.resolve(undefined) };
  if (source === undefined) {
    const snapshot: Snapshot = { beamtimes: [], samples: [], runs: [], problems: [] };
    for (const s of buildSources({ ...config, files: { ...config.files, checksum: "none" } }, silentLogger)) {
      const result = await s.scan(none, scanOptions);
      snapshot.beamtimes.push(...result.snapshot.beamtimes);
      snapshot.samples.push(...result.snapshot.samples);
      snapshot.runs.push(...result.snapshot.runs);
    }
    return snapshot;
  }
  const absolute = path.resolve(source);
  if (absolute.endsWith(".db")) {
    // The DB's own directory as the DATA root: the source discovers it there.
    const dir = path.dirname(absolute);
    const resonance = createResonanceSource({ dataRoot: dir, config: { ...config.sources.resonance, indexFile: "no-index.db", discover: true }, logger: silentLogger });
    const result = await resonance.scan(none, scanOptions);
    return { ...result.snapshot, runs: result.snapshot.runs.filter((r) => r.files.some((f) => f.path === absolute)) };
  }
  const read = await readDocumentFile(absolute, { dataRoot: path.dirname(absolute), config: config.sources.bluesky, logger: silentLogger }, false);
  return { beamtimes: read.beamtimes, samples: read.samples, runs: read.runs, problems: [] };
}
