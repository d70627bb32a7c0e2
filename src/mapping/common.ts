import path from "node:path";
import type { Config } from "../config/schema.js";
import type { Beamtime, Run, Sample } from "../model/types.js";

/** Rules shared by the SciCat and ICAT mappings, so both catalogs name things the same way. */

export type MappingConfig = Config["mapping"];

export function slug(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/[^\w.-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .toLowerCase();
}

/** Fill `{name}` placeholders; unknown names are left visible so a bad template is easy to spot. */
export function fillTemplate(template: string, values: Record<string, string | undefined>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** The proposal id of a beamtime: stated by the source, else the configured template. */
export function proposalIdFor(beamtime: Beamtime, mapping: MappingConfig): string {
  if (beamtime.proposalId) return beamtime.proposalId;
  return fillTemplate(mapping.proposalIdTemplate, {
    label: beamtime.label,
    researcher: beamtime.researcher.name,
    researcherSlug: slug(beamtime.researcher.name),
    dbStem: path.basename(beamtime.key).replace(/\.[^.]+$/, ""),
  });
}

/** `"{plan_name} {sample name} {label}"`, missing parts dropped (resonance-data.md §9, bluesky-documents.md §9.1). */
export function datasetNameFor(run: Run, sample: Sample | undefined, beamtime: Beamtime | undefined): string {
  const parts =
    run.source === "bluesky"
      ? [run.scanId !== undefined ? String(run.scanId) : undefined, run.planName, sample?.name]
      : [run.planName, sample?.name, beamtime?.label];
  const name = parts.filter((p): p is string => typeof p === "string" && p.length > 0).join(" ");
  return name.length > 0 ? name : run.uid;
}

/** Unix seconds → ISO 8601 UTC with milliseconds (accepted by SciCat and ICAT alike). */
export function isoFromSeconds(seconds: number): string {
  return new Date(Math.round(seconds * 1000)).toISOString();
}

export function isoFromMs(ms: number): string {
  return new Date(Math.round(ms)).toISOString();
}

/** Split "Jane Q. Doe" into first and last name; a single word is a last name. */
export function splitName(name: string): { first?: string; last: string } {
  const words = name.trim().split(/\s+/);
  if (words.length <= 1) return { last: words[0] ?? name };
  return { first: words.slice(0, -1).join(" "), last: words[words.length - 1] ?? name };
}

/** Exit status as the catalogs show it; open or stale runs are "incomplete". */
export function exitStatusFor(run: Run): string {
  if (run.state !== "complete") return "incomplete";
  return run.exitStatus ?? "unknown";
}

/** Path of a file relative to the run's source folder, with forward slashes. */
export function relativeFilePath(run: Run, absolute: string): string {
  const rel = path.relative(run.sourceFolder, absolute);
  return rel.split(path.sep).join("/");
}

/** Indexes for looking up a run's sample and beamtime while mapping. */
export interface MappingIndex {
  beamtimes: Map<string, Beamtime>;
  samples: Map<string, Sample>;
}

export function indexSnapshot(beamtimes: Iterable<Beamtime>, samples: Iterable<Sample>): MappingIndex {
  return {
    beamtimes: new Map([...beamtimes].map((b) => [b.key, b])),
    samples: new Map([...samples].map((s) => [s.key, s])),
  };
}

/** Whether a run should be pushed at all: open runs wait; stale runs only when configured. */
export function isPushable(run: Run, mapping: MappingConfig): boolean {
  if (run.state === "complete") return true;
  if (run.state === "stale") return mapping.pushStaleRuns;
  return false;
}
