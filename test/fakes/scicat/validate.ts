/**
 * A small stand-in for the backend's class-validator DTOs with `whitelist + forbidNonWhitelisted`: an unknown
 * property is an error, required ones must be there, types are checked. Messages use class-validator's words.
 */
export type FieldType = "string" | "email" | "emails" | "date" | "number" | "int" | "boolean" | "object" | "array" | "strings" | "datafiles" | "any";

export interface Dto {
  required: Record<string, FieldType>;
  optional: Record<string, FieldType>;
}

export interface ValidationError {
  property: string;
  constraints: Record<string, string>;
  children: never[];
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export function validate(body: unknown, dto: Dto, options: { partial?: boolean; forbidden?: readonly string[] } = {}): ValidationError[] {
  const errors: ValidationError[] = [];
  const add = (property: string, rule: string, text: string) => errors.push({ property, constraints: { [rule]: text }, children: [] });
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    add("body", "isObject", "an instance of the DTO must be an object");
    return errors;
  }
  const record = body as Record<string, unknown>;
  const known = { ...dto.required, ...dto.optional };
  for (const key of Object.keys(record)) {
    if (!(key in known) || options.forbidden?.includes(key)) add(key, "whitelistValidation", `property ${key} should not exist`);
  }
  for (const [key, type] of Object.entries(known)) {
    if (options.forbidden?.includes(key)) continue;
    const value = record[key];
    if (value === undefined || value === null) {
      if (!options.partial && key in dto.required) add(key, notEmptyRule(type), missingText(key, type));
      continue;
    }
    for (const [rule, text] of checkType(key, value, type)) add(key, rule, text);
  }
  return errors;
}

function notEmptyRule(type: FieldType): string {
  return type === "array" || type === "datafiles" ? "arrayNotEmpty" : `is${type[0]!.toUpperCase()}${type.slice(1)}`;
}

function missingText(key: string, type: FieldType): string {
  switch (type) {
    case "email":
      return `${key} must be an email`;
    case "date":
      return `${key} must be a valid ISO 8601 date string`;
    case "number":
      return `${key} must be a number conforming to the specified constraints`;
    case "int":
      // origdatablocks/03 "missing size": the block DTO's size is @IsInt
      return `${key} must be an integer number`;
    case "datafiles":
      return `${key} should not be empty`;
    default:
      return `${key} must be a string`;
  }
}

function checkType(key: string, value: unknown, type: FieldType): [string, string][] {
  const one = (rule: string, text: string): [string, string][] => [[rule, text]];
  switch (type) {
    case "any":
      return [];
    case "string":
      return typeof value === "string" ? [] : one("isString", `${key} must be a string`);
    case "email":
      return typeof value === "string" && EMAIL.test(value) ? [] : one("isEmail", `${key} must be an email`);
    case "emails":
      return typeof value === "string" && value.split(";").every((e) => EMAIL.test(e.trim()))
        ? [] : one("customEmailList", `Expected an email or a list of semicolon separated emails, got ${String(value)}`);
    case "date":
      return typeof value === "string" && ISO.test(value) && !Number.isNaN(Date.parse(value)) ? [] : one("isDateString", `${key} must be a valid ISO 8601 date string`);
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? [] : one("isNumber", `${key} must be a number conforming to the specified constraints`);
    case "int":
      return Number.isInteger(value) ? [] : one("isInt", `${key} must be an integer number`);
    case "boolean":
      return typeof value === "boolean" ? [] : one("isBoolean", `${key} must be a boolean value`);
    case "object":
      return typeof value === "object" && !Array.isArray(value) ? [] : one("isObject", `${key} must be an object`);
    case "array":
      return Array.isArray(value) ? [] : one("isArray", `${key} must be an array`);
    case "strings":
      return Array.isArray(value) && value.every((v) => typeof v === "string") ? [] : one("isString", `each value in ${key} must be a string`);
    case "datafiles": {
      if (!Array.isArray(value)) return one("isArray", `${key} must be an array`);
      if (value.length === 0) return one("arrayNotEmpty", `${key} should not be empty`);
      return value.flatMap((entry, i) => dataFileProblems(`${key}.${i}`, entry));
    }
  }
}

/**
 * class-validator's nested DataFile errors: one message per entry and per unknown key, entry by entry
 * (origdatablocks/05 (a), (c), (d): `dataFileList.0.property id should not exist`; origdatablocks/03 "file without time").
 */
