import type { IcatDatasetPayload } from "../../mapping/icat/payloads.js";
import { DependencyError } from "../../sync/errors.js";
import type { PushContext, PushResult, RemoteState } from "../contract.js";
import { jpqlId, jpqlString, type EntityRow } from "./api.js";
import { findSample, investigationIdFor, parseRemoteId, remoteUrl, requireInvestigationId, updateTimeoutMs, type SyncDeps } from "./context.js";
import { datafileFields, listDatafiles, syncDatafiles } from "./datafiles.js";
import { changedFields } from "./diff.js";
import { hiddenByReadRules, isIcatCode } from "./errors.js";
import { DATASET_PARAMETERS, listParameters, nestedParameters, resolveParameters, syncParameters, type ResolvedParameter } from "./parameters.js";
import type { ReferenceData } from "./reference.js";

/**
 * Datasets by (investigation, name = run uid), icat-api.md §9.4: absent → one request with the parameters and
 * the first chunk of datafiles; present → update changed attributes, add or fix parameters and datafiles;
 * `complete: true` always last, so a complete dataset in ICAT has all its files.
 */

async function findDataset(deps: SyncDeps, investigationId: number, name: string): Promise<EntityRow | undefined> {
  const [row] = await deps.api.searchEntities(
    "Dataset",
    `SELECT ds FROM Dataset ds WHERE ds.investigation.id = ${jpqlId(investigationId)} AND ds.name = ${jpqlString(name)} INCLUDE ds.sample`,
  );
  return row;
}

async function sampleIdFor(deps: SyncDeps, payload: IcatDatasetPayload, investigationId: number, ctx: PushContext, useHints: boolean): Promise<number | undefined> {
  if (payload.sampleName === undefined) return undefined;
  const hint = useHints && payload.sampleKey ? parseRemoteId(ctx.dependencyRemoteId("sample", payload.sampleKey)) : undefined;
  if (hint !== undefined) return hint;
  const row = await findSample(deps, investigationId, payload.sampleName);
  if (!row) throw new DependencyError(`ICAT sample '${payload.sampleName}' of investigation ${payload.investigation.name}/${payload.investigation.visitId} is not in ICAT yet`);
  return row.id;
}

export async function pushDataset(deps: SyncDeps, payload: IcatDatasetPayload, ctx: PushContext, useHints: boolean): Promise<PushResult> {
  const ref = await deps.reference.get();
  const parameters = resolveParameters(deps, ref.parameterTypes, payload.parameters, DATASET_PARAMETERS, payload.name);
  const techniqueIds = await deps.techniques.resolve(payload.techniques ?? [], payload.name);
  const investigationId = await requireInvestigationId(deps, payload.investigationKey, payload.investigation, ctx, useHints);
  const sampleId = await sampleIdFor(deps, payload, investigationId, ctx, useHints);

  let existing = await findDataset(deps, investigationId, payload.name);
  if (!existing) {
    try {
      return await createDataset(deps, ref, payload, parameters, techniqueIds, investigationId, sampleId);
    } catch (err) {
      // A concurrent writer, or our own earlier request whose answer was lost: it is there, so compare instead.
      if (!isIcatCode(err, "OBJECT_ALREADY_EXISTS")) throw err;
      existing = await findDataset(deps, investigationId, payload.name);
      if (!existing) throw err.serverMessage.startsWith("Dataset exists") ? hiddenByReadRules(err, "Dataset", `${payload.name}`) : err;
    }
  }
  return updateDataset(deps, existing, payload, parameters, techniqueIds, sampleId);
}

async function createDataset(
  deps: SyncDeps,
  ref: ReferenceData,
  payload: IcatDatasetPayload,
  parameters: ResolvedParameter[],
  techniqueIds: number[],
  investigationId: number,
  sampleId: number | undefined,
): Promise<PushResult> {
  const chunk = deps.config.datafileChunk;
  const first = payload.datafiles.slice(0, chunk);
  const allInFirst = payload.datafiles.length <= chunk;
  const completeNow = payload.complete && allInFirst;
  const [id] = await deps.api.write([
    {
      Dataset: {
        investigation: { id: investigationId },
        type: { id: ref.datasetTypeId },
        ...(sampleId !== undefined ? { sample: { id: sampleId } } : {}),
        name: payload.name,
        description: payload.description,
        location: payload.location,
        startDate: payload.startDate,
        ...(payload.endDate !== undefined ? { endDate: payload.endDate } : {}),
        complete: completeNow,
        parameters: nestedParameters(parameters),
        datafiles: first.map(datafileFields),
        // Only when there are any: servers before 5.0 know no datasetTechniques.
        ...(techniqueIds.length > 0 ? { datasetTechniques: techniqueIds.map((id) => ({ technique: { id } })) } : {}),
      },
    },
  ]);
  if (id === undefined) throw new Error("ICAT created no dataset");
  deps.logger.info("ICAT dataset created", { name: payload.name, investigation: `${payload.investigation.name}/${payload.investigation.visitId}`, id });
  if (!allInFirst) await syncDatafiles(deps, id, payload.datafiles);
  if (payload.complete && !completeNow) await deps.api.write([{ Dataset: { id, complete: true } }], { timeoutMs: updateTimeoutMs(deps.config, payload.datafiles.length + parameters.length) });
  return { operation: "create", remoteId: String(id), remoteUrl: remoteUrl("Dataset", id) };
}

