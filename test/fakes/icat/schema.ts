/**
 * The entity model of icat.server (icat-api.md §7), as a table that drives validation and output.
 * `since` gates fields and entities by server version; unknown fields are 400 on older servers, as on the real one.
 */

export type AttributeType = "String" | "Long" | "Integer" | "Double" | "boolean" | "Date" | "ParameterValueType";

export interface AttributeDef {
  type: AttributeType;
  /** VARCHAR length for strings. */
  length?: number;
  notNull?: boolean;
  /** Value a create gets when the field is not sent (Java field initialisers, primitive booleans). */
  defaultValue?: string | number | boolean;
  since?: string;
}

export interface ManyToOneDef {
  target: string;
  notNull?: boolean;
  since?: string;
}

export interface OneToManyDef {
  target: string;
  /** The child's many-to-one field that points back at the parent. */
  backRef: string;
  since?: string;
}

export interface EntityDef {
  name: string;
  attributes: Record<string, AttributeDef>;
  manyToOne: Record<string, ManyToOneDef>;
  oneToMany: Record<string, OneToManyDef>;
  /** Uniqueness constraint, in the order the server names the fields in its messages. */
  unique: string[];
  /** Parameter entities: the parent they belong to (drives `applicableToX`). */
  parameterOf?: "Investigation" | "Dataset" | "Datafile" | "Sample";
  since?: string;
}

export type Schema = ReadonlyMap<string, EntityDef>;

export const PARAMETER_VALUE_TYPES = ["DATE_AND_TIME", "NUMERIC", "STRING"] as const;

/** Fields every entity has; set by the server, readable in queries and output. */
export const BASE_FIELDS: Record<string, AttributeType> = {
  id: "Long",
  createId: "String",
  createTime: "Date",
  modId: "String",
  modTime: "Date",
};

const S = (length = 255, notNull = false, since?: string): AttributeDef => ({ type: "String", length, notNull, ...(since ? { since } : {}) });
const NN = (length = 255): AttributeDef => S(length, true);
const date = (since?: string): AttributeDef => ({ type: "Date", ...(since ? { since } : {}) });
const dbl: AttributeDef = { type: "Double" };
const bool = (defaultValue = false): AttributeDef => ({ type: "boolean", notNull: true, defaultValue });
const one = (target: string, notNull = false, since?: string): ManyToOneDef => ({ target, notNull, ...(since ? { since } : {}) });
const many = (target: string, backRef: string, since?: string): OneToManyDef => ({ target, backRef, ...(since ? { since } : {}) });

const parameterAttributes: Record<string, AttributeDef> = {
  stringValue: S(4000),
  numericValue: dbl,
  dateTimeValue: date(),
  rangeTop: dbl,
  rangeBottom: dbl,
  error: dbl,
};

function parameterEntity(name: string, parent: "Investigation" | "Dataset" | "Datafile" | "Sample"): EntityDef {
  const parentField = parent.charAt(0).toLowerCase() + parent.slice(1);
  return {
    name,
    attributes: { ...parameterAttributes },
    manyToOne: { [parentField]: one(parent, true), type: one("ParameterType", true) },
    oneToMany: {},
    unique: [parentField, "type"],
    parameterOf: parent,
  };
}

