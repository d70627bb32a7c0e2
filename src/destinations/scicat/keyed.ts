import { TransientError } from "../../sync/errors.js";
import type { PushResult, RemoteState } from "../contract.js";
import type { ScicatClient } from "./client.js";
import { differingFields, remoteFields } from "./compare.js";
import { classifyScicatError } from "./errors.js";

/**
 * Create-or-update for the v3 resources with a natural key: Proposal (proposalId), Sample (sampleId) and
 * Instrument (uniqueName). Always look up first: a duplicate sample is a 500, not a 409 (scicat-api.md §5.10).
 */
export interface KeyedResource {
  noun: string;
  /** The natural key, for messages. */
  key(payload: Record<string, unknown>): string;
  find(client: ScicatClient, payload: Record<string, unknown>): Promise<Record<string, unknown> | undefined>;
  /** Read by the catalog's id (a remote id from the state store), where that differs from the natural key. */
  findById?(client: ScicatClient, remoteId: string): Promise<Record<string, unknown> | undefined>;
  createPath: string;
  updatePath(remoteId: string): string;
  remoteId(document: Record<string, unknown>): string;
  /** Fields that identify the record and cannot be patched. */
  immutable: readonly string[];
}

const enc = encodeURIComponent;

export const proposals: KeyedResource = {
  noun: "proposal",
  key: (p) => String(p.proposalId),
  find: (client, p) => client.getOne(`/v3/proposals/${enc(String(p.proposalId))}`, `reading proposal ${String(p.proposalId)}`),
  createPath: "/v3/proposals",
  updatePath: (id) => `/v3/proposals/${enc(id)}`,
  remoteId: (d) => String(d.proposalId ?? d._id),
  immutable: ["proposalId"],
};

export const samples: KeyedResource = {
  noun: "sample",
  key: (p) => String(p.sampleId),
  find: (client, p) => client.getOne(`/v3/samples/${enc(String(p.sampleId))}`, `reading sample ${String(p.sampleId)}`),
  findById: (client, id) => client.getOne(`/v3/samples/${enc(id)}`, `reading sample ${id}`),
  createPath: "/v3/samples",
  updatePath: (id) => `/v3/samples/${enc(id)}`,
  remoteId: (d) => String(d.sampleId ?? d._id),
  immutable: ["sampleId"],
};

export const instruments: KeyedResource = {
  noun: "instrument",
  key: (p) => String(p.uniqueName),
  async find(client, p) {
    // An `inq` array: v3 filters turn a plain string value that looks like a date into a Date (scicat-api.md §7).
    const filter = JSON.stringify({ where: { uniqueName: { inq: [String(p.uniqueName)] } } });
    const response = await client.call({ method: "GET", path: "/v3/instruments", query: { filter } }, `looking up instrument ${String(p.uniqueName)}`);
    const list = Array.isArray(response.data) ? (response.data as Record<string, unknown>[]) : [];
    return list.find((d) => d.uniqueName === p.uniqueName);
  },
  createPath: "/v3/instruments",
  updatePath: (id) => `/v3/instruments/${enc(id)}`,
  remoteId: (d) => String(d.pid ?? d._id),
  immutable: ["uniqueName"],
};

/**
 * `remoteIdHint`: the catalog id the record had when last synced. A sample whose key a state migration changed
 * keeps its catalog record (and sampleId) this way; the hint is checked, and without a record there the
 * payload's own id is looked up as usual.
 */
export async function pushKeyed(client: ScicatClient, resource: KeyedResource, payload: Record<string, unknown>, remoteIdHint?: string): Promise<PushResult> {
  const what = `${resource.noun} ${resource.key(payload)}`;
  try {
    const hinted = resource.findById && remoteIdHint && remoteIdHint !== resource.key(payload) ? await resource.findById(client, remoteIdHint) : undefined;
    const existing = hinted ?? (await resource.find(client, payload));
    if (existing) return await updateKeyed(client, resource, existing, payload);

    for (let attempt = 1; ; attempt++) {
      const response = await client.call({ method: "POST", path: resource.createPath, body: payload }, `creating ${what}`, [409, 500]);
      if (response.status < 300) {
        return { operation: "create", remoteId: resource.remoteId(response.data as Record<string, unknown>), httpStatus: response.status };
      }
      // 409 means "exists"; 500 may mean the same (a duplicate sample) or anything else: check once.
      const found = await resource.find(client, payload);
      if (found) return await updateKeyed(client, resource, found, payload);
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

async function updateKeyed(client: ScicatClient, resource: KeyedResource, existing: Record<string, unknown>, payload: Record<string, unknown>): Promise<PushResult> {
  const remoteId = resource.remoteId(existing);
  const changes = differingFields(existing, payload, resource.immutable);
  if (Object.keys(changes).length === 0) return { operation: "skip", remoteId };
  const response = await client.call(
    { method: "PATCH", path: resource.updatePath(remoteId), body: changes },
    `updating ${resource.noun} ${resource.key(payload)}`,
  );
  return { operation: "update", remoteId, httpStatus: response.status };
}

export async function lookupKeyed(client: ScicatClient, resource: KeyedResource, payload: Record<string, unknown>): Promise<RemoteState> {
  try {
    const existing = await resource.find(client, payload);
    if (!existing) return { exists: false };
    return { exists: true, remoteId: resource.remoteId(existing), fields: remoteFields(existing, payload) };
  } catch (err) {
    throw classifyScicatError(err, `looking up ${resource.noun} ${resource.key(payload)}`);
  }
}

