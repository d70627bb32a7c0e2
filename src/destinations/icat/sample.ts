import type { IcatSamplePayload } from "../../mapping/icat/payloads.js";
import type { PushContext, PushResult, RemoteState } from "../contract.js";
import { findSample, investigationIdFor, remoteUrl, requireInvestigationId, type SyncDeps } from "./context.js";
import { hiddenByReadRules, isIcatCode } from "./errors.js";
import { listParameters, nestedParameters, resolveParameters, SAMPLE_PARAMETERS, syncParameters, type ResolvedParameter } from "./parameters.js";

/**
 * Samples by (investigation, name): created when missing, with their SampleParameters (a registered
 * specimen's tray, slot, QR label, metadata); an existing one gets its missing parameters added and changed
 * values corrected, the same way as a Dataset's (parameters.ts).
 */

async function resolvedParameters(deps: SyncDeps, payload: IcatSamplePayload): Promise<ResolvedParameter[]> {
  if (!payload.parameters || payload.parameters.length === 0) return [];
  return resolveParameters(deps, await deps.reference.sampleParameterTypes(), payload.parameters, SAMPLE_PARAMETERS, payload.name);
}

export async function pushSample(deps: SyncDeps, payload: IcatSamplePayload, ctx: PushContext, useHints: boolean): Promise<PushResult> {
  // Reference data first: a missing ParameterType fails the push before anything is written.
  const parameters = await resolvedParameters(deps, payload);
  const investigationId = await requireInvestigationId(deps, payload.investigationKey, payload.investigation, ctx, useHints);
  let found = await findSample(deps, investigationId, payload.name);
  if (!found) {
    try {
      const [id] = await deps.api.write([{ Sample: { investigation: { id: investigationId }, name: payload.name, ...(parameters.length > 0 ? { parameters: nestedParameters(parameters) } : {}) } }]);
      if (id === undefined) throw new Error("ICAT created no sample");
      deps.logger.debug("ICAT sample created", { name: payload.name, investigation: `${payload.investigation.name}/${payload.investigation.visitId}`, id, parameters: parameters.length });
      return { operation: "create", remoteId: String(id), remoteUrl: remoteUrl("Sample", id) };
    } catch (err) {
      // A concurrent writer, or our own earlier request whose answer was lost: it is there, so compare instead.
      if (!isIcatCode(err, "OBJECT_ALREADY_EXISTS")) throw err;
      found = await findSample(deps, investigationId, payload.name);
      if (!found) throw hiddenByReadRules(err, "Sample", `'${payload.name}'`);
    }
  }
  const writes = await syncParameters(deps, SAMPLE_PARAMETERS, found.id, parameters);
  return { operation: writes > 0 ? "update" : "skip", remoteId: String(found.id), remoteUrl: remoteUrl("Sample", found.id) };
}

export async function lookupSample(deps: SyncDeps, payload: IcatSamplePayload, ctx: PushContext): Promise<RemoteState> {
  const investigationId = await investigationIdFor(deps, payload.investigationKey, payload.investigation, ctx, false);
  if (investigationId === undefined) return { exists: false };
  const row = await findSample(deps, investigationId, payload.name);
  if (!row) return { exists: false };
  const fields: Record<string, unknown> = { name: row.name };
  if (payload.parameters && payload.parameters.length > 0) fields.parameters = await listParameters(deps, SAMPLE_PARAMETERS, row.id);
  return { exists: true, remoteId: String(row.id), fields };
}
