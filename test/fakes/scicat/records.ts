import { randomUUID } from "node:crypto";
import { objectId } from "./ids.js";
import { withSI } from "./units.js";

/**
 * What the real server adds to each record it stores and how it shapes its answers (keys, defaults, the
 * v3/v4 views), each traced to the recording it comes from.
 */
export type Doc = Record<string, unknown>;

/** datasets/01: every created dataset has these, sent or not. */
export function datasetDefaults(doc: Doc): Doc {
  const now = new Date().toISOString();
  const tomorrow = `${new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)}T00:00:00.000Z`;
  return {
    isPublished: false,
    size: 0,
    packedSize: 0,
    numberOfFiles: 0,
    numberOfFilesArchived: 0,
    keywords: [],
    sharedWith: [],
    inputDatasets: [],
    usedSoftware: [],
    techniques: [],
    relationships: [],
    classification: "IN=medium,AV=low,CO=low",
    datasetlifecycle: {
      archivable: true,
      retrievable: false,
      publishable: false,
      dateOfDiskPurging: now,
      publishedOn: now,
      isOnCentralDisk: true,
      archiveStatusMessage: "datasetCreated",
      retrieveStatusMessage: "",
      retrieveIntegrityCheck: false,
      _id: objectId(),
      archiveRetentionTime: tomorrow,
      dateOfPublishing: tomorrow,
    },
    ...doc,
    ...(doc.scientificMetadata !== undefined ? { scientificMetadata: withSI(doc.scientificMetadata) } : {}),
    __v: 0,
  };
}

/** v4 answers carry only the plural names; POST and PATCH answers add the `id` virtual, GET does not (datasets/12). */
export function datasetV4View(doc: Doc, withId: boolean): Doc {
  return withId ? { ...doc, id: doc._id } : { ...doc };
}

const SINGULARS: [string, string][] = [
  ["proposalIds", "proposalId"],
  ["sampleIds", "sampleId"],
  ["instrumentIds", "instrumentId"],
  ["principalInvestigators", "principalInvestigator"],
];

/**
 * v3 answers carry both singular and plural names (surprise 19), never `id`. The singular of a `[null]` plural
 * is left out of create and PATCH answers (datasets/09 "without sampleId/instrumentId/datasetName") but is
 * `null` in lists (datasets/10 "plain string value"); a GET of one adds `history` (datasets/10).
 */
export function datasetV3View(doc: Doc, answer: "write" | "list" | "one"): Doc {
  const out: Doc = { ...doc };
  for (const [many, one] of SINGULARS) {
    if (!Array.isArray(doc[many])) continue;
    const first = (doc[many] as unknown[])[0] ?? null;
    if (first !== null || answer !== "write") out[one] = first;
  }
  if (answer === "one") out.history = [];
  return out;
}

/** v3 bodies use singular names; the server stores them as one-element plural arrays (datasets/09). */
export function v3ToStored(body: Doc): Doc {
  const out = { ...body };
  for (const [many, one] of SINGULARS) {
    if (one in out) {
      out[many] = [out[one]];
      delete out[one];
    }
  }
  return out;
}

/** Each dataFileList entry gets a fresh `_id` and the same `id` (mongoose `toJSON: {getters: true}`; surprise 1). */
export function storedDataFiles(list: unknown): Doc[] {
  return (Array.isArray(list) ? (list as Doc[]) : []).map((f) => {
    const id = objectId();
    return { ...f, _id: id, id };
  });
}

/** v4 reads of blocks come without the `id` virtuals, on the block and on its entries (origdatablocks/04 "v4 GET one block"). */
export function blockV4ReadView(block: Doc): Doc {
  const files = Array.isArray(block.dataFileList) ? (block.dataFileList as Doc[]) : [];
  return { ...withoutId(block), dataFileList: files.map(withoutId) };
}

const withoutId = (doc: Doc): Doc => Object.fromEntries(Object.entries(doc).filter(([key]) => key !== "id"));

/** origdatablocks/01: a block's own keys; ownerGroup/accessGroups copied from the dataset when not sent. */
export function blockDefaults(body: Doc, dataset: Doc): Doc {
  const id = randomUUID();
  return {
    ownerGroup: dataset.ownerGroup,
    accessGroups: dataset.accessGroups ?? [],
    isPublished: false,
    ...body,
    dataFileList: storedDataFiles(body.dataFileList),
    _id: id,
    __v: 0,
    id,
  };
}

/** proposals/01: defaults, `id: null` in each measurement period, and the `id` virtual. */
export function proposalDefaults(body: Doc): Doc {
  return {
    isPublished: false,
    accessGroups: [],
    parentProposalId: null,
    type: "Default Proposal",
    instrumentIds: [],
    numberOfDatasets: 0,
    ...body,
    MeasurementPeriodList: measurementPeriods(body.MeasurementPeriodList),
    _id: body.proposalId,
    __v: 0,
    id: body.proposalId,
  };
}

export function measurementPeriods(list: unknown): Doc[] {
  return (Array.isArray(list) ? (list as Doc[]) : []).map((p) => ({ ...p, id: null }));
}

/** samples/01 and 05: no `id` virtual on samples; the server makes a uuid when no sampleId is sent. */
export function sampleDefaults(body: Doc): Doc {
  const sampleId = body.sampleId ?? randomUUID();
  return {
    accessGroups: [],
    isPublished: false,
    ...body,
    ...(body.sampleCharacteristics !== undefined ? { sampleCharacteristics: withSI(body.sampleCharacteristics) } : {}),
    sampleId,
    _id: sampleId,
    __v: 0,
  };
}

/** instruments/01: pid is PID_PREFIX + uuid with no slash (surprise 22), `_id` = `id` = pid. */
export function instrumentDefaults(body: Doc, pidPrefix: string): Doc {
  const pid = `${pidPrefix}${randomUUID()}`;
  return { ...body, customMetadata: withSI(body.customMetadata ?? {}), pid, _id: pid, __v: 0, id: pid };
}

/** `fields` keeps the named keys and always `_id` (surprise 18; datasets/05, datasets/10). */
export function pickFields(doc: Doc, fields: unknown): Doc {
  if (!Array.isArray(fields) || fields.length === 0) return doc;
  const out: Doc = {};
  for (const f of [...fields.map(String), "_id"]) if (f in doc) out[f] = doc[f];
  return out;
}
