import { createHash } from "node:crypto";
import type { Config } from "../../config/schema.js";
import type { Run } from "../../model/types.js";
import { previewFrame, previewPlot } from "../preview.js";
import { makeRecord, recordId, type DesiredRecord } from "../record.js";

/**
 * A run's preview as a SciCat Attachment (scicat-api.md §5.8), one per dataset. It waits for its dataset and the
 * dataset's file list, and nothing waits for it: a preview that fails never holds a dataset back. The payload
 * carries the plot's points, or where the first frame of an image series lies; the adapter draws the PNG when it
 * pushes (reading the frame then), so mapping stays cheap and pure.
 */
export function attachmentRecord(run: Run, dataset: DesiredRecord, blocks: DesiredRecord | undefined, config: Config): DesiredRecord | undefined {
  if (!config.previews.enabled) return undefined;
  const title = String(dataset.payload.datasetName);
  const frame = previewFrame(run, title);
  const plot = frame ? undefined : previewPlot(run, title);
  if (!frame && !plot) return undefined;
  const caption = frame
    ? `Preview: first frame of ${frame.field} (${frame.shape[0]} × ${frame.shape[1]} ${frame.dtype}, ${frame.frames} frame${frame.frames === 1 ? "" : "s"})`
    : `Preview: ${plot!.yLabel} against ${plot!.xLabel}`;
  const dependsOn = [recordId("scicat", "dataset", dataset.key)];
  if (blocks) dependsOn.push(recordId("scicat", blocks.kind, blocks.key));
  return makeRecord({
    destination: "scicat",
    kind: "attachment",
    key: dataset.key,
    runUid: run.uid,
    beamtimeKey: run.beamtimeKey,
    payload: {
      aid: previewAid(dataset.key),
      datasetId: dataset.key,
      caption,
      ownerGroup: dataset.payload.ownerGroup,
      accessGroups: dataset.payload.accessGroups,
      width: config.previews.width,
      height: config.previews.height,
      ...(frame ? { frame } : { plot }),
    },
    dependsOn,
  });
}

/** The attachment's own id, from its dataset's pid: a repeated push finds it instead of adding a second one. */
export function previewAid(pid: string): string {
  return `preview-${createHash("sha256").update(pid).digest("hex").slice(0, 32)}`;
}
