import type { Config } from "../config/schema.js";
import type { Beamtime, Snapshot } from "../model/types.js";
import { proposalAccess } from "./access.js";
import { isoFromSeconds, splitName, type MappingIndex } from "./common.js";
import { makeRecord, type DesiredRecord } from "./record.js";

/**
 * SciCat records of registrations (pure). A registered proposal is the user's own statement, so its Proposal
 * shows the registered title, abstract, PI, dates and trays, with the groups of issue 13's rules
 * (mapping/access.ts) and the registered groups as readers: every record of the proposal carries the same ones. Its samples go through the common
 * sample mapping (their characteristics hold the tray, slot and QR label).
 *
 * Trays are proposal metadata (`metadata.registration.trays`, each with its specimens and QR label), and each
 * sample names its tray: a tray is never measured, so as a Sample of its own it would sit in sample searches
 * and dataset pickers as one more specimen; a search for a tray's specimens is a search on
 * `sampleCharacteristics.tray`.
 */

type Mapper = (snapshot: Snapshot, config: Config, index: MappingIndex) => DesiredRecord[];

export function isRegistered(beamtime: Beamtime): boolean {
  return beamtime.source === "registration";
}

/** The SciCat mapper, with registered proposals mapped here and everything else as before. */
export function withRegisteredProposals(base: Mapper): Mapper {
  return (snapshot: Snapshot, config: Config, index) => {
    const registered = snapshot.beamtimes.filter(isRegistered);
    if (registered.length === 0) return base(snapshot, config, index);
    const rest = { ...snapshot, beamtimes: snapshot.beamtimes.filter((b) => !isRegistered(b)) };
    return [...registered.map((b) => registeredProposalRecord(b, config)), ...base(rest, config, index)];
  };
}

export function registeredProposalRecord(beamtime: Beamtime, config: Config): DesiredRecord {
  const proposalId = beamtime.proposalId ?? beamtime.label;
  const registration = (beamtime.extra.registration ?? {}) as Record<string, unknown>;
  const access = proposalAccess(proposalId, config.mapping, beamtime);
  const email = beamtime.researcher.email ?? config.mapping.defaultEmail;
  const { first, last } = splitName(beamtime.researcher.name);
  const payload: Record<string, unknown> = {
    proposalId,
    ownerGroup: access.ownerGroup,
    accessGroups: access.accessGroups,
    email,
    title: typeof registration.title === "string" ? registration.title : (beamtime.description ?? proposalId),
    pi_email: email,
    pi_lastname: last,
    ...(first ? { pi_firstname: first } : {}),
    ...(typeof registration.description === "string" ? { abstract: registration.description } : {}),
    metadata: {
      beamsync: { source: "registration", file: registration.file },
      registration: {
        members: registration.members,
        groups: registration.groups,
        trays: registration.trays,
        ...(registration.metadata && Object.keys(registration.metadata).length > 0 ? { metadata: registration.metadata } : {}),
      },
    },
  };
  if (beamtime.timeStart !== undefined) payload.startTime = isoFromSeconds(beamtime.timeStart);
  if (beamtime.timeStop !== undefined) payload.endTime = isoFromSeconds(beamtime.timeStop);
  if (beamtime.timeStart !== undefined && beamtime.timeStop !== undefined) {
    payload.MeasurementPeriodList = [{ instrument: config.mapping.instrument, start: isoFromSeconds(beamtime.timeStart), end: isoFromSeconds(beamtime.timeStop) }];
  }
  return makeRecord({ destination: "scicat", kind: "proposal", key: proposalId, beamtimeKey: beamtime.key, sessionIdentifier: beamtime.key, payload, dependsOn: [] });
}
