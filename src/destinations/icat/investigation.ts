import type { IcatInvestigationPayload } from "../../mapping/icat/payloads.js";
import { ConfigurationError } from "../../sync/errors.js";
import type { PushResult, RemoteState } from "../contract.js";
import { jpqlId, jpqlString } from "./api.js";
import { findInvestigation, remoteUrl, updateTimeoutMs, type SyncDeps } from "./context.js";
import { changedFields } from "./diff.js";
import { hiddenByReadRules, isIcatCode } from "./errors.js";

/**
 * Investigations are matched by (facility, name, visitId). Usually the facility's user office owns them:
 * beamsync then only finds them. With createInvestigations it creates them (linked to the instrument) and
 * keeps their title, dates and groups up to date: the proposal's owner group as an InvestigationGroup with
 * role "owner", each reader group with role "reader" (what ICAT's authorization rules grant access by), the
 * same groups as the proposal's SciCat records. A registered proposal's members who are ICAT Users are linked as
 * InvestigationUsers with role "member".
 */

function ownedFields(payload: IcatInvestigationPayload): Record<string, unknown> {
  return { title: payload.title, summary: payload.summary, startDate: payload.startDate, endDate: payload.endDate };
}

export async function pushInvestigation(deps: SyncDeps, payload: IcatInvestigationPayload): Promise<PushResult> {
  const ref = await deps.reference.get();
  let existing = await findInvestigation(deps, ref.facilityId, payload);
  if (!existing) {
    if (!deps.config.createInvestigations || ref.investigationTypeId === undefined) {
      // Not retried on its own: someone has to create it (or fix how beamtimes map to name/visitId), then `beamsync retry`.
      throw new ConfigurationError(
        `ICAT investigation name '${payload.name}', visitId '${payload.visitId}' not found in facility '${deps.config.facility}' and ` +
          "destinations.icat.createInvestigations is false; create it in ICAT (user office), or fix mapping.proposalIdTemplate / the beamtime label " +
          "if the name or visitId is wrong, or set destinations.icat.createInvestigations: true",
      );
    }
    try {
      const [id] = await deps.api.write([
        {
          Investigation: {
            facility: { id: ref.facilityId },
            type: { id: ref.investigationTypeId },
            name: payload.name,
            visitId: payload.visitId,
            ...ownedFields(payload),
            ...(ref.instrumentId !== undefined ? { investigationInstruments: [{ instrument: { id: ref.instrumentId } }] } : {}),
          },
        },
      ]);
      if (id === undefined) throw new Error("ICAT created no investigation");
      deps.logger.info("ICAT investigation created", { name: payload.name, visitId: payload.visitId, id });
      await syncGroups(deps, id, payload.groups);
      await syncMembers(deps, id, payload);
      return { operation: "create", remoteId: String(id), remoteUrl: remoteUrl("Investigation", id) };
    } catch (err) {
      if (!isIcatCode(err, "OBJECT_ALREADY_EXISTS")) throw err;
      existing = await findInvestigation(deps, ref.facilityId, payload);
      if (!existing) throw err.serverMessage.startsWith("Investigation exists") ? hiddenByReadRules(err, "Investigation", `${payload.name}/${payload.visitId}`) : err;
    }
  }

  const id = existing.id;
  const result = (operation: PushResult["operation"]): PushResult => ({ operation, remoteId: String(id), remoteUrl: remoteUrl("Investigation", id) });
  if (!deps.config.createInvestigations) return result("skip");

  let writes = 0;
  const changes = changedFields(existing, ownedFields(payload), deps.precision, ["startDate", "endDate"]);
  if (Object.keys(changes).length > 0) {
    await deps.api.write([{ Investigation: { id, ...changes } }], { timeoutMs: updateTimeoutMs(deps.config, await treeSize(deps, id)) });
    writes++;
  }
  if (ref.instrumentId !== undefined && (await linkInstrument(deps, id, ref.instrumentId))) writes++;
  if (await syncGroups(deps, id, payload.groups)) writes++;
  if (await syncMembers(deps, id, payload)) writes++;
  return result(writes > 0 ? "update" : "skip");
}

/** The roles beamsync gives; InvestigationGroups with other roles are someone else's and left alone. */
const GROUP_ROLES = { owner: "owner", reader: "reader" } as const;

/**
 * Link the investigation to exactly the proposal's groups (Groupings made when missing), unlinking those
 * beamsync gave before that the proposal no longer names. True when anything was written.
 */
async function syncGroups(deps: SyncDeps, investigationId: number, groups: IcatInvestigationPayload["groups"]): Promise<boolean> {
  const wanted = new Map<string, { name: string; role: string }>();
  const want = (name: string, role: string) => wanted.set(`${role}\u0000${name}`, { name, role });
  want(groups.owner, GROUP_ROLES.owner);
  for (const reader of groups.readers) if (reader !== groups.owner) want(reader, GROUP_ROLES.reader);

  const rows = (await deps.api.search(
    `SELECT ig.id, ig.role, ig.grouping.name FROM InvestigationGroup ig WHERE ig.investigation.id = ${jpqlId(investigationId)}`,
  )) as [number, string, string][];
  const stale: { InvestigationGroup: { id: number } }[] = [];
  for (const [id, role, name] of rows) {
    const key = `${role}\u0000${name}`;
    if (wanted.has(key)) wanted.delete(key);
    else if (role === GROUP_ROLES.owner || role === GROUP_ROLES.reader) stale.push({ InvestigationGroup: { id } });
  }
  if (wanted.size === 0 && stale.length === 0) return false;

  const groupingIds = await groupingsNamed(deps, [...new Set([...wanted.values()].map((w) => w.name))]);
  if (wanted.size > 0) {
    await deps.api.write([...wanted.values()].map((w) => ({ InvestigationGroup: { investigation: { id: investigationId }, grouping: { id: groupingIds.get(w.name) }, role: w.role } })));
  }
  await deps.api.delete(stale);
  return true;
}

