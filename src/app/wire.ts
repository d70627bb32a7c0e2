import path from "node:path";
import type { Config } from "../config/schema.js";
import { ChecksumCache, withChecksums } from "../files/checksums.js";
import type { Destination } from "../destinations/contract.js";
import { createIcatDestination } from "../destinations/icat/index.js";
import { createScicatDestination } from "../destinations/scicat/index.js";
import { mapToIcat } from "../mapping/icat/index.js";
import { ruleTechniques } from "../mapping/rules.js";
import { mapToScicat } from "../mapping/scicat/index.js";
import type { Logger } from "../ops/logger.js";
import { createBlueskySource } from "../sources/bluesky/index.js";
import type { Source } from "../sources/contract.js";
import { createResonanceSource } from "../sources/resonance/index.js";
import { withRegisteredProposals } from "../mapping/registrations.js";
import { registrationFolder } from "../sources/registrations/config.js";
import { createRegistrationSource } from "../sources/registrations/index.js";
import { linkingSource } from "../sources/registrations/link.js";
import { readIdentityPins } from "../state/identity-keys.js";
import { openStateStore } from "../state/open.js";
import type { IdentityPin } from "../model/keys.js";
import { Engine, type EngineParts } from "../sync/engine.js";

/** Build the sources, destinations and mappers the configuration enables. */
export function buildSources(config: Config, logger: Logger, pins: ReadonlyMap<string, IdentityPin> = new Map()): Source[] {
  const sources: Source[] = [];
  if (config.sources.resonance.enabled) {
    sources.push(createResonanceSource({ dataRoot: config.dataRoot, config: config.sources.resonance, logger, sampleKey: config.mapping.sampleKey, pins, previews: config.previews.enabled }));
  }
  if (config.sources.bluesky.enabled) {
    sources.push(createBlueskySource({ dataRoot: config.dataRoot, config: config.sources.bluesky, logger, previews: config.previews.enabled }));
  }
  const { checksum, checksumConcurrency } = config.files;
  const cache = checksum === "none" ? undefined : new ChecksumCache(path.join(config.stateDir, "checksums.sqlite"));
  const summed = cache && checksum !== "none" ? sources.map((s) => withChecksums(s, { algorithm: checksum, concurrency: checksumConcurrency, cache })) : sources;
  const folder = registrationFolder(config);
  if (!folder) return summed;
  // Registrations first, so a proposal registered and measured in one pass is queued before its runs.
  return [createRegistrationSource(folder), ...summed.map((source) => linkingSource(source, folder, config))];
}

export function buildDestinations(config: Config, logger: Logger): Destination[] {
  const destinations: Destination[] = [];
  if (config.destinations.scicat.enabled) destinations.push(createScicatDestination(config.destinations.scicat, { logger, sharedState: config.state.backend === "postgres" }));
  if (config.destinations.icat.enabled) {
    destinations.push(createIcatDestination(config.destinations.icat, { logger, ruleTechniques: ruleTechniques(config.mapping.rules), registrations: config.sources.registrations.enabled }));
  }
  return destinations;
}

export async function buildEngine(config: Config, logger: Logger, overrides: Partial<EngineParts> = {}): Promise<Engine> {
  const store = overrides.store ?? (await openStateStore(config));
  return new Engine({
    config,
    logger,
    store,
    // Beamtimes keep the researcher and label an upgrade found them synced with (state migration 2).
    sources: overrides.sources ?? buildSources(config, logger, await readIdentityPins((key) => store.getMeta(key))),
    destinations: overrides.destinations ?? buildDestinations(config, logger),
    mappers: overrides.mappers ?? { scicat: withRegisteredProposals(mapToScicat), icat: mapToIcat },
  });
}
