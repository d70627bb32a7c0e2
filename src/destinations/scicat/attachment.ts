import { z } from "zod";
import type { PreviewFrame, PreviewPlot } from "../../mapping/preview.js";
import { renderFramePreview, renderPreview } from "../../previews/render.js";
import { FrameReadError, readFirstFrame } from "../../previews/zarr-frame.js";
import { PermanentError } from "../../sync/errors.js";
import type { PushResult, RemoteState } from "../contract.js";
import { expectAnswer, keyedDocument, type Doc } from "./answers.js";
import type { ScicatClient } from "./client.js";
import { classifyScicatError } from "./errors.js";
import type { DatasetRoutes } from "./routes.js";

/**
 * A dataset's preview as a v4 Attachment (scicat-api.md §5.8). SciCat does not check duplicates (§5.10), so the
 * attachment has an id of ours (`aid`): read it first, then PATCH it, or POST it once. The PNG is drawn here,
 * at push time (an image series' first frame is read from its Zarr chunks then); a preview that cannot be drawn
 * — a corrupt or unsupported chunk, a plot without points — fails this record alone, as a permanent error naming
 * why, and is tried again when the run's files change.
 */

export interface AttachmentDeps {
  client: ScicatClient;
  routes: DatasetRoutes;
}

interface AttachmentPayload {
  aid: string;
  datasetId: string;
  caption: string;
  ownerGroup: string;
  accessGroups: string[];
  width: number;
  height: number;
  plot?: PreviewPlot;
  frame?: PreviewFrame;
}

const attachmentDocument = (aid: string) => keyedDocument("aid", aid);

const path = (aid?: string) => `/v4/attachments${aid === undefined ? "" : `/${encodeURIComponent(aid)}`}`;

export async function pushAttachment(deps: AttachmentDeps, raw: Doc): Promise<PushResult> {
  const payload = raw as unknown as AttachmentPayload;
  const { aid, datasetId } = payload;
  try {
    if ((await deps.routes.api()) !== "v4") throw new PermanentError(`previews need SciCat's v4 attachments routes; this server has v3 datasets only (dataset ${datasetId})`);
    const thumbnail = await draw(payload);
    const fields = { caption: payload.caption, thumbnail, ownerGroup: payload.ownerGroup, accessGroups: payload.accessGroups };
    const existing = await deps.client.getOne(path(aid), `reading the preview of dataset ${datasetId}`, attachmentDocument(aid));
    const remote = { remoteId: aid, remoteUrl: deps.routes.url(path(aid)) };
    if (existing) {
      const response = await deps.client.call({ method: "PATCH", path: path(aid), body: fields, headers: { "content-type": "application/json" } }, `updating the preview of dataset ${datasetId}`);
      expectAnswer(response, attachmentDocument(aid), "the updated attachment as JSON");
      return { operation: "update", httpStatus: response.status, ...remote };
    }
    const body = { aid, ...fields, isPublished: false, relationships: [{ targetId: datasetId, targetType: "dataset", relationType: "is attached to" }] };
    const response = await deps.client.call({ method: "POST", path: path(), body }, `attaching the preview of dataset ${datasetId}`);
    expectAnswer(response, attachmentDocument(aid), "the created attachment as JSON");
    return { operation: "create", httpStatus: response.status, ...remote };
  } catch (err) {
    if (err instanceof PermanentError) throw err;
    throw classifyScicatError(err, `pushing the preview of dataset ${datasetId}`);
  }
}

export async function lookupAttachment(deps: AttachmentDeps, raw: Doc): Promise<RemoteState> {
  const { aid, datasetId } = raw as unknown as AttachmentPayload;
  try {
    const existing = await deps.client.getOne(path(aid), `reading the preview of dataset ${datasetId}`, attachmentDocument(aid));
    return existing ? { exists: true, remoteId: aid, fields: { caption: existing.caption } } : { exists: false };
  } catch (err) {
    throw classifyScicatError(err, `looking up the preview of dataset ${datasetId}`);
  }
}

async function draw(payload: AttachmentPayload): Promise<string> {
  if (payload.frame) return drawFrame(payload, payload.frame);
  const plot = z.object({ title: z.string(), xLabel: z.string(), yLabel: z.string(), points: z.array(z.tuple([z.number(), z.number()])).min(2) }).safeParse(payload.plot);
  if (!plot.success) throw new PermanentError(`the preview of dataset ${payload.datasetId} has no plot to draw`);
  try {
    return await renderPreview(plot.data, payload.width, payload.height);
  } catch (err) {
    throw new PermanentError(`could not draw the preview of dataset ${payload.datasetId}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function drawFrame(payload: AttachmentPayload, frame: PreviewFrame): Promise<string> {
  let pixels;
  try {
    pixels = await readFirstFrame(frame.arrayPath);
  } catch (err) {
    if (err instanceof FrameReadError) throw new PermanentError(`no preview for dataset ${payload.datasetId}: the first frame of ${frame.field} could not be read (${err.problem}): ${err.message}`);
    throw err;
  }
  try {
    return await renderFramePreview(pixels, frame.title, payload.width, payload.height);
  } catch (err) {
    throw new PermanentError(`could not draw the preview of dataset ${payload.datasetId}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
