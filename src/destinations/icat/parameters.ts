import type { IcatParameterPayload } from "../../mapping/icat/payloads.js";
import { ConfigurationError } from "../../sync/errors.js";
import { jpqlId } from "./api.js";
import type { SyncDeps } from "./context.js";
import { present, sameNumber } from "./diff.js";
import { isIcatCode } from "./errors.js";
import { parameterTypeKey, type ParameterTypeInfo } from "./reference.js";
import { DOUBLE_LIMIT } from "./schema.js";

/**
 * Parameters of a Dataset or a Sample (icat-api.md §7, §7.1): one per (parent, ParameterType), resolved to the
 * type's id and the value field its valueType takes, created with the parent or added and corrected later.
 * The one code path for both kinds: only the entity and its parent field differ.
 */

export interface ParameterParent {
  entity: "DatasetParameter" | "SampleParameter";
  /** The parameter's relation to its parent. */
  parentField: "dataset" | "sample";
  /** The setting that names the types, for the fix in a configuration error. */
  setting: "parameters" | "sampleParameters";
}

export const DATASET_PARAMETERS: ParameterParent = { entity: "DatasetParameter", parentField: "dataset", setting: "parameters" };
export const SAMPLE_PARAMETERS: ParameterParent = { entity: "SampleParameter", parentField: "sample", setting: "sampleParameters" };

export interface ResolvedParameter {
  typeId: number;
  stringValue?: string;
  numericValue?: number;
}

/**
 * Payload parameters → ParameterType ids and the value field the type takes; one per type. `owner` names the
 * parent in warnings. An optional parameter whose type ICAT lacks is left out; a configured one is a
 * configuration error.
 */
export function resolveParameters(deps: SyncDeps, types: ReadonlyMap<string, ParameterTypeInfo>, parameters: readonly IcatParameterPayload[], parent: ParameterParent, owner: string): ResolvedParameter[] {
  const out = new Map<number, ResolvedParameter>();
  for (const p of parameters) {
    const type = types.get(parameterTypeKey(p.type, p.units));
    if (!type && p.optional) continue;
    if (!type) {
      throw new ConfigurationError(`ParameterType '${p.type}' (units '${p.units}') for field ${p.field} is not configured in destinations.icat.${parent.setting} or not resolved in ICAT`);
    }
    if (out.has(type.id)) continue;
    const raw = p.numericValue ?? p.stringValue;
    let parameter: ResolvedParameter;
    if (type.valueType === "NUMERIC") {
      const value = typeof raw === "number" ? raw : Number(raw);
      if (raw === undefined || raw === "" || !Number.isFinite(value)) {
        deps.logger.warn("ICAT parameter skipped: value is not numeric", { [parent.parentField]: owner, type: type.name, value: raw });
        continue;
      }
      if (Math.abs(value) >= DOUBLE_LIMIT) {
        // Oracle's NUMBER(38,19) cannot hold it, and the server would answer with a misleading OBJECT_ALREADY_EXISTS.
        deps.logger.warn("ICAT parameter skipped: beyond ±1e19, more than ICAT's numeric column holds", { [parent.parentField]: owner, type: type.name, value });
        continue;
      }
      const { minimumNumericValue: min, maximumNumericValue: max } = type;
      if (type.enforced && ((min !== undefined && value < min) || (max !== undefined && value > max))) {
        deps.logger.warn("ICAT parameter skipped: outside the type's enforced range", { [parent.parentField]: owner, type: type.name, value, min, max });
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

export function parameterValue(p: ResolvedParameter): Record<string, unknown> {
  return p.numericValue !== undefined ? { numericValue: p.numericValue } : { stringValue: p.stringValue };
}

/** The parameters to nest in the parent's create request. */
export function nestedParameters(parameters: readonly ResolvedParameter[]): Record<string, unknown>[] {
  return parameters.map((p) => ({ type: { id: p.typeId }, ...parameterValue(p) }));
}

/**
 * Add the parent's missing parameters and correct changed values, in one request; 0 when nothing differed,
 * else 1. Parameters of other types (someone else's) are left alone. A concurrent writer's parameter makes
 * the request fail as OBJECT_ALREADY_EXISTS: read again and retry, a few times.
 */
export async function syncParameters(deps: SyncDeps, parent: ParameterParent, parentId: number, wanted: readonly ResolvedParameter[]): Promise<number> {
  if (wanted.length === 0) return 0;
  for (let round = 1; ; round++) {
    const rows = await deps.api.allTuples(
      (after, limit) =>
        `SELECT p.id, p.type.id, p.stringValue, p.numericValue FROM ${parent.entity} p WHERE p.${parent.parentField}.id = ${jpqlId(parentId)} AND p.id > ${jpqlId(after)} ORDER BY p.id LIMIT 0, ${limit}`,
    );
    const byType = new Map(rows.map(([id, typeId, stringValue, numericValue]) => [Number(typeId), { id: Number(id), stringValue, numericValue }]));
    const entities: unknown[] = [];
    for (const p of wanted) {
      const have = byType.get(p.typeId);
      if (!have) entities.push({ [parent.entity]: { [parent.parentField]: { id: parentId }, type: { id: p.typeId }, ...parameterValue(p) } });
      else if (p.numericValue !== undefined ? !sameNumber(have.numericValue, p.numericValue) : present(have.stringValue) !== p.stringValue) {
        entities.push({ [parent.entity]: { id: have.id, ...parameterValue(p) } });
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

/** The parent's parameters as the catalog holds them (type name, units, value), for lookups and dry runs. */
export async function listParameters(deps: SyncDeps, parent: ParameterParent, parentId: number): Promise<Record<string, unknown>[]> {
  const rows = await deps.api.allTuples(
    (after, limit) =>
      `SELECT p.id, p.type.name, p.type.units, p.stringValue, p.numericValue FROM ${parent.entity} p WHERE p.${parent.parentField}.id = ${jpqlId(parentId)} AND p.id > ${jpqlId(after)} ORDER BY p.id LIMIT 0, ${limit}`,
  );
  return rows.map(([, type, units, stringValue, numericValue]) => ({
    type,
    units,
    ...(numericValue !== null ? { numericValue } : {}),
    ...(stringValue !== null ? { stringValue } : {}),
  }));
}
