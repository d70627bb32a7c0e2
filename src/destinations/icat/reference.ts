import type { IcatConfig } from "../../config/schema.js";
import { ConfigurationError } from "../../sync/errors.js";
import { jpqlId, jpqlString, type EntityRow, type IcatApi } from "./api.js";
import { classifyIcatError } from "./errors.js";

/**
 * Facility-curated reference data (icat-api.md §9.1): resolved once, cached, never created. Anything missing
 * or unusable is a configuration error that names every problem and its fix, so one `doctor` run shows all.
 */

export type ValueType = "NUMERIC" | "STRING" | "DATE_AND_TIME";

export interface ParameterTypeInfo {
  id: number;
  name: string;
  units: string;
  valueType: ValueType;
  enforced: boolean;
  minimumNumericValue?: number | undefined;
  maximumNumericValue?: number | undefined;
}

export interface ReferenceData {
  facilityId: number;
  /** Only resolved when beamsync may create investigations (it is needed for nothing else). */
  investigationTypeId?: number | undefined;
  datasetTypeId: number;
  instrumentId?: number | undefined;
  /** By `parameterTypeKey(name, units)`. */
  parameterTypes: Map<string, ParameterTypeInfo>;
}

export interface ReferenceCheck {
  name: string;
  ok: boolean;
  message: string;
  fix?: string;
}

export function parameterTypeKey(name: string, units: string): string {
  return `${name}\u0000${units}`;
}

/** IN lists stay short so the GET URI does too. */
const IN_CHUNK = 40;

/** Which parent a ParameterType serves, and which setting names the wanted types. */
interface ParameterTypeUse {
  wanted: Record<string, { type: string; units: string }>;
  /** `applicableTo<Parent>` must be true on the type. */
  parent: "Dataset" | "Sample";
  /** The config key of `wanted`, for the fixes. */
  setting: "parameters" | "sampleParameters";
  /** What a field is, in messages ("run field", "specimen field"). */
  fieldLabel: string;
  /** Also keep every other usable type of the facility (for quantities, metadata): one search for all of them. */
  all: boolean;
}

export class ReferenceResolver {
  private cached: Promise<ReferenceData> | undefined;
  private cachedSampleTypes: Promise<Map<string, ParameterTypeInfo>> | undefined;

  constructor(
    private readonly api: IcatApi,
    private readonly config: IcatConfig,
  ) {}

  /** The reference data, resolved on first use; a ConfigurationError names everything that is wrong. */
  get(): Promise<ReferenceData> {
    if (!this.cached) {
      const attempt = this.resolve();
      this.cached = attempt;
      attempt.catch(() => {
        if (this.cached === attempt) this.cached = undefined;
      });
    }
    return this.cached;
  }

  /** Forget cached ids (after NO_SUCH_OBJECT_FOUND: something was deleted or recreated). */
  invalidate(): void {
    this.cached = undefined;
    this.cachedSampleTypes = undefined;
  }

  /**
   * The ParameterTypes of SampleParameters, resolved on first use: only registered specimens have sample
   * parameters, so a beamline without registrations never needs them (nor fails for their absence).
   */
  sampleParameterTypes(): Promise<Map<string, ParameterTypeInfo>> {
    if (!this.cachedSampleTypes) {
      const attempt = this.inspectSampleParameterTypes().then(({ types, checks }) => {
        const problems = checks.filter((c) => !c.ok);
        if (problems.length > 0) {
          throw new ConfigurationError(`ICAT sample ParameterTypes missing or unusable: ${problems.map((p) => `${p.message} (${p.fix ?? "fix it in ICAT"})`).join("; ")}`);
        }
        return types;
      });
      this.cachedSampleTypes = attempt;
      attempt.catch(() => {
        if (this.cachedSampleTypes === attempt) this.cachedSampleTypes = undefined;
      });
    }
    return this.cachedSampleTypes;
  }

