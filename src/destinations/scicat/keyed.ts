import { TransientError } from "../../sync/errors.js";
import type { PushResult, RemoteState } from "../contract.js";
import { documentList, expectAnswer, type AnswerCheck, instrumentDocument, keyedDocument, type Doc } from "./answers.js";
import type { ScicatClient } from "./client.js";
import { remoteFields } from "./compare.js";
import { classifyScicatError } from "./errors.js";
import { planUpdate, type MergeRules } from "./merge.js";

/**
 * Create-or-update for the v3 resources with a natural key: Proposal (proposalId), Sample (sampleId) and
 * Instrument (uniqueName). Always look up first: a duplicate sample is a 500, not a 409 (scicat-api.md §5.10).
 */
export interface KeyedResource {
  noun: string;
  /** The natural key, for messages. */
  key(payload: Doc): string;
  find(client: ScicatClient, payload: Doc): Promise<Doc | undefined>;
  /** Read by the catalog's id (a remote id from the state store), where that differs from the natural key. */
  findById?(client: ScicatClient, remoteId: string): Promise<Doc | undefined>;
  /** What a create or update answer must be: the record, naming its natural key `key`. */
  answer(key: string): AnswerCheck<Doc>;
  /** The natural key as a stored record names it. */
  keyOf(document: Doc): string;
  createPath: string;
  updatePath(remoteId: string): string;
  remoteId(document: Doc): string;
  /** Fields that identify the record and cannot be patched (PATCH with them → 400, samples/04). */
  immutable: readonly string[];
  /** Object fields merged key by key with the catalog's (curators add keys). */
  objectFields: readonly string[];
  /**
   * Fields an update empties when it leaves them out (proposals/04: a PATCH of the title leaves
   * `MeasurementPeriodList` as []): every PATCH carries them as they stand, cleaned to what a write accepts.
   */
  carried?: Record<string, (catalog: unknown, source: unknown) => unknown>;
}

/** A measurement period as a write accepts it: the server adds `id: null` to each one it stores. */
function cleanPeriods(catalog: unknown, source: unknown): unknown {
  if (!Array.isArray(catalog) || catalog.length === 0) return source;
  return catalog.map((p: Doc) => Object.fromEntries(["instrument", "start", "end", "comment"].filter((k) => p[k] !== undefined && p[k] !== null).map((k) => [k, p[k]])));
}

const enc = encodeURIComponent;

export const proposals: KeyedResource = {
  noun: "proposal",
  key: (p) => String(p.proposalId),
  find: (client, p) => client.getOne(`/v3/proposals/${enc(String(p.proposalId))}`, `reading proposal ${String(p.proposalId)}`, keyedDocument("proposalId", String(p.proposalId))),
  answer: (key) => keyedDocument("proposalId", key),
  keyOf: (d) => String(d.proposalId),
  createPath: "/v3/proposals",
  updatePath: (id) => `/v3/proposals/${enc(id)}`,
  remoteId: (d) => String(d.proposalId),
  immutable: ["proposalId"],
  objectFields: ["metadata"],
  carried: { MeasurementPeriodList: cleanPeriods },
};

export const samples: KeyedResource = {
  noun: "sample",
  key: (p) => String(p.sampleId),
  find: (client, p) => client.getOne(`/v3/samples/${enc(String(p.sampleId))}`, `reading sample ${String(p.sampleId)}`, keyedDocument("sampleId", String(p.sampleId))),
  findById: (client, id) => client.getOne(`/v3/samples/${enc(id)}`, `reading sample ${id}`, keyedDocument("sampleId", id)),
  answer: (key) => keyedDocument("sampleId", key),
  keyOf: (d) => String(d.sampleId),
  createPath: "/v3/samples",
  updatePath: (id) => `/v3/samples/${enc(id)}`,
  remoteId: (d) => String(d.sampleId),
  immutable: ["sampleId"],
  objectFields: ["sampleCharacteristics"],
};

export const instruments: KeyedResource = {
  noun: "instrument",
  key: (p) => String(p.uniqueName),
  async find(client, p) {
    // An `inq` array: v3 filters turn a plain string value that looks like a date into a Date (instruments/06).
    const filter = JSON.stringify({ where: { uniqueName: { inq: [String(p.uniqueName)] } } });
    const response = await client.call({ method: "GET", path: "/v3/instruments", query: { filter } }, `looking up instrument ${String(p.uniqueName)}`);
    const list = expectAnswer(response, documentList, "a JSON list of instruments");
    return list.find((d) => d.uniqueName === p.uniqueName);
  },
  answer: (key) => instrumentDocument(key),
  keyOf: (d) => String(d.uniqueName),
  createPath: "/v3/instruments",
  updatePath: (id) => `/v3/instruments/${enc(id)}`,
  remoteId: (d) => String(d.pid),
  immutable: ["uniqueName"],
  objectFields: ["customMetadata"],
};