async function updateDataset(
  deps: SyncDeps,
  existing: EntityRow,
  payload: IcatDatasetPayload,
  parameters: ResolvedParameter[],
  techniqueIds: number[],
  sampleId: number | undefined,
): Promise<PushResult> {
  const id = existing.id;
  let writes = 0;
  const changes = changedFields(
    existing,
    { description: payload.description, location: payload.location, startDate: payload.startDate, endDate: payload.endDate },
    deps.precision,
    ["startDate", "endDate"],
  );
  if (sampleId !== undefined && !(await hasSample(deps, existing, sampleId))) changes.sample = { id: sampleId };
  writes += await syncParameters(deps, DATASET_PARAMETERS, id, parameters);
  writes += await syncTechniques(deps, id, techniqueIds);
  writes += await syncDatafiles(deps, id, payload.datafiles);
  // Never back from complete: once ICAT has it complete, a later "incomplete" view does not undo that.
  // Set last, with any other change in the same request: each Dataset update makes the server walk all its children.
  if (payload.complete && existing.complete !== true) changes.complete = true;
  if (Object.keys(changes).length > 0) {
    await deps.api.write([{ Dataset: { id, ...changes } }], { timeoutMs: updateTimeoutMs(deps.config, payload.datafiles.length + parameters.length) });
    writes++;
  }
  return { operation: writes > 0 ? "update" : "skip", remoteId: String(id), remoteUrl: remoteUrl("Dataset", id) };
}

/**
 * Is the dataset's sample this one? The INCLUDEd sample is left out when READ rules hide it from the ingest
 * user, so its absence proves nothing: ask with a condition on the dataset instead (rules filter only the rows
 * a search returns).
 */
async function hasSample(deps: SyncDeps, existing: EntityRow, sampleId: number): Promise<boolean> {
  const included = (existing.sample as { id?: unknown } | undefined)?.id;
  if (included !== undefined) return included === sampleId;
  const rows = await deps.api.search(`SELECT ds.id FROM Dataset ds WHERE ds.id = ${jpqlId(existing.id)} AND ds.sample.id = ${jpqlId(sampleId)}`);
  return rows.length > 0;
}

/**
 * Links the dataset to the techniques it lacks. Links are only added: one made by hand in ICAT stays, and so does
 * one a changed rule no longer names (unlink it in ICAT), as with parameters.
 */
async function syncTechniques(deps: SyncDeps, datasetId: number, wanted: number[]): Promise<number> {
  if (wanted.length === 0) return 0;
  for (let round = 1; ; round++) {
    const rows = await deps.api.search(`SELECT dt.technique.id FROM DatasetTechnique dt WHERE dt.dataset.id = ${jpqlId(datasetId)}`);
    const linked = new Set(rows.map(Number));
    const missing = wanted.filter((id) => !linked.has(id));
    if (missing.length === 0) return 0;
    try {
      await deps.api.write(missing.map((id) => ({ DatasetTechnique: { dataset: { id: datasetId }, technique: { id } } })));
      return 1;
    } catch (err) {
      // Another writer linked one of them first (and the request was rolled back whole): look again.
      if (!isIcatCode(err, "OBJECT_ALREADY_EXISTS") || round >= 3) throw err;
    }
  }
}

export async function lookupDataset(deps: SyncDeps, payload: IcatDatasetPayload, ctx: PushContext): Promise<RemoteState> {
  const investigationId = await investigationIdFor(deps, payload.investigationKey, payload.investigation, ctx, false);
  if (investigationId === undefined) return { exists: false };
  const row = await findDataset(deps, investigationId, payload.name);
  if (!row) return { exists: false };
  const parameters = await listParameters(deps, DATASET_PARAMETERS, row.id);
  const files = await listDatafiles(deps, row.id);
  const fields: Record<string, unknown> = {};
  for (const f of ["name", "description", "location", "complete", "startDate", "endDate"]) if (row[f] !== undefined) fields[f] = row[f];
  const sample = row.sample as { name?: unknown } | undefined;
  if (sample?.name !== undefined) fields.sampleName = sample.name;
  fields.parameters = parameters;
  fields.datafiles = [...files.keys()].sort();
  return { exists: true, remoteId: String(row.id), fields };
}
