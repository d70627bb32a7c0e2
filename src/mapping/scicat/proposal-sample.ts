import type { Config } from "../../config/schema.js";
import { urlSafeId } from "../../model/keys.js";
import type { Beamtime, Researcher, Sample } from "../../model/types.js";
import { accessFor, groupMapPi, proposalAccess, type Access } from "../access.js";
import { isoFromSeconds, personName, proposalIsBeamtime, splitName } from "../common.js";

/** The proposal's principal investigator: the group map first, else the beamtime's researcher. */
export function principalInvestigator(beamtime: Beamtime | undefined, proposalId: string | undefined, config: Config): { name?: string; email?: string; login: boolean } {
  const mapped = groupMapPi(proposalId, config.mapping);
  const researcher: Researcher | undefined = beamtime?.researcher;
  const name = mapped.name ?? personName(researcher);
  const email = mapped.email ?? researcher?.email;
  return { ...(name ? { name } : {}), ...(email ? { email } : {}), login: mapped.name === undefined && researcher?.login === true };
}

/**
 * CreateProposalDto fields (scicat-api.md §5.1); only v4.x-known properties, since unknown ones are a 400.
 * A proposal that is one beamtime shows that beamtime's title, dates and measurement period; a proposal that
 * several beamtimes may share shows only what is the same whichever of them is read (its PI, email, groups),
 * so reading one of its beamtimes never rewrites it.
 */
export function proposalPayload(beamtime: Beamtime, proposalId: string, config: Config): Record<string, unknown> {
  const pi = principalInvestigator(beamtime, proposalId, config);
  const email = pi.email ?? config.mapping.defaultEmail;
  const access = proposalAccess(proposalId, config.mapping, beamtime);
  const own = proposalIsBeamtime(beamtime, config.mapping);
  const beamsync: Record<string, unknown> = own ? { source: beamtime.source, beamtime: beamtime.key, label: beamtime.label } : { source: beamtime.source };
  const payload: Record<string, unknown> = {
    proposalId,
    ownerGroup: access.ownerGroup,
    accessGroups: access.accessGroups,
    email,
    title: (own ? beamtime.description : undefined) ?? [pi.name, own ? beamtime.label : proposalId].filter(Boolean).join(" "),
    pi_email: email,
    metadata: { beamsync },
  };
  // A login id is not a name: it is kept whole, in the metadata, and never split into first and last names.
  if (pi.name && pi.login) beamsync.piLogin = pi.name;
  else if (pi.name) {
    const { first, last } = splitName(pi.name);
    payload.pi_lastname = last;
    if (first) payload.pi_firstname = first;
  }
  if (!own) return payload;
  if (beamtime.timeStart !== undefined) payload.startTime = isoFromSeconds(beamtime.timeStart);
  if (beamtime.timeStop !== undefined) payload.endTime = isoFromSeconds(beamtime.timeStop);
  if (beamtime.timeStart !== undefined && beamtime.timeStop !== undefined) {
    payload.MeasurementPeriodList = [
      { instrument: config.mapping.instrument, start: isoFromSeconds(beamtime.timeStart), end: isoFromSeconds(beamtime.timeStop) },
    ];
  }
  return payload;
}

/** A declared facility-wide reference sample (mapping.referenceSamples): shared by every proposal on purpose. */
export function isReferenceSample(sample: Sample, config: Config): boolean {
  return config.mapping.referenceSamples.includes(sample.name);
}

/**
 * A deterministic, URL-friendly sampleId, distinct for distinct keys (model/keys.ts). A reference sample is
 * `reference_<name>`, one for everyone.
 */
export function scicatSampleId(sample: Sample, config: Config): string {
  if (isReferenceSample(sample, config)) return `reference_${urlSafeId(sample.name)}`;
  return urlSafeId(sample.key);
}

export function samplePayload(sample: Sample, beamtime: Beamtime | undefined, proposalId: string | undefined, config: Config): Record<string, unknown> {
  if (isReferenceSample(sample, config)) {
    // The same for every proposal that measures it (no proposal's fields, so its hash never flips between them).
    const access: Access = accessFor(undefined, config.mapping);
    return {
      sampleId: scicatSampleId(sample, config),
      ownerGroup: access.ownerGroup,
      accessGroups: access.accessGroups,
      description: sample.name,
      sampleCharacteristics: { name: sample.name, reference: true },
      isPublished: true,
    };
  }
  const characteristics: Record<string, unknown> = { name: sample.name, tags: sample.tags, ...sample.extra };
  if (sample.formula !== undefined) characteristics.formula = sample.formula;
  if (sample.serial !== undefined) characteristics.serial = sample.serial;
  if (sample.beamlinePos !== undefined) characteristics.beamline_pos = sample.beamlinePos;
  const access = proposalAccess(proposalId, config.mapping, beamtime);
  const payload: Record<string, unknown> = {
    sampleId: scicatSampleId(sample, config),
    ownerGroup: access.ownerGroup,
    accessGroups: access.accessGroups,
    description: sample.name,
    sampleCharacteristics: characteristics,
  };
  const owner = principalInvestigator(beamtime, proposalId, config).name;
  if (owner) payload.owner = owner;
  if (proposalId) payload.proposalId = proposalId;
  return payload;
}