const ENTITIES: EntityDef[] = [
  {
    name: "Facility",
    attributes: { name: NN(), fullName: S(), description: S(1023), url: S(), daysUntilRelease: { type: "Integer" } },
    manyToOne: {},
    oneToMany: {
      instruments: many("Instrument", "facility"),
      investigationTypes: many("InvestigationType", "facility"),
      investigations: many("Investigation", "facility"),
      datasetTypes: many("DatasetType", "facility"),
      parameterTypes: many("ParameterType", "facility"),
      sampleTypes: many("SampleType", "facility"),
      datafileFormats: many("DatafileFormat", "facility"),
    },
    unique: ["name"],
  },
  {
    name: "Instrument",
    attributes: {
      name: NN(),
      fullName: S(),
      description: S(4000),
      type: S(),
      url: S(),
      pid: S(255, false, "4.10"),
      startDate: date("6.2"),
      endDate: date("6.2"),
    },
    manyToOne: { facility: one("Facility", true) },
    oneToMany: {
      investigationInstruments: many("InvestigationInstrument", "instrument"),
      datasetInstruments: many("DatasetInstrument", "instrument", "5.0"),
    },
    unique: ["facility", "name"],
  },
  {
    name: "InvestigationType",
    attributes: { name: NN(), description: S() },
    manyToOne: { facility: one("Facility", true) },
    oneToMany: { investigations: many("Investigation", "type") },
    unique: ["name", "facility"],
  },
  {
    name: "Investigation",
    attributes: {
      name: NN(),
      visitId: NN(),
      title: NN(),
      summary: S(4000),
      doi: S(),
      startDate: date(),
      endDate: date(),
      releaseDate: date(),
      fileSize: { type: "Long", defaultValue: 0, since: "5.0" },
      fileCount: { type: "Long", defaultValue: 0, since: "5.0" },
    },
    manyToOne: { facility: one("Facility", true), type: one("InvestigationType", true) },
    oneToMany: {
      investigationInstruments: many("InvestigationInstrument", "investigation"),
      investigationUsers: many("InvestigationUser", "investigation"),
      investigationGroups: many("InvestigationGroup", "investigation"),
      samples: many("Sample", "investigation"),
      datasets: many("Dataset", "investigation"),
      parameters: many("InvestigationParameter", "investigation"),
      keywords: many("Keyword", "investigation"),
    },
    unique: ["facility", "name", "visitId"],
  },
  // Grouping and InvestigationGroup came with ICAT 4.4 (release notes); the role is part of the key in current
  // servers (core/entity/InvestigationGroup.java: unique GROUP_ID, INVESTIGATION_ID, ROLE; role not null).
  {
    name: "Grouping",
    attributes: { name: NN() },
    manyToOne: {},
    oneToMany: { investigationGroups: many("InvestigationGroup", "grouping") },
    unique: ["name"],
  },
  {
    name: "InvestigationGroup",
    attributes: { role: NN() },
    manyToOne: { grouping: one("Grouping", true), investigation: one("Investigation", true) },
    oneToMany: {},
    unique: ["grouping", "investigation", "role"],
  },
  {
    name: "InvestigationInstrument",
    attributes: {},
    manyToOne: { investigation: one("Investigation", true), instrument: one("Instrument", true) },
    oneToMany: {},
    unique: ["investigation", "instrument"],
  },
  {
    name: "User",
    attributes: {
      name: NN(),
      fullName: S(),
      givenName: S(255, false, "4.10"),
      familyName: S(255, false, "4.10"),
      affiliation: S(255, false, "4.10"),
      email: S(),
      orcidId: S(),
    },
    manyToOne: {},
    oneToMany: { investigationUsers: many("InvestigationUser", "user") },
    unique: ["name"],
  },
  {
    name: "InvestigationUser",
    attributes: { role: NN() },
    manyToOne: { user: one("User", true), investigation: one("Investigation", true) },
    oneToMany: {},
    unique: ["user", "investigation", "role"],
  },
  {
    name: "SampleType",
    attributes: { name: NN(), molecularFormula: NN(), safetyInformation: S(4000) },
    manyToOne: { facility: one("Facility", true) },
    oneToMany: { samples: many("Sample", "type") },
    unique: ["facility", "name", "molecularFormula"],
  },
  {
    name: "Sample",
    attributes: { name: NN(), pid: S(255, false, "4.10") },
    manyToOne: { investigation: one("Investigation", true), type: one("SampleType") },
    oneToMany: { datasets: many("Dataset", "sample"), parameters: many("SampleParameter", "sample") },
    unique: ["investigation", "name"],
  },
  {
    name: "DatasetType",
    attributes: { name: NN(), description: S() },
    manyToOne: { facility: one("Facility", true) },
    oneToMany: { datasets: many("Dataset", "type") },
    unique: ["facility", "name"],
  },
  {
    name: "Dataset",
    attributes: {
      name: NN(),
      complete: bool(false),
      description: S(),
      doi: S(),
      location: S(255),
      startDate: date(),
      endDate: date(),
      fileSize: { type: "Long", defaultValue: 0, since: "5.0" },
      fileCount: { type: "Long", defaultValue: 0, since: "5.0" },
    },
    manyToOne: { investigation: one("Investigation", true), type: one("DatasetType", true), sample: one("Sample") },
    oneToMany: {
      datafiles: many("Datafile", "dataset"),
      parameters: many("DatasetParameter", "dataset"),
      datasetInstruments: many("DatasetInstrument", "dataset", "5.0"),
      datasetTechniques: many("DatasetTechnique", "dataset", "5.0"),
    },
    unique: ["investigation", "name"],
  },
  {
    name: "DatafileFormat",
    attributes: { name: NN(), version: NN(), type: S(), description: S() },
    manyToOne: { facility: one("Facility", true) },
    oneToMany: { datafiles: many("Datafile", "datafileFormat") },
    unique: ["facility", "name", "version"],
  },
  {
    name: "Datafile",
    attributes: {
      name: NN(),
      location: S(255),
      fileSize: { type: "Long", defaultValue: 0 },
      checksum: S(),
      description: S(),
      doi: S(),
      datafileCreateTime: date(),
      datafileModTime: date(),
    },
    manyToOne: { dataset: one("Dataset", true), datafileFormat: one("DatafileFormat") },
    oneToMany: { parameters: many("DatafileParameter", "datafile") },
    unique: ["dataset", "name"],
  },
  {
    name: "ParameterType",
    attributes: {
      name: NN(),
      units: NN(),
      valueType: { type: "ParameterValueType", notNull: true },
      unitsFullName: S(),
      description: S(),
      pid: S(255, false, "4.10"),
      enforced: bool(),
      verified: bool(),
      minimumNumericValue: dbl,
      maximumNumericValue: dbl,
      applicableToInvestigation: bool(),
      applicableToDataset: bool(),
      applicableToDatafile: bool(),
      applicableToSample: bool(),
      applicableToDataCollection: bool(),
    },
    manyToOne: { facility: one("Facility", true) },
    oneToMany: {
      permissibleStringValues: many("PermissibleStringValue", "type"),
      investigationParameters: many("InvestigationParameter", "type"),
      sampleParameters: many("SampleParameter", "type"),
      datasetParameters: many("DatasetParameter", "type"),
      datafileParameters: many("DatafileParameter", "type"),
    },
    unique: ["facility", "name", "units"],
  },
  {
    name: "PermissibleStringValue",
    attributes: { value: NN() },
    manyToOne: { type: one("ParameterType", true) },
    oneToMany: {},
    unique: ["value", "type"],
  },
  parameterEntity("InvestigationParameter", "Investigation"),
  parameterEntity("SampleParameter", "Sample"),
  parameterEntity("DatasetParameter", "Dataset"),
  parameterEntity("DatafileParameter", "Datafile"),
  {
    name: "DatasetInstrument",
    attributes: {},
    manyToOne: { dataset: one("Dataset", true), instrument: one("Instrument", true) },
    oneToMany: {},
    unique: ["dataset", "instrument"],
    since: "5.0",
  },
  {
    name: "Technique",
    attributes: { name: NN(), pid: S(), description: S() },
    manyToOne: {},
    oneToMany: { datasetTechniques: many("DatasetTechnique", "technique") },
    unique: ["name"],
    since: "5.0",
  },
  {
    name: "DatasetTechnique",
    attributes: {},
    manyToOne: { dataset: one("Dataset", true), technique: one("Technique", true) },
    oneToMany: {},
    unique: ["dataset", "technique"],
    since: "5.0",
  },
  {
    name: "Keyword",
    attributes: { name: NN() },
    manyToOne: { investigation: one("Investigation", true) },
    oneToMany: {},
    unique: ["name", "investigation"],
  },
];

/** Compare dotted versions numerically ("4.10" > "4.9"). */
export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split(".").map((p) => Number.parseInt(p, 10) || 0);
  const b = minimum.split(".").map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

function keep<T extends { since?: string }>(record: Record<string, T>, version: string): Record<string, T> {
  return Object.fromEntries(Object.entries(record).filter(([, def]) => !def.since || versionAtLeast(version, def.since)));
}

/** The schema a server of `version` exposes. */
export function schemaFor(version: string): Schema {
  const locationLength = versionAtLeast(version, "6.2") ? 511 : 255;
  const out = new Map<string, EntityDef>();
  for (const def of ENTITIES) {
    if (def.since && !versionAtLeast(version, def.since)) continue;
    const attributes = keep(def.attributes, version);
    if (attributes.location) attributes.location = { ...attributes.location, length: locationLength };
    out.set(def.name, {
      ...def,
      attributes,
      manyToOne: keep(def.manyToOne, version),
      oneToMany: Object.fromEntries(
        Object.entries(keep(def.oneToMany, version)).filter(([, rel]) => ENTITIES.some((e) => e.name === rel.target && (!e.since || versionAtLeast(version, e.since)))),
      ),
    });
  }
  return out;
}
