import type { IcatSamplePayload } from "../../mapping/icat/payloads.js";
import type { PushContext, PushResult, RemoteState } from "../contract.js";
import { findSample, investigationIdFor, remoteUrl, requireInvestigationId, type SyncDeps } from "./context.js";
import { hiddenByReadRules, isIcatCode } from "./errors.js";

/** Samples by (investigation, name): created when missing; nothing else to keep in step. */

export async function pushSample(deps: SyncDeps, payload: IcatSamplePayload, ctx: PushContext, useHints: boolean): Promise<PushResult> {
  const investigationId = await requireInvestigationId(deps, payload.investigationKey, payload.investigation, ctx, useHints);
  const found = await findSample(deps, investigationId, payload.name);
  if (found) return { operation: "skip", remoteId: String(found.id), remoteUrl: remoteUrl("Sample", found.id) };
  try {
    const [id] = await deps.api.write([{ Sample: { investigation: { id: investigationId }, name: payload.name } }]);
    if (id === undefined) throw new Error("ICAT created no sample");
    deps.logger.debug("ICAT sample created", { name: payload.name, investigation: `${payload.investigation.name}/${payload.investigation.visitId}`, id });
    return { operation: "create", remoteId: String(id), remoteUrl: remoteUrl("Sample", id) };
  } catch (err) {
    if (!isIcatCode(err, "OBJECT_ALREADY_EXISTS")) throw err;
    const again = await findSample(deps, investigationId, payload.name);
    if (!again) throw hiddenByReadRules(err, "Sample", `'${payload.name}'`);
    return { operation: "skip", remoteId: String(again.id), remoteUrl: remoteUrl("Sample", again.id) };
  }
}

export async function lookupSample(deps: SyncDeps, payload: IcatSamplePayload, ctx: PushContext): Promise<RemoteState> {
  const investigationId = await investigationIdFor(deps, payload.investigationKey, payload.investigation, ctx, false);
  if (investigationId === undefined) return { exists: false };
  const row = await findSample(deps, investigationId, payload.name);
  return row ? { exists: true, remoteId: String(row.id), fields: { name: row.name } } : { exists: false };
}