export interface KeyedPush {
  payload: Doc;
  /** The catalog id the record had when last synced (see pushKeyed). */
  remoteIdHint?: string | undefined;
  lastWritten?: Doc | undefined;
  sourceWins: MergeRules["sourceWins"];
}

/**
 * `remoteIdHint`: the catalog id the record had when last synced. A sample whose key a state migration changed
 * keeps its catalog record (and sampleId) this way; the hint is checked, and without a record there the
 * payload's own id is looked up as usual.
 */
export async function pushKeyed(client: ScicatClient, resource: KeyedResource, push: KeyedPush): Promise<PushResult> {
  const { payload, remoteIdHint } = push;
  const what = `${resource.noun} ${resource.key(payload)}`;
  try {
    const hinted = resource.findById && remoteIdHint && remoteIdHint !== resource.key(payload) ? await resource.findById(client, remoteIdHint) : undefined;
    const existing = hinted ?? (await resource.find(client, payload));
    if (existing) return await updateKeyed(client, resource, existing, push);

    for (let attempt = 1; ; attempt++) {
      const response = await client.call({ method: "POST", path: resource.createPath, body: payload }, `creating ${what}`, [409, 500]);
      if (response.status < 300) {
        const created = expectAnswer(response, resource.answer(resource.key(payload)), `the created ${resource.noun} as JSON`);
        return { operation: "create", remoteId: resource.remoteId(created), httpStatus: response.status, written: payload };
      }
      // 409 means "exists"; 500 may mean the same (a duplicate sample, samples/02) or anything else: check once.
      const found = await resource.find(client, payload);
      if (found) return await updateKeyed(client, resource, found, push);
      if (response.status === 409) {
        throw new TransientError(`SciCat says ${what} exists but does not show it; will look again later`, { httpStatus: 409 });
      }
      if (attempt >= 2) {
        throw new TransientError(`SciCat answered HTTP 500 twice creating ${what} and does not hold it (a passing fault, or body too large or invalid metadata?); retried with backoff until sync.maxAttempts, then dead`, { httpStatus: 500 });
      }
    }
  } catch (err) {
    throw classifyScicatError(err, `pushing ${what}`);
  }
}

function rulesFor(resource: KeyedResource, sourceWins: MergeRules["sourceWins"]): MergeRules {
  return { immutable: resource.immutable, objectFields: resource.objectFields, setFields: ["keywords"], sourceWins };
}

async function updateKeyed(client: ScicatClient, resource: KeyedResource, existing: Doc, push: KeyedPush): Promise<PushResult> {
  const remoteId = resource.remoteId(existing);
  const plan = planUpdate(existing, push.payload, push.lastWritten, rulesFor(resource, push.sourceWins));
  const result = { remoteId, written: plan.written, conflicts: plan.conflicts };
  if (Object.keys(plan.changes).length === 0) return { operation: "skip", ...result };
  const body = { ...plan.changes };
  for (const [field, carry] of Object.entries(resource.carried ?? {})) {
    if (field in body) continue;
    const value = carry(existing[field], push.payload[field]);
    if (value !== undefined) body[field] = value;
  }
  const response = await client.call({ method: "PATCH", path: resource.updatePath(remoteId), body }, `updating ${resource.noun} ${resource.key(push.payload)}`);
  expectAnswer(response, resource.answer(resource.keyOf(existing)), `the updated ${resource.noun} as JSON`);
  return { operation: "update", httpStatus: response.status, ...result };
}

export async function lookupKeyed(client: ScicatClient, resource: KeyedResource, push: KeyedPush): Promise<RemoteState> {
  try {
    const existing = await resource.find(client, push.payload);
    if (!existing) return { exists: false };
    const plan = planUpdate(existing, push.payload, push.lastWritten, rulesFor(resource, push.sourceWins));
    return { exists: true, remoteId: resource.remoteId(existing), fields: remoteFields(existing, push.payload), changes: Object.keys(plan.changes), conflicts: plan.conflicts };
  } catch (err) {
    throw classifyScicatError(err, `looking up ${resource.noun} ${resource.key(push.payload)}`);
  }
}