/** The role of a registered proposal's members; InvestigationUsers with other roles (the user office's) are left alone. */
const MEMBER_ROLE = "member";

/**
 * Link the investigation to exactly the registered members that ICAT knows as Users (by user name, else by
 * e-mail), as InvestigationUsers with role "member"; unlink members the registration no longer names. Users
 * are the authenticator's and the user office's: a member without one is reported in the log, never created.
 * Nothing to do for an investigation that is not registered (no `members`). True when anything was written.
 */
async function syncMembers(deps: SyncDeps, investigationId: number, payload: IcatInvestigationPayload): Promise<boolean> {
  if (payload.members === undefined) return false;
  const users = await usersOf(deps, payload.members);
  const unknown = payload.members.filter((m) => !users.has(m));
  if (unknown.length > 0) {
    deps.logger.warn("ICAT has no User for some registered members; they are not linked to the investigation", { investigation: `${payload.name}/${payload.visitId}`, members: unknown });
  }
  const wanted = new Set(users.values());
  const rows = (await deps.api.search(
    `SELECT iu.id, iu.user.id FROM InvestigationUser iu WHERE iu.investigation.id = ${jpqlId(investigationId)} AND iu.role = ${jpqlString(MEMBER_ROLE)}`,
  )) as [number, number][];
  const stale: { InvestigationUser: { id: number } }[] = [];
  for (const [id, userId] of rows) {
    if (wanted.has(userId)) wanted.delete(userId);
    else stale.push({ InvestigationUser: { id } });
  }
  if (wanted.size === 0 && stale.length === 0) return false;
  if (wanted.size > 0) await deps.api.write([...wanted].map((userId) => ({ InvestigationUser: { investigation: { id: investigationId }, user: { id: userId }, role: MEMBER_ROLE } })));
  await deps.api.delete(stale);
  return true;
}

/** Member → ICAT User id: a user of that name first, else one with that e-mail (only when exactly one has it). */
async function usersOf(deps: SyncDeps, members: string[]): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  // IN lists stay short, so the GET URI does too.
  const search = async (field: "name" | "email", values: string[]) => {
    const rows: [number, string][] = [];
    for (let i = 0; i < values.length; i += 20) {
      const list = values.slice(i, i + 20).map(jpqlString).join(", ");
      rows.push(...((await deps.api.search(`SELECT u.id, u.${field} FROM User u WHERE u.${field} IN (${list})`)) as [number, string][]));
    }
    return rows;
  };
  for (const [id, name] of await search("name", members)) found.set(name, id);
  const rest = members.filter((m) => !found.has(m) && m.includes("@"));
  const byEmail = await search("email", rest);
  for (const email of rest) {
    const matches = byEmail.filter(([, e]) => e === email);
    if (matches.length === 1) found.set(email, matches[0]![0]);
  }
  return found;
}

/** Grouping ids by name, creating the ones ICAT does not have yet (an empty group grants nobody anything). */
async function groupingsNamed(deps: SyncDeps, names: string[], firstTry = true): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  if (names.length === 0) return ids;
  const found = (await deps.api.search(`SELECT g.id, g.name FROM Grouping g WHERE g.name IN (${names.map(jpqlString).join(", ")})`)) as [number, string][];
  for (const [id, name] of found) ids.set(name, id);
  const missing = names.filter((n) => !ids.has(n));
  if (missing.length > 0) {
    try {
      const created = await deps.api.write(missing.map((name) => ({ Grouping: { name } })));
      missing.forEach((name, i) => ids.set(name, created[i]!));
    } catch (err) {
      // Another writer made one of them first: read them again, once (a Grouping READ rules hide stays an error).
      if (!firstTry || !isIcatCode(err, "OBJECT_ALREADY_EXISTS")) throw err;
      return groupingsNamed(deps, names, false);
    }
  }
  return ids;
}

/** Rows an update of the investigation makes the server walk, mostly its datafiles (the rest is small beside them). */
async function treeSize(deps: SyncDeps, investigationId: number): Promise<number> {
  const [count] = await deps.api.search(`SELECT COUNT(df) FROM Datafile df WHERE df.dataset.investigation.id = ${jpqlId(investigationId)}`);
  return typeof count === "number" ? count : 0;
}

/** InvestigationInstrument by (investigation, instrument); true when it had to be created. */
async function linkInstrument(deps: SyncDeps, investigationId: number, instrumentId: number): Promise<boolean> {
  const query = `SELECT ii.id, ii.instrument.id FROM InvestigationInstrument ii WHERE ii.investigation.id = ${jpqlId(investigationId)} AND ii.instrument.id = ${jpqlId(instrumentId)}`;
  if ((await deps.api.search(query)).length > 0) return false;
  try {
    await deps.api.write([{ InvestigationInstrument: { investigation: { id: investigationId }, instrument: { id: instrumentId } } }]);
    return true;
  } catch (err) {
    if (isIcatCode(err, "OBJECT_ALREADY_EXISTS")) return false;
    throw err;
  }
}

export async function lookupInvestigation(deps: SyncDeps, payload: IcatInvestigationPayload): Promise<RemoteState> {
  const ref = await deps.reference.get();
  const row = await findInvestigation(deps, ref.facilityId, payload);
  if (!row) return { exists: false };
  const fields = Object.fromEntries(["name", "visitId", "title", "summary", "startDate", "endDate"].map((f) => [f, row[f]]).filter(([, v]) => v !== undefined));
  return { exists: true, remoteId: String(row.id), fields };
}
