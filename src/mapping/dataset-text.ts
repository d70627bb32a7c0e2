import type { Config } from "../config/schema.js";
import type { Beamtime, Run, Sample } from "../model/types.js";
import { datasetNameFor } from "./common.js";
import { firstString } from "./lookup.js";
import { applyRules, type RuleOutcome } from "./rules.js";

/**
 * What a dataset is called, what it is about and which techniques it used — one answer for every catalog, so
 * SciCat and ICAT show a run alike: the default name and description, then the per-instrument rules (rules.ts)
 * over them. Each catalog puts the answer in the fields it has (scicat/dataset.ts, icat/map.ts).
 */

export interface DatasetText {
  datasetName: string;
  description?: string;
  /** Keywords the matching rule adds (SciCat keywords; ICAT has keywords on investigations only). */
  ruleKeywords: string[];
  /** PaNET terms from the matching rule. */
  techniques: RuleOutcome["techniques"];
  /** The rule that applied, and the fields it left out and why (for `beamsync mapping check`). */
  rule?: string;
  problems: string[];
}

/**
 * The instrument a run was measured on: the bluesky start document's beamline selects it, else the configured
 * one. A document never renames it: the configured instrument keeps mapping.instrumentName whichever run names it.
 */
export function instrumentFor(run: Run, config: Config): { uniqueName: string; name: string } {
  const fromDocument = run.source === "bluesky" ? firstString(run.metadata, config.sources.bluesky.keys.beamline) : undefined;
  const uniqueName = fromDocument ?? config.mapping.instrument;
  const name = uniqueName === config.mapping.instrument ? (config.mapping.instrumentName ?? uniqueName) : uniqueName;
  return { uniqueName, name };
}

export function datasetText(run: Run, beamtime: Beamtime | undefined, sample: Sample | undefined, config: Config): DatasetText {
  const ruled = applyRules(config.mapping.rules, { run, sample, beamtime, beamline: instrumentFor(run, config).uniqueName });
  const description = ruled.fields.description ?? (run.source === "bluesky" ? firstString(run.metadata, ["sample_desc", "purpose"]) : undefined) ?? beamtime?.description;
  return {
    datasetName: ruled.fields.datasetName ?? datasetNameFor(run, sample, beamtime),
    ...(description ? { description } : {}),
    ruleKeywords: ruled.fields.keywords ?? [],
    techniques: ruled.techniques,
    ...(ruled.rule !== undefined ? { rule: ruled.rule } : {}),
    problems: ruled.problems,
  };
}