  /** Look up the sample ParameterTypes and report each, for `sampleParameterTypes()` and for preflight. */
  async inspectSampleParameterTypes(facility?: number): Promise<{ types: Map<string, ParameterTypeInfo>; checks: ReferenceCheck[] }> {
    const facilityId = facility ?? (await this.get()).facilityId;
    const checks: ReferenceCheck[] = [];
    try {
      const use: ParameterTypeUse = { wanted: this.config.sampleParameters, parent: "Sample", setting: "sampleParameters", fieldLabel: "specimen field", all: this.config.sampleMetadata };
      return { types: await this.parameterTypes(facilityId, checks, use), checks };
    } catch (err) {
      throw classifyIcatError(err, "resolving sample ParameterTypes");
    }
  }

  private async resolve(): Promise<ReferenceData> {
    const { data, checks } = await this.inspect();
    const problems = checks.filter((c) => !c.ok);
    if (!data || problems.length > 0) {
      throw new ConfigurationError(`ICAT reference data missing or unusable: ${problems.map((p) => `${p.message} (${p.fix ?? "fix it in ICAT"})`).join("; ")}`);
    }
    return data;
  }

  /** Look everything up and report each piece, for `get()` and for preflight. */
  async inspect(): Promise<{ data?: ReferenceData; checks: ReferenceCheck[] }> {
    try {
      return await this.inspectUnsafe();
    } catch (err) {
      throw classifyIcatError(err, "resolving reference data");
    }
  }

  private async inspectUnsafe(): Promise<{ data?: ReferenceData; checks: ReferenceCheck[] }> {
    const { config, api } = this;
    const checks: ReferenceCheck[] = [];
    const [facility] = await api.searchEntities("Facility", `SELECT f FROM Facility f WHERE f.name = ${jpqlString(config.facility)}`);
    if (!facility) {
      checks.push({
        name: "icat.facility",
        ok: false,
        message: `Facility '${config.facility}' not found`,
        fix: "create it in ICAT or set destinations.icat.facility to an existing facility name",
      });
      return { checks };
    }
    checks.push({ name: "icat.facility", ok: true, message: `Facility '${config.facility}' (id ${facility.id})` });
    const inFacility = `x.facility.id = ${jpqlId(facility.id)}`;

    const named = async (entity: string, name: string, check: string, key: string): Promise<EntityRow | undefined> => {
      const [row] = await api.searchEntities(entity, `SELECT x FROM ${entity} x WHERE ${inFacility} AND x.name = ${jpqlString(name)}`);
      checks.push(
        row
          ? { name: check, ok: true, message: `${entity} '${name}' (id ${row.id})` }
          : { name: check, ok: false, message: `${entity} '${name}' not found in facility '${config.facility}'`, fix: `create it in ICAT or set destinations.icat.${key}` },
      );
      return row;
    };
    const investigationType = config.createInvestigations
      ? await named("InvestigationType", config.investigationType, "icat.investigationType", "investigationType")
      : undefined;
    const datasetType = await named("DatasetType", config.datasetType, "icat.datasetType", "datasetType");
    const instrument = config.instrument ? await named("Instrument", config.instrument, "icat.instrument", "instrument") : undefined;
    const parameterTypes = await this.parameterTypes(facility.id, checks, { wanted: config.parameters, parent: "Dataset", setting: "parameters", fieldLabel: "run field", all: config.quantities });

    if ((config.createInvestigations && !investigationType) || !datasetType || (config.instrument && !instrument)) return { checks };
    return {
      checks,
      data: {
        facilityId: facility.id,
        investigationTypeId: investigationType?.id,
        datasetTypeId: datasetType.id,
        instrumentId: instrument?.id,
        parameterTypes,
      },
    };
  }

