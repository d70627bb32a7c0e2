import type { GroupMapEntry } from "../config/schema.js";
import type { Beamtime } from "../model/types.js";
import { UsageError } from "../sync/errors.js";
import type { MappingConfig } from "./common.js";
import { fillTemplate, slug } from "./common.js";

/**
 * Who owns and who reads a record: a function of its proposal alone, so every record of a proposal (Proposal,
 * Samples, Datasets, OrigDatablocks, the ICAT investigation) carries the same groups, and a record of one
 * proposal never carries another's. `mapping.ownerGroup` and each `mapping.accessGroups` entry are templates;
 * the group map overrides them per proposal.
 */

/** The placeholders a group template may use, with what each means (README and the example config list them). */
export const GROUP_PLACEHOLDERS = {
  proposalId: "the proposal id as the catalog shows it, e.g. ALS-12345",
  proposalSlug: "the proposal id in lower case with every run of characters other than letters, digits, '.', '_' and '-' turned into '-', e.g. als-12345",
  beamline: "mapping.instrument, e.g. 11.0.1.2",
} as const;

export type GroupPlaceholder = keyof typeof GROUP_PLACEHOLDERS;

export interface Access {
  ownerGroup: string;
  accessGroups: string[];
}

const PLACEHOLDER = /\{(\w+)\}/g;
const PROPOSAL_PLACEHOLDERS: readonly string[] = ["proposalId", "proposalSlug"];

function placeholdersOf(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
}

function valuesFor(proposalId: string, mapping: MappingConfig): Record<GroupPlaceholder, string> {
  return { proposalId, proposalSlug: slug(proposalId), beamline: mapping.instrument };
}

/** Fill one template for a proposal; an empty result is a configuration error naming the entry. */
function fillGroup(template: string, entry: string, proposalId: string, mapping: MappingConfig): string {
  const group = fillTemplate(template, valuesFor(proposalId, mapping)).trim();
  if (group === "") {
    throw new UsageError(`${entry}: the template "${template}" gives an empty group for proposal "${proposalId}"; use a placeholder that is never empty, such as {proposalId}`);
  }
  return group;
}

function unique(groups: string[]): string[] {
  return [...new Set(groups)];
}

/**
 * The groups of a proposal's records. Without a proposal (a reference sample, a bluesky run that names no
 * proposal) the owner is `mapping.facilityGroup` and the readers are the access groups that name no proposal:
 * such a record must never be readable by a proposal's group.
 */
export function accessFor(proposalId: string | undefined, mapping: MappingConfig): Access {
  if (proposalId === undefined || proposalId === "") {
    const readers = mapping.accessGroups.filter((t) => !placeholdersOf(t).some((p) => PROPOSAL_PLACEHOLDERS.includes(p)));
    return {
      ownerGroup: mapping.facilityGroup,
      accessGroups: unique(readers.map((t, i) => fillGroup(t, `mapping.accessGroups[${i}]`, "", mapping))),
    };
  }
  const override: GroupMapEntry | undefined = Object.hasOwn(mapping.groupMap, proposalId) ? mapping.groupMap[proposalId] : undefined;
  const ownerGroup = override?.ownerGroup ?? fillGroup(mapping.ownerGroup, "mapping.ownerGroup", proposalId, mapping);
  const accessGroups = override?.accessGroups ?? mapping.accessGroups.map((t, i) => fillGroup(t, `mapping.accessGroups[${i}]`, proposalId, mapping));
  return { ownerGroup, accessGroups: unique(accessGroups) };
}

/**
 * What a registration file adds to its proposal's access (issue 14): its `groups` read every record of the
 * proposal, and its `members` are the people to share it with. Taken from the registered beamtime only when
 * it is that proposal's own registration, so one proposal's file never opens another's records.
 */
export interface RegisteredAccess {
  groups: string[];
  /** E-mail addresses or user names, as the file lists them. */
  members: string[];
}

const NO_REGISTERED_ACCESS: RegisteredAccess = { groups: [], members: [] };

/** Is `beamtime` the registration of `proposalId` (the only beamtime whose groups and members its records take)? */
export function isRegistrationOf(beamtime: Beamtime | undefined, proposalId: string | undefined): beamtime is Beamtime {
  return beamtime !== undefined && beamtime.source === "registration" && proposalId !== undefined && beamtime.proposalId === proposalId;
}

export function registeredAccess(beamtime: Beamtime | undefined, proposalId: string | undefined): RegisteredAccess {
  if (!isRegistrationOf(beamtime, proposalId)) return NO_REGISTERED_ACCESS;
  const registration = (beamtime.extra.registration ?? {}) as { groups?: unknown; members?: unknown };
  const texts = (list: unknown) => unique((Array.isArray(list) ? list : []).filter((v): v is string => typeof v === "string").map((v) => v.trim()).filter((v) => v !== ""));
  return { groups: texts(registration.groups), members: texts(registration.members) };
}

/**
 * The groups of a proposal's records, with its registered groups as readers beside the configured ones.
 * `beamtime` is the record's beamtime; only a registration of the same proposal adds anything.
 */
export function proposalAccess(proposalId: string | undefined, mapping: MappingConfig, beamtime: Beamtime | undefined): Access {
  const access = accessFor(proposalId, mapping);
  const registered = registeredAccess(beamtime, proposalId).groups.filter((g) => g !== access.ownerGroup);
  return registered.length === 0 ? access : { ownerGroup: access.ownerGroup, accessGroups: unique([...access.accessGroups, ...registered]) };
}

/** The e-mail addresses among a proposal's registered members: SciCat shares a dataset with people by e-mail (`sharedWith`). */
export function registeredMemberEmails(beamtime: Beamtime | undefined, proposalId: string | undefined): string[] {
  return registeredAccess(beamtime, proposalId).members.filter((m) => EMAIL.test(m));
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** The principal investigator the group map names for a proposal, if any. */
export function groupMapPi(proposalId: string | undefined, mapping: MappingConfig): { name?: string; email?: string } {
  if (!proposalId || !Object.hasOwn(mapping.groupMap, proposalId)) return {};
  const entry = mapping.groupMap[proposalId];
  return { ...(entry?.piName ? { name: entry.piName } : {}), ...(entry?.piEmail ? { email: entry.piEmail } : {}) };
}

/**
 * Problems with the group templates, found before anything is read: unknown placeholders, and templates that
 * give an empty group for any proposal. Each message names the entry and says how to fix it.
 */
export function groupTemplateProblems(mapping: MappingConfig): string[] {
  const problems: string[] = [];
  const known = Object.keys(GROUP_PLACEHOLDERS);
  const check = (template: string, entry: string) => {
    const unknown = placeholdersOf(template).filter((p) => !known.includes(p));
    if (unknown.length > 0) {
      problems.push(`${entry}: unknown placeholder(s) ${unknown.map((p) => `{${p}}`).join(", ")} in "${template}"; use ${known.map((p) => `{${p}}`).join(", ")}`);
      return;
    }
    // "x" stands for any proposal id: a template empty for it is empty for every proposal.
    if (fillTemplate(template, valuesFor("x", mapping)).trim() === "") {
      problems.push(`${entry}: the template "${template}" gives an empty group; name a group, e.g. "p{proposalId}" or "beamline-staff"`);
    }
  };
  check(mapping.ownerGroup, "mapping.ownerGroup");
  mapping.accessGroups.forEach((t, i) => check(t, `mapping.accessGroups[${i}]`));
  return problems;
}
