import path from "node:path";
import type { Config } from "../config/schema.js";
import type { Beamtime, Researcher, Run, Sample } from "../model/types.js";

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

/**
 * Whether a beamtime's proposal is that beamtime alone: its id comes from the template and the template names
 * the beamtime ({label} or {beamtimeId}). Otherwise (an id the source states, or a template several beamtimes
 * fill alike) other beamtimes may share the proposal, and its record holds only what they all share.
 */
export function proposalIsBeamtime(beamtime: Beamtime, mapping: MappingConfig): boolean {
  return !beamtime.proposalId && /\{(label|beamtimeId)\}/.test(mapping.proposalIdTemplate);
}

/** A short id of the beamtime itself: the first 8 characters of its first run's uid (resonance), or its proposal. */
export function beamtimeIdOf(beamtime: Beamtime): string {
  const colon = beamtime.key.indexOf(":");
  const id = colon >= 0 ? beamtime.key.slice(colon + 1) : beamtime.key;
  return beamtime.source === "resonance" ? id.slice(0, 8) : id;
}

export const PROPOSAL_ID_PLACEHOLDERS = ["label", "researcher", "researcherSlug", "beamtimeId"] as const;

/** An unknown placeholder in mapping.proposalIdTemplate ({dbStem} went: it followed file renames), if any. */
export function proposalTemplateProblem(mapping: MappingConfig): string | undefined {
  const unknown = [...mapping.proposalIdTemplate.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string).filter((p) => !(PROPOSAL_ID_PLACEHOLDERS as readonly string[]).includes(p));
  if (unknown.length === 0) return undefined;
  return `mapping.proposalIdTemplate: unknown placeholder(s) ${unknown.map((p) => `{${p}}`).join(", ")}; use ${PROPOSAL_ID_PLACEHOLDERS.map((p) => `{${p}}`).join(", ")} (nothing that depends on where the files lie)`;
}

/**
 * The proposal id of a beamtime: stated by the source, else the configured template. No placeholder depends on
 * where the beamtime's files lie; a beamtime whose researcher nobody names is "unknown-<beamtimeId>", so two
 * such beamtimes of one day never share a proposal.
 */
export function proposalIdFor(beamtime: Beamtime, mapping: MappingConfig): string {
  if (beamtime.proposalId) return beamtime.proposalId;
  const beamtimeId = beamtimeIdOf(beamtime);
  const name = beamtime.researcher.name;
  return fillTemplate(mapping.proposalIdTemplate, {
    label: beamtime.label,
    researcher: name !== "" ? name : "unknown",
    researcherSlug: name !== "" ? slug(name) : `unknown-${beamtimeId}`,
    beamtimeId,
  });
}

/** How a run ended, as a name shows it: nothing for a success. */
const OUTCOME_WORDS: Record<string, string> = { abort: "aborted", fail: "failed", incomplete: "incomplete" };

/**
 * What the run is, unique within its beamtime: plan, sample, scan number, when, and how it ended unless it
 * succeeded — "nexafs HOPG #3 2026-11-03 (aborted)". Resonance scan numbers are the run's place in its beamtime
 * (unique there); bluesky scan ids repeat after a RunEngine restart, so the start time, to the second, is added.
 */
export function datasetNameFor(run: Run, sample: Sample | undefined, beamtime: Beamtime | undefined): string {
  const when = run.source === "bluesky" ? isoFromSeconds(run.timeStart).slice(0, 19).replace("T", " ") : beamtime?.label;
  const status = exitStatusFor(run);
  const outcome = status === "success" ? undefined : `(${OUTCOME_WORDS[status] ?? status})`;
  const parts = [run.planName, sample?.name, run.scanId !== undefined ? `#${run.scanId}` : undefined, when, outcome];
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

/** The person to show for a researcher: a name, or a login id when nothing better is known; none when nobody. */
export function personName(researcher: Researcher | undefined): string | undefined {
  return researcher && researcher.name.trim() !== "" ? researcher.name.trim() : undefined;
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

/** Path of a file relative to the run's source folder (or another folder), with forward slashes. */
export function relativeFilePath(run: Run, absolute: string, folder: string = run.sourceFolder): string {
  const rel = path.relative(folder, absolute);
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
