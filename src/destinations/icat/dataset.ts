import type { IcatDatasetPayload } from "../../mapping/icat/payloads.js";
import { ConfigurationError, DependencyError } from "../../sync/errors.js";
import type { PushContext, PushResult, RemoteState } from "../contract.js";
import { jpqlId, jpqlString, type EntityRow } from "./api.js";
import { findSample, investigationIdFor, parseRemoteId, remoteUrl, requireInvestigationId, updateTimeoutMs, type SyncDeps } from "./context.js";
import { datafileFields, listDatafiles, syncDatafiles } from "./datafiles.js";
import { changedFields, present, sameNumber } from "./diff.js";
import { hiddenByReadRules, isIcatCode } from "./errors.js";
import { parameterTypeKey, type ReferenceData } from "./reference.js";
import { DOUBLE_LIMIT } from "./schema.js";

/**
 * Datasets by (investigation, name = run uid), icat-api.md §9.4: absent → one request with the parameters and
 * the first chunk of datafiles; present → update changed attributes, add or fix parameters and datafiles;
 * `complete: true` always last, so a complete dataset in ICAT has all its files.
 */

interface ResolvedParameter {
  typeId: number;
  stringValue?: string;
  numericValue?: number;
}

/** Payload parameters → ParameterType ids and the value field the type takes; one per type. */
function resolveParameters(deps: SyncDeps, ref: ReferenceData, payload: IcatDatasetPayload): ResolvedParameter[] {
  const out = new Map<number, ResolvedParameter>();
  for (const p of payload.parameters) {
    const type = ref.parameterTypes.get(parameterTypeKey(p.type, p.units));
    if (!type && p.optional) continue; // a quantity ICAT has no ParameterType for
    if (!type) {
      throw new ConfigurationError(
        `ParameterType '${p.type}' (units '${p.units}') for run field ${p.field} is not configured in destinations.icat.parameters or not resolved in ICAT`,
      );
    }
    if (out.has(type.id)) continue;
    const raw = p.numericValue ?? p.stringValue;
    let parameter: ResolvedParameter;
    if (type.valueType === "NUMERIC") {
      const value = typeof raw === "number" ? raw : Number(raw);
      if (raw === undefined || raw === "" || !Number.isFinite(value)) {
        deps.logger.warn("ICAT parameter skipped: value is not numeric", { dataset: payload.name, type: type.name, value: raw });
        continue;
      }
      if (Math.abs(value) >= DOUBLE_LIMIT) {
        // Oracle's NUMBER(38,19) cannot hold it, and the server would answer with a misleading OBJECT_ALREADY_EXISTS.
        deps.logger.warn("ICAT parameter skipped: beyond ±1e19, more than ICAT's numeric column holds", { dataset: payload.name, type: type.name, value });
        continue;
      }
      const { minimumNumericValue: min, maximumNumericValue: max } = type;
      if (type.enforced && ((min !== undefined && value < min) || (max !== undefined && value > max))) {
        deps.logger.warn("ICAT parameter skipped: outside the type's enforced range", { dataset: payload.name, type: type.name, value, min, max });
        continue;
      }
      parameter = { typeId: type.id, numericValue: value };
    } else {
      if (raw === undefined) continue;
      parameter = { typeId: type.id, stringValue: String(raw) };
    }
    out.set(type.id, parameter);
  }
  return [...out.values()];
}

function parameterValue(p: ResolvedParameter): Record<string, unknown> {
  return p.numericValue !== undefined ? { numericValue: p.numericValue } : { stringValue: p.stringValue };
}

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
  const parameters = resolveParameters(deps, ref, payload);
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
        parameters: parameters.map((p) => ({ type: { id: p.typeId }, ...parameterValue(p) })),
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
  writes += await syncParameters(deps, id, parameters);
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

async function syncParameters(deps: SyncDeps, datasetId: number, wanted: ResolvedParameter[]): Promise<number> {
  for (let round = 1; ; round++) {
    const rows = await deps.api.allTuples(
      (after, limit) =>
        `SELECT p.id, p.type.id, p.stringValue, p.numericValue FROM DatasetParameter p WHERE p.dataset.id = ${jpqlId(datasetId)} AND p.id > ${jpqlId(after)} ORDER BY p.id LIMIT 0, ${limit}`,
    );
    const byType = new Map(rows.map(([id, typeId, stringValue, numericValue]) => [Number(typeId), { id: Number(id), stringValue, numericValue }]));
    const entities: unknown[] = [];
    for (const p of wanted) {
      const have = byType.get(p.typeId);
      if (!have) entities.push({ DatasetParameter: { dataset: { id: datasetId }, type: { id: p.typeId }, ...parameterValue(p) } });
      else if (p.numericValue !== undefined ? !sameNumber(have.numericValue, p.numericValue) : present(have.stringValue) !== p.stringValue) {
        entities.push({ DatasetParameter: { id: have.id, ...parameterValue(p) } });
      }
    }
    if (entities.length === 0) return 0;
    try {
      await deps.api.write(entities);
      return 1;
    } catch (err) {
      if (!isIcatCode(err, "OBJECT_ALREADY_EXISTS") || round >= 3) throw err;
    }
  }
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
  const parameterRows = await deps.api.allTuples(
    (after, limit) =>
      `SELECT p.id, p.type.name, p.type.units, p.stringValue, p.numericValue FROM DatasetParameter p WHERE p.dataset.id = ${jpqlId(row.id)} AND p.id > ${jpqlId(after)} ORDER BY p.id LIMIT 0, ${limit}`,
  );
  const files = await listDatafiles(deps, row.id);
  const fields: Record<string, unknown> = {};
  for (const f of ["name", "description", "location", "complete", "startDate", "endDate"]) if (row[f] !== undefined) fields[f] = row[f];
  const sample = row.sample as { name?: unknown } | undefined;
  if (sample?.name !== undefined) fields.sampleName = sample.name;
  fields.parameters = parameterRows.map(([, type, units, stringValue, numericValue]) => ({
    type,
    units,
    ...(numericValue !== null ? { numericValue } : {}),
    ...(stringValue !== null ? { stringValue } : {}),
  }));
  fields.datafiles = [...files.keys()].sort();
  return { exists: true, remoteId: String(row.id), fields };
}
