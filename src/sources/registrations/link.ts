import type { Config } from "../../config/schema.js";
import { proposalIdFor } from "../../mapping/common.js";
import { firstString } from "../../mapping/lookup.js";
import type { Beamtime, Run, Sample, Snapshot, SourceProblem } from "../../model/types.js";
import type { ScanOptions, ScanResult, Source, Watermark, WatermarkReader } from "../contract.js";
import type { RegistrationFolder, RegistryView } from "./folder.js";
import { parseQrPayload } from "./qr-payload.js";

/**
 * Runs link to registered specimens. A run source is wrapped so that each batch it hands over is rewritten
 * before mapping:
 *
 * - a beamtime whose proposal is registered gives way to the registration's (its runs and samples move to it),
 *   so the proposal has one record, the registered one, and the same groups everywhere;
 * - a run whose metadata names a registered specimen (its id, or a scanned QR payload, under the configured
 *   keys) measures that Sample and belongs to its proposal; a specimen of another proposal than the run's is
 *   not linked; a specimen nobody registered leaves the run with its own sample as before. Both are reported
 *   against the run's file, so `status` shows them.
 *
 * When what runs can link to changes, the wrapped source reads every file again once (its pseudo-watermark
 * `LINKS_PATH` remembers what the last full read linked against), so runs written before their registration
 * link too.
 */

export const LINKS_PATH = ".beamsync-registrations";

export function linkingSource(inner: Source, folder: RegistrationFolder, config: Config): Source {
  return {
    kind: inner.kind,
    scan: async (watermarks: WatermarkReader, options: ScanOptions): Promise<ScanResult> => {
      const view = folder.load();
      const remembered = await watermarks.get(inner.kind, LINKS_PATH);
      const relink = remembered?.data !== view.fingerprint;
      const link = (batch: ScanResult) => linkBatch(batch, view, config);
      const onBatch = options.onBatch;
      const result = await inner.scan(watermarks, { ...options, force: options.force || relink, onBatch: onBatch ? (b) => onBatch(link(b)) : undefined });
      const linked = link(result);
      if (!relink) return linked;
      const marker: Watermark = { source: inner.kind, path: LINKS_PATH, size: 0, mtimeMs: 0, data: view.fingerprint };
      return { ...linked, watermarks: [...linked.watermarks, marker] };
    },
  };
}

/** Where a run names a specimen: the configured start-document keys, or its resonance sample's fields. */
function specimenRef(run: Run, sample: Sample | undefined, config: Config): string | undefined {
  const keys = config.sources.registrations.keys;
  if (run.source === "bluesky") return firstString(run.metadata, keys.bluesky);
  if (!sample) return undefined;
  for (const field of keys.resonance) {
    const value = field === "serial" ? sample.serial : sample.name;
    if (value !== undefined && value.trim() !== "") return value.trim();
  }
  return undefined;
}

type Found = { sample: Sample; beamtime: Beamtime } | { problem: string } | undefined;

/** The registered specimen a reference names, for a run of `runProposal` (undefined: the run states none). */
function findSpecimen(ref: string, runProposal: string | undefined, view: RegistryView, config: Config): Found {
  const qr = parseQrPayload(ref);
  if (qr) {
    if (qr.facility !== config.sources.registrations.facility) return { problem: `carries the label ${ref}, from facility ${qr.facility}, not ${config.sources.registrations.facility}` };
    if (qr.kind !== "specimen") return { problem: `carries the label ${ref}, a tray's, not a specimen's` };
    const records = view.proposals.get(qr.proposalId);
    const sample = records?.samples.find((s) => s.extra.specimenId === qr.id);
    if (!records || !sample) return { problem: `carries the label ${ref}, of a specimen that is not registered` };
    return { sample, beamtime: records.beamtime };
  }
  const candidates = view.specimens.get(ref) ?? [];
  const own = runProposal !== undefined ? candidates.find((s) => proposalOf(s, view) === runProposal) : candidates.length === 1 ? candidates[0] : undefined;
  if (own) {
    const records = view.proposals.get(proposalOf(own, view) ?? "");
    if (records) return { sample: own, beamtime: records.beamtime };
  }
  const others = candidates.map((s) => proposalOf(s, view)).join(", ");
  if (candidates.length > 1 && runProposal === undefined) return { problem: `specimen ${ref} is registered by several proposals (${others}) and the run names none` };
  if (candidates.length > 0) return { problem: `names specimen ${ref} of proposal ${others}, but the run belongs to proposal ${runProposal ?? "?"}` };
  return undefined;
}

