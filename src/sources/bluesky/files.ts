import fs from "node:fs";
import path from "node:path";
import type { FileRef } from "../../model/types.js";
import type { FileReference } from "./assemble.js";

/**
 * The files a run's resources point to (bluesky-documents.md §5): `root` (remapped) + `resource_path` per
 * `path_semantics`, a stream_resource `uri`, sequences expanded from datum indexes or by prefix. Only files
 * that exist are listed; the rest are reported as missing, never invented.
 */

export interface RootMap {
  /** Prefix rewrites, longest first. */
  entries: [string, string][];
}

export function rootMapFrom(...maps: Record<string, string>[]): RootMap {
  const entries = maps.flatMap((m) => Object.entries(m));
  entries.sort((a, b) => b[0].length - a[0].length);
  return { entries };
}

function remap(root: string, map: RootMap): string {
  for (const [from, to] of map.entries) {
    if (root === from || root.startsWith(from.endsWith("/") ? from : `${from}/`)) return to + root.slice(from.length);
  }
  return root;
}

/** A databroker-pack export's `catalog.yml` maps hashed roots to directories relative to the catalog (§4). */
export function packRootMap(docFile: string, readYaml: (text: string) => unknown): Record<string, string> {
  for (const dir of [path.dirname(docFile), path.dirname(path.dirname(docFile))]) {
    const file = path.join(dir, "catalog.yml");
    let text: string;
    try {
      // A FIFO named catalog.yml would block the read: only a regular file is opened.
      if (!fs.statSync(file).isFile()) continue;
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    try {
      const parsed = readYaml(text) as { sources?: Record<string, { args?: { root_map?: Record<string, string> } }> };
      const out: Record<string, string> = {};
      for (const source of Object.values(parsed.sources ?? {})) {
        for (const [from, to] of Object.entries(source.args?.root_map ?? {})) out[from] = path.resolve(dir, to);
      }
      return out;
    } catch {
      return {};
    }
  }
  return {};
}

export function resolveReferences(references: FileReference[], map: RootMap): { files: FileRef[]; missing: string[] } {
  const found = new Map<string, FileRef>();
  const missing = new Set<string>();
  for (const ref of references) {
    const target = targetPath(ref, map);
    if (typeof target !== "string") {
      missing.add(target.reason);
      continue;
    }
    const files = existingFiles(target, ref);
    if (files.length === 0) missing.add(target);
    for (const f of files) found.set(f.path, f);
  }
  return { files: [...found.values()].sort((a, b) => (a.path < b.path ? -1 : 1)), missing: [...missing].sort() };
}

function targetPath(ref: FileReference, map: RootMap): string | { reason: string } {
  if (ref.uri !== undefined) {
    let url: URL;
    try {
      url = new URL(ref.uri);
    } catch {
      return { reason: `${ref.uri} (not a URI)` };
    }
    if (url.protocol !== "file:") return { reason: `${ref.uri} (only file: URIs are local files)` };
    if (url.hostname !== "" && url.hostname !== "localhost") return { reason: `${ref.uri} (file on another host)` };
    return remap(decodeURIComponent(url.pathname), map);
  }
  const windows = ref.pathSemantics === "windows";
  const slashes = (p: string) => (windows ? p.replace(/\\/g, "/") : p);
  const root = remap(slashes(ref.root ?? ""), map);
  const relative = slashes(ref.resourcePath ?? "").replace(/^\/+/, "");
  return root ? path.join(root, relative) : path.resolve("/", relative);
}

function stat(file: string): FileRef | undefined {
  try {
    const st = fs.statSync(file);
    return st.isFile() ? { path: file, size: st.size, mtimeMs: Math.floor(st.mtimeMs) } : undefined;
  } catch {
    return undefined;
  }
}

/** The file itself; a directory's files; a sequence's members (`<path>_<n>.npy` or files starting with the prefix). */
function existingFiles(target: string, ref: FileReference): FileRef[] {
  const direct = stat(target);
  if (direct) return [direct];
  let entries: string[] = [];
  try {
    if (fs.statSync(target).isDirectory()) {
      return fs
        .readdirSync(target)
        .map((name) => stat(path.join(target, name)))
        .filter((f): f is FileRef => f !== undefined);
    }
  } catch {
    // not a directory: a prefix, perhaps
  }
  if (ref.spec === "NPY_SEQ" && ref.datumIndexes.length > 0) {
    return [...new Set(ref.datumIndexes)].map((i) => stat(`${target}_${i}.npy`)).filter((f): f is FileRef => f !== undefined);
  }
  const dir = path.dirname(target);
  const prefix = path.basename(target);
  try {
    entries = fs.readdirSync(dir).filter((name) => name.startsWith(prefix));
  } catch {
    return [];
  }
  return entries.map((name) => stat(path.join(dir, name))).filter((f): f is FileRef => f !== undefined);
}

/** The deepest directory holding all of the run's files: DataFile paths are relative to it. */
export function commonFolder(files: string[]): string {
  if (files.length === 0) return "/";
  let parts = path.dirname(files[0]!).split(path.sep);
  for (const file of files.slice(1)) {
    const other = path.dirname(file).split(path.sep);
    let i = 0;
    while (i < parts.length && i < other.length && parts[i] === other[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(path.sep) || path.sep;
}
