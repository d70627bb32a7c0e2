import { createHash } from "node:crypto";
import type { Config } from "../config/schema.js";
import { stableStringify } from "../mapping/record.js";

/**
 * The parts of the configuration that shape records. Files alone say when a record must be mapped again; these
 * say when every record must: a changed owner group or instrument changes every payload although no file did.
 * `keys` are the settings that make record keys (pids, proposal ids, sample ids): changing one of them would
 * create every record a second time under a new key, so beamsync refuses until the operator confirms.
 */
export interface RecordShape {
  /** Setting path → value, for the message that names what changed. */
  keys: Record<string, unknown>;
  /** Hash over everything else the mapping reads from the configuration. */
  contentHash: string;
}

/**
 * Raised when a beamsync release maps the same files to different records (names, metadata, file lists), so
 * that the first full pass after an upgrade maps every source again and the catalogs follow, like a
 * configuration change. 2: identities and groups from the proposal, names and quantities people search for.
 * 3: ICAT datasets take the SciCat dataset's name, description and techniques (dataset-text.ts); a run with
 * detector images gets its first frame as its preview.
 * 4: a registration's groups and members on its proposal's records, registered specimens' SampleParameters.
 */
export const MAPPING_REVISION = 4;

export function recordShape(config: Config): RecordShape {
  const scicat = config.destinations.scicat;
  const icat = config.destinations.icat;
  const keys: Record<string, unknown> = {
    "mapping.proposalIdTemplate": config.mapping.proposalIdTemplate,
    "mapping.sampleKey": config.mapping.sampleKey,
  };
  if (scicat.enabled) keys["destinations.scicat.pidPrefix"] = scicat.pidPrefix;
  if (icat.enabled) keys["destinations.icat.facility"] = icat.facility;
  const content = {
    revision: MAPPING_REVISION,
    mapping: config.mapping,
    scicat: scicat.enabled ? { pidPrefix: scicat.pidPrefix } : null,
    icat: icat.enabled
      ? { investigationType: icat.investigationType, datasetType: icat.datasetType, instrument: icat.instrument, parameters: icat.parameters, quantities: icat.quantities, sampleParameters: icat.sampleParameters, sampleMetadata: icat.sampleMetadata, locationLength: icat.locationLength }
      : null,
    bluesky: { keys: config.sources.bluesky.keys, rootMap: config.sources.bluesky.rootMap, staleAfterSeconds: config.sources.bluesky.staleAfterSeconds },
    resonance: { staleAfterSeconds: config.sources.resonance.staleAfterSeconds },
    registrations: config.sources.registrations.enabled ? { facility: config.sources.registrations.facility, keys: config.sources.registrations.keys } : null,
    checksum: config.files.checksum,
    previews: config.previews,
  };
  return { keys, contentHash: createHash("sha256").update(stableStringify(content)).digest("hex").slice(0, 32) };
}

/** The key settings that differ, as `path: "old" → "new"` lines (empty when none). */
export function changedKeys(before: Record<string, unknown>, now: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const path of new Set([...Object.keys(before), ...Object.keys(now)])) {
    // A destination switched on or off adds or drops its key setting: that creates or orphans nothing already synced.
    if (!(path in before) || !(path in now)) continue;
    if (stableStringify(before[path]) !== stableStringify(now[path])) out.push(`${path}: ${JSON.stringify(before[path])} → ${JSON.stringify(now[path])}`);
  }
  return out;
}