function proposalOf(sample: Sample, view: RegistryView): string | undefined {
  for (const [proposalId, records] of view.proposals) if (records.beamtime.key === sample.beamtimeKey) return proposalId;
  return undefined;
}

/** Rewrite one self-contained batch (one file's beamtimes, samples and runs). */
export function linkBatch(batch: ScanResult, view: RegistryView, config: Config): ScanResult {
  const snap = batch.snapshot;
  if (view.proposals.size === 0 || snap.runs.length + snap.beamtimes.length === 0) return batch;
  const beamtimes = new Map(snap.beamtimes.map((b) => [b.key, b]));
  const samples = new Map(snap.samples.map((s) => [s.key, s]));
  // A beamtime of a registered proposal gives way to the registration's.
  const replaced = new Map<string, Beamtime>();
  for (const b of snap.beamtimes) {
    const registered = view.proposals.get(proposalIdFor(b, config.mapping));
    if (registered) replaced.set(b.key, registered.beamtime);
  }
  const added = new Map<string, Beamtime | Sample>();
  const use = (b: Beamtime) => {
    if (!beamtimes.has(b.key)) added.set(b.key, b);
    return b.key;
  };
  const problems: SourceProblem[] = [];
  const path = batch.watermarks.find((w) => !w.path.startsWith("."))?.path ?? LINKS_PATH;
  const runs = snap.runs.map((run) => {
    const own = run.beamtimeKey !== undefined ? beamtimes.get(run.beamtimeKey) : undefined;
    const moved = own ? replaced.get(own.key) : undefined;
    const out: Run = moved ? { ...run, beamtimeKey: use(moved) } : run;
    // The proposal the run states (a template's id is no statement: a registered specimen may decide it).
    const runProposal = moved ? moved.proposalId : own?.proposalId;
    const ref = specimenRef(run, run.sampleKey !== undefined ? samples.get(run.sampleKey) : undefined, config);
    if (ref === undefined) return out;
    const found = findSpecimen(ref, runProposal, view, config);
    if (found && "sample" in found) {
      const specimenProposal = found.beamtime.proposalId;
      if (runProposal !== undefined && specimenProposal !== runProposal) {
        problems.push({ source: run.source, path, reason: `run ${run.uid} names specimen ${ref} of proposal ${specimenProposal ?? "?"}, but the run belongs to proposal ${runProposal}: not linked` });
        return out;
      }
      added.set(found.sample.key, found.sample);
      return { ...out, beamtimeKey: use(found.beamtime), sampleKey: found.sample.key };
    }
    const registeredRun = runProposal !== undefined && view.proposals.has(runProposal);
    if (found?.problem) problems.push({ source: run.source, path, reason: `run ${run.uid} ${found.problem}: not linked` });
    else if (run.source === "bluesky" || registeredRun) {
      problems.push({ source: run.source, path, reason: `run ${run.uid} names specimen ${ref}, which is not registered${runProposal ? ` for proposal ${runProposal}` : ""}: kept with a sample of its own` });
    }
    return out;
  });
  const kept = snap.beamtimes.filter((b) => !replaced.has(b.key));
  // A sample that only linked runs measured stood for the registered specimen: it is not a sample of its own.
  const measured = new Set(runs.map((r) => r.sampleKey));
  const linkedAway = new Set(snap.runs.filter((r, i) => r.sampleKey !== undefined && runs[i]?.sampleKey !== r.sampleKey).map((r) => r.sampleKey));
  const ownSamples = snap.samples.filter((s) => !linkedAway.has(s.key) || measured.has(s.key));
  const addedBeamtimes = [...added.values()].filter((x): x is Beamtime => "label" in x);
  const addedSamples = [...added.values()].filter((x): x is Sample => !("label" in x) && !samples.has(x.key));
  const linked: Snapshot = {
    beamtimes: [...kept, ...addedBeamtimes],
    samples: [...ownSamples.map((s) => (replaced.has(s.beamtimeKey) ? { ...s, beamtimeKey: replaced.get(s.beamtimeKey)?.key ?? s.beamtimeKey } : s)), ...addedSamples],
    runs,
    problems: [...snap.problems, ...problems],
  };
  return { ...batch, snapshot: linked };
}
