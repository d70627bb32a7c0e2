import path from "node:path";
import type { Run } from "../../model/types.js";
import type { MappingConfig } from "../common.js";

/**
 * Where a dataset's files lie, as SciCat shows it. A run's own folder (its Zarr group) rather than a directory
 * every run of the beamtime shares; paths rewritten from the beamline's mounts to the ones users see.
 */

/** The folder a run's SciCat file list is relative to, on this machine. */
export function runFolder(run: Run): string {
  return run.ownFolder ?? run.sourceFolder;
}

/** `mapping.sourceFolderRewrite`: the longest matching prefix (whole path segments only) is replaced. */
export function publicPath(local: string, rewrite: Record<string, string>): string {
  let best: string | undefined;
  for (const from of Object.keys(rewrite)) {
    const prefix = from.length > 1 ? from.replace(/\/+$/, "") : from;
    const matches = local === prefix || local.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`);
    if (matches && (best === undefined || prefix.length > best.length)) best = prefix;
  }
  if (best === undefined) return local;
  const to = rewrite[best] ?? rewrite[`${best}/`] ?? best;
  const rest = local.slice(best.length).replace(/^\/+/, "");
  return rest === "" ? to : path.posix.join(to, rest);
}

/** The files of a run that are its own: a file every run of the beamtime shares is counted with none of them. */
export function ownFiles(run: Run): Run["files"] {
  return run.files.filter((f) => !f.shared);
}

export function scicatSourceFolder(run: Run, mapping: Pick<MappingConfig, "sourceFolderRewrite">): string {
  return publicPath(runFolder(run), mapping.sourceFolderRewrite);
}