function dataFileProblems(prefix: string, entry: unknown): [string, string][] {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return [["nested", `${prefix} must be an object`]];
  const file = entry as Record<string, unknown>;
  const problems: [string, string][] = [];
  for (const k of Object.keys(file)) if (!DATAFILE_FIELDS.has(k)) problems.push(["whitelistValidation", `${prefix}.property ${k} should not exist`]);
  if (typeof file.path !== "string") problems.push(["isString", `${prefix}.path must be a string`]);
  if (typeof file.size !== "number") problems.push(["isNumber", `${prefix}.size must be a number conforming to the specified constraints`]);
  if (typeof file.time !== "string" || !ISO.test(file.time) || Number.isNaN(Date.parse(file.time))) problems.push(["isDateString", `${prefix}.time must be a valid ISO 8601 date string`]);
  return problems;
}

// The DataFile DTO: `_id` and `id`, which the server adds to every stored entry, are not in it (origdatablocks/05 (a)).
const DATAFILE_FIELDS = new Set(["path", "size", "time", "chk", "uid", "gid", "perm", "type"]);

const OWNABLE: Record<string, FieldType> = { accessGroups: "strings", instrumentGroup: "string" };

export const PROPOSAL_DTO: Dto = {
  required: { proposalId: "string", ownerGroup: "string", email: "email", title: "string" },
  optional: {
    ...OWNABLE,
    pi_email: "email",
    pi_firstname: "string",
    pi_lastname: "string",
    firstname: "string",
    lastname: "string",
    abstract: "string",
    startTime: "date",
    endTime: "date",
    MeasurementPeriodList: "array",
    metadata: "object",
    parentProposalId: "string",
    type: "string",
    instrumentIds: "strings",
  },
};

export const SAMPLE_DTO: Dto = {
  required: { ownerGroup: "string" },
  optional: { ...OWNABLE, sampleId: "string", owner: "string", description: "string", type: "string", proposalId: "string", parentSampleId: "string", sampleCharacteristics: "object", isPublished: "boolean" },
};

export const INSTRUMENT_DTO: Dto = { required: { uniqueName: "string", name: "string" }, optional: { customMetadata: "object" } };

const DATASET_COMMON_OPTIONAL: Record<string, FieldType> = {
  ...OWNABLE,
  pid: "string",
  version: "string",
  ownerEmail: "email",
  orcidOfOwner: "string",
  sourceFolderHost: "string",
  size: "number",
  packedSize: "number",
  numberOfFiles: "int",
  numberOfFilesArchived: "int",
  validationStatus: "string",
  keywords: "strings",
  description: "string",
  classification: "string",
  license: "string",
  isPublished: "boolean",
  techniques: "array",
  sharedWith: "strings",
  relationships: "array",
  datasetlifecycle: "object",
  scientificMetadata: "object",
  scientificMetadataSchema: "string",
  scientificMetadataValid: "boolean",
  comment: "string",
  dataQualityMetrics: "number",
  runNumber: "string",
};

export const DATASET_V4_DTO: Dto = {
  required: { ownerGroup: "string", contactEmail: "emails", sourceFolder: "string", creationTime: "date", datasetName: "string", type: "string" },
  optional: {
    ...DATASET_COMMON_OPTIONAL,
    owner: "string",
    principalInvestigators: "strings",
    proposalIds: "strings",
    sampleIds: "strings",
    instrumentIds: "strings",
    inputDatasets: "strings",
    usedSoftware: "strings",
    creationLocation: "string",
    dataFormat: "string",
    startTime: "date",
    endTime: "date",
    jobParameters: "object",
    jobLogData: "string",
  },
};

export const DATASET_V3_RAW_DTO: Dto = {
  required: { ownerGroup: "string", owner: "string", contactEmail: "emails", sourceFolder: "string", creationTime: "date", type: "string", principalInvestigator: "string", creationLocation: "string" },
  optional: { ...DATASET_COMMON_OPTIONAL, datasetName: "string", startTime: "date", endTime: "date", dataFormat: "string", sampleId: "string", instrumentId: "string", proposalId: "string" },
};

export const ORIGDATABLOCK_DTO: Dto = {
  required: { datasetId: "string", size: "int", dataFileList: "datafiles" },
  optional: { ...OWNABLE, ownerGroup: "string", chkAlg: "string", isPublished: "boolean" },
};
