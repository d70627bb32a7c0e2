import type { Beamtime, Sample } from "../../model/types.js";
import { qrPayload } from "./qr-payload.js";
import type { Registration } from "./types.js";

/**
 * A registration as the domain model: its proposal as a Beamtime (`registration:<proposal id>`, stating the
 * proposal id) and one Sample per specimen (`registration:<proposal id>/<specimen id>`), so the keys are the
 * registered ids scoped by proposal and the mappings treat them like any other source's records.
 */

export const REGISTRATION_SOURCE = "registration" as const;

export function registrationBeamtimeKey(proposalId: string): string {
  return `${REGISTRATION_SOURCE}:${proposalId}`;
}

export function registrationSampleKey(proposalId: string, specimenId: string): string {
  return `${REGISTRATION_SOURCE}:${proposalId}/${specimenId}`;
}

export interface RegisteredRecords {
  beamtime: Beamtime;
  samples: Sample[];
}

export function registrationRecords(registration: Registration, facility: string): RegisteredRecords {
  const p = registration.proposal;
  const beamtimeKey = registrationBeamtimeKey(p.id);
  const trays = new Map(registration.trays.map((t) => [t.id, t]));
  const beamtime: Beamtime = {
    key: beamtimeKey,
    source: REGISTRATION_SOURCE,
    label: p.visit,
    proposalId: p.id,
    researcher: { name: p.piName, email: p.piEmail },
    description: p.title ?? p.description,
    timeStart: p.start,
    timeStop: p.end,
    extra: {
      registration: {
        file: registration.file,
        title: p.title,
        description: p.description,
        members: p.members,
        groups: p.groups,
        metadata: p.metadata,
        trays: registration.trays.map((t) => ({
          id: t.id,
          ...(t.label !== undefined ? { label: t.label } : {}),
          qrLabel: qrPayload({ facility, proposalId: p.id, kind: "tray", id: t.id }),
          specimens: registration.specimens.filter((s) => s.tray === t.id).map((s) => s.id),
          ...(Object.keys(t.metadata).length > 0 ? { metadata: t.metadata } : {}),
        })),
      },
    },
  };
  const samples: Sample[] = registration.specimens.map((s) => {
    const tray = s.tray !== undefined ? trays.get(s.tray) : undefined;
    return {
      key: registrationSampleKey(p.id, s.id),
      beamtimeKey,
      name: s.name,
      tags: [],
      // Becomes the SciCat sampleCharacteristics: searchable by tray, slot and the label's text.
      extra: {
        specimenId: s.id,
        ...(tray ? { tray: tray.id, ...(tray.label !== undefined ? { trayLabel: tray.label } : {}) } : {}),
        ...(s.slot !== undefined ? { slot: s.slot } : {}),
        qrLabel: qrPayload({ facility, proposalId: p.id, kind: "specimen", id: s.id }),
        ...(Object.keys(s.metadata).length > 0 ? { metadata: s.metadata } : {}),
      },
    };
  });
  return { beamtime, samples };
}