  private async parameterTypes(facilityId: number, checks: ReferenceCheck[], use: ParameterTypeUse): Promise<Map<string, ParameterTypeInfo>> {
    const wanted = Object.entries(use.wanted).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const names = [...new Set(wanted.map(([, t]) => t.type))].sort();
    const found: EntityRow[] = [];
    // With every type wanted, one search for all of them serves the configured ones too.
    if (use.all) found.push(...(await this.api.searchEntities("ParameterType", `SELECT pt FROM ParameterType pt WHERE pt.facility.id = ${jpqlId(facilityId)}`)));
    else for (let i = 0; i < names.length; i += IN_CHUNK) {
      const list = names.slice(i, i + IN_CHUNK).map(jpqlString).join(", ");
      found.push(...(await this.api.searchEntities("ParameterType", `SELECT pt FROM ParameterType pt WHERE pt.facility.id = ${jpqlId(facilityId)} AND pt.name IN (${list})`)));
    }
    const applicable = `applicableTo${use.parent}`;
    const usable = new Map<string, ParameterTypeInfo>();
    for (const [field, target] of wanted) {
      const check = use.parent === "Dataset" ? `icat.parameterType.${field}` : `icat.sampleParameterType.${field}`;
      const label = `ParameterType '${target.type}' (units '${target.units}') for ${use.fieldLabel} ${field}`;
      const sameName = found.filter((pt) => pt.name === target.type);
      const match = sameName.find((pt) => pt.units === target.units);
      if (!match) {
        const otherUnits = sameName.map((pt) => `'${String(pt.units)}'`);
        checks.push({
          name: check,
          ok: false,
          message: otherUnits.length > 0 ? `${label} not found; ICAT has it with units ${otherUnits.join(", ")}` : `${label} not found`,
          fix:
            otherUnits.length > 0
              ? `set destinations.icat.${use.setting}.${field}.units to the units ICAT uses`
              : `create it in ICAT with ${applicable}=true, or remove ${field} from destinations.icat.${use.setting}`,
        });
        continue;
      }
      if (match[applicable] !== true) {
        checks.push({ name: check, ok: false, message: `${label} is not applicable to ${use.parent.toLowerCase()}s`, fix: `set ${applicable}=true on it in ICAT` });
        continue;
      }
      const info = parameterTypeInfo(match, target.type, target.units);
      if (!info) {
        checks.push({ name: check, ok: false, message: `${label} has valueType ${String(match.valueType)}; beamsync sends strings and numbers`, fix: "use a NUMERIC or STRING ParameterType" });
        continue;
      }
      usable.set(parameterTypeKey(target.type, target.units), info);
      checks.push({ name: check, ok: true, message: `${label} (id ${match.id}, ${info.valueType})` });
    }
    if (use.all) addUsableTypes(found, applicable, usable);
    return usable;
  }
}

/** A STRING or NUMERIC type as beamsync uses it; undefined for another valueType. */
function parameterTypeInfo(row: EntityRow, name: string, units: string): ParameterTypeInfo | undefined {
  const valueType = String(row.valueType) as ValueType;
  if (valueType !== "NUMERIC" && valueType !== "STRING") return undefined;
  return {
    id: row.id,
    name,
    units,
    valueType,
    enforced: row.enforced === true,
    minimumNumericValue: typeof row.minimumNumericValue === "number" ? row.minimumNumericValue : undefined,
    maximumNumericValue: typeof row.maximumNumericValue === "number" ? row.maximumNumericValue : undefined,
  };
}

/** Every type applicable to the parent that a quantity or metadata scalar may use; ones the configured fields resolved stay as they are. */
function addUsableTypes(found: EntityRow[], applicable: string, usable: Map<string, ParameterTypeInfo>): void {
  for (const pt of found) {
    const key = parameterTypeKey(String(pt.name), String(pt.units));
    if (pt[applicable] !== true || usable.has(key)) continue;
    const info = parameterTypeInfo(pt, String(pt.name), String(pt.units));
    if (info) usable.set(key, info);
  }
}
