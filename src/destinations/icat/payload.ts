import type { IcatDatasetPayload, IcatInvestigationPayload, IcatSamplePayload, InvestigationRef } from "../../mapping/icat/payloads.js";
import { PermanentError } from "../../sync/errors.js";

/** Checks that an outbox payload has the shape the ICAT mapping produces (a stale or hand-edited row must not reach the server). */

type Bag = Record<string, unknown>;

function malformed(kind: string, what: string): PermanentError {
  return new PermanentError(`malformed ICAT ${kind} payload: ${what}`);
}

function text(kind: string, p: Bag, field: string, optional = false): void {
  const v = p[field];
  if (v === undefined && optional) return;
  if (typeof v !== "string" || (!optional && v === "")) throw malformed(kind, `${field} must be a non-empty string`);
}

function investigationRef(kind: string, v: unknown): InvestigationRef {
  const ref = v as Bag | undefined;
  if (!ref || typeof ref.name !== "string" || typeof ref.visitId !== "string") throw malformed(kind, "investigation must be {name, visitId}");
  return { name: ref.name, visitId: ref.visitId };
}

export function decodeInvestigation(p: Bag): IcatInvestigationPayload {
  for (const f of ["name", "visitId", "title"]) text("investigation", p, f);
  for (const f of ["summary", "startDate", "endDate"]) text("investigation", p, f, true);
  if (p.members !== undefined && (!Array.isArray(p.members) || p.members.some((m) => typeof m !== "string"))) throw malformed("investigation", "members must be a list of strings");
  return p as unknown as IcatInvestigationPayload;
}

export function decodeSample(p: Bag): IcatSamplePayload {
  text("sample", p, "investigationKey");
  text("sample", p, "name");
  investigationRef("sample", p.investigation);
  if (p.parameters !== undefined) {
    if (!Array.isArray(p.parameters)) throw malformed("sample", "parameters must be an array");
    checkParameters("sample", p.parameters as Bag[]);
  }
  return p as unknown as IcatSamplePayload;
}

export function decodeDataset(p: Bag): IcatDatasetPayload {
  for (const f of ["investigationKey", "name", "startDate"]) text("dataset", p, f);
  for (const f of ["description", "location"]) text("dataset", p, f, true);
  for (const f of ["sampleKey", "sampleName", "endDate"]) text("dataset", p, f, true);
  investigationRef("dataset", p.investigation);
  if (typeof p.complete !== "boolean") throw malformed("dataset", "complete must be a boolean");
  if (!Array.isArray(p.parameters) || !Array.isArray(p.datafiles)) throw malformed("dataset", "parameters and datafiles must be arrays");
  for (const df of p.datafiles as Bag[]) {
    if (typeof df?.name !== "string" || typeof df.fileSize !== "number" || typeof df.datafileModTime !== "string") {
      throw malformed("dataset", "each datafile needs name, fileSize and datafileModTime");
    }
    // ICAT's fileSize is a Long: a fraction would be a 500 INTERNAL at the server.
    if (!Number.isSafeInteger(df.fileSize) || df.fileSize < 0) throw malformed("dataset", `datafile ${df.name} has fileSize ${df.fileSize}, not a whole number of bytes`);
    if (df.location !== undefined && typeof df.location !== "string") throw malformed("dataset", "a datafile location must be a string");
  }
  if (p.techniques !== undefined) {
    if (!Array.isArray(p.techniques) || !(p.techniques as Bag[]).every((t) => typeof t?.pid === "string" && typeof t.name === "string")) {
      throw malformed("dataset", "techniques must be a list of {pid, name}");
    }
  }
  checkParameters("dataset", p.parameters as Bag[]);
  return p as unknown as IcatDatasetPayload;
}

function checkParameters(kind: string, parameters: Bag[]): void {
  for (const pr of parameters) {
    if (typeof pr?.type !== "string" || typeof pr.units !== "string") throw malformed(kind, "each parameter needs type and units");
  }
}
