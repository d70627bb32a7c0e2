import type { IcatConfig } from "../../config/schema.js";
import type { InvestigationRef } from "../../mapping/icat/payloads.js";
import type { Logger } from "../../ops/logger.js";
import { DependencyError } from "../../sync/errors.js";
import type { PushContext } from "../contract.js";
import { jpqlId, jpqlString, type EntityRow, type IcatApi } from "./api.js";
import type { ServerPrecision } from "./diff.js";
import type { ReferenceResolver } from "./reference.js";
import type { TechniqueResolver } from "./techniques.js";

/** What the per-kind sync code shares, and the look-ups by unique key that every kind needs. */
export interface SyncDeps {
  api: IcatApi;
  reference: ReferenceResolver;
  techniques: TechniqueResolver;
  config: IcatConfig;
  logger: Logger;
  /** What the server keeps of dates, learned from its answers. */
  precision: ServerPrecision;
}

/** Timeout of an update that makes the server load `children` rows (a Dataset's datafiles and parameters). */
export function updateTimeoutMs(config: IcatConfig, children: number): number {
  return config.timeoutMs + children * UPDATE_MS_PER_CHILD;
}

/** Allowance per child row an update walks (EntityBaseBean.preparePersist loads and re-checks each one). */
const UPDATE_MS_PER_CHILD = 2;

/** Remote ids are ICAT ids as strings; anything else is not a usable hint. */
export function parseRemoteId(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const id = Number(value);
  return Number.isSafeInteger(id) ? id : undefined;
}

export function remoteUrl(entity: string, id: number): string {
  return `icat:${entity}/${id}`;
}

export async function findInvestigation(deps: SyncDeps, facilityId: number, ref: InvestigationRef): Promise<EntityRow | undefined> {
  const [row] = await deps.api.searchEntities(
    "Investigation",
    `SELECT i FROM Investigation i WHERE i.facility.id = ${jpqlId(facilityId)} AND i.name = ${jpqlString(ref.name)} AND i.visitId = ${jpqlString(ref.visitId)}`,
  );
  return row;
}

export async function findSample(deps: SyncDeps, investigationId: number, name: string): Promise<EntityRow | undefined> {
  const [row] = await deps.api.searchEntities("Sample", `SELECT s FROM Sample s WHERE s.investigation.id = ${jpqlId(investigationId)} AND s.name = ${jpqlString(name)}`);
  return row;
}

/**
 * The investigation's id: the synced dependency's remote id when hints are allowed, else a look-up by
 * (facility, name, visitId). A stale hint surfaces as NO_SUCH_OBJECT_FOUND and the push is retried without hints.
 */
export async function investigationIdFor(deps: SyncDeps, key: string, ref: InvestigationRef, ctx: PushContext, useHints: boolean): Promise<number | undefined> {
  const hint = useHints ? parseRemoteId(ctx.dependencyRemoteId("investigation", key)) : undefined;
  if (hint !== undefined) return hint;
  const { facilityId } = await deps.reference.get();
  return (await findInvestigation(deps, facilityId, ref))?.id;
}

export async function requireInvestigationId(deps: SyncDeps, key: string, ref: InvestigationRef, ctx: PushContext, useHints: boolean): Promise<number> {
  const id = await investigationIdFor(deps, key, ref, ctx, useHints);
  if (id === undefined) throw new DependencyError(`ICAT investigation ${ref.name}/${ref.visitId} (beamtime ${key}) is not in ICAT yet`);
  return id;
}
