import fs from "node:fs";
import path from "node:path";
import { walkDataRoot } from "../walk.js";

/** Where beamtime DBs are: checked index paths, and (with `discover`) every `*.db` under the DATA root. */

export type Located = { ok: true; absolute: string; relative: string } | { ok: false; reason: string };

/**
 * A `db_path` from the index, checked: relative, inside the DATA root, and still inside once symlinks are
 * resolved (resonance-data.md §8). `realRoot` is the DATA root with its own symlinks resolved.
 */
export function locateDbPath(dataRoot: string, realRoot: string, dbPath: string): Located {
  if (dbPath.trim() === "") return { ok: false, reason: "db_path is empty" };
  if (path.isAbsolute(dbPath) || /^[A-Za-z]:[\\/]/.test(dbPath)) return { ok: false, reason: `db_path ${dbPath} is absolute; it must be relative to the DATA root` };
  const normal = path.posix.normalize(dbPath.split(path.sep).join("/"));
  if (normal === ".." || normal.startsWith("../")) return { ok: false, reason: `db_path ${dbPath} leaves the DATA root` };
  const absolute = path.join(dataRoot, normal);
  let real: string;
  try {
    real = fs.realpathSync(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ELOOP") return { ok: false, reason: `db_path ${dbPath} is a symlink loop` };
    if (code === "ENOENT") return { ok: false, reason: `db_path ${dbPath} is listed in the index but does not exist` };
    return { ok: false, reason: `db_path ${dbPath} cannot be resolved (${code ?? String(error)})` };
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return { ok: false, reason: `db_path ${dbPath} resolves through a symlink to ${real}, outside the DATA root` };
  return { ok: true, absolute, relative: normal };
}

/** Every `*.db` under the root except `skip` (the index itself). */
export function discoverDbFiles(dataRoot: string, skip: ReadonlySet<string>, onProblem: (relative: string, reason: string) => void): string[] {
  return walkDataRoot(dataRoot, (rel, name) => name.endsWith(".db") && !skip.has(rel), onProblem);
}

/** Every file under a directory (a run's Zarr group), with size and mtime; none when it does not exist. */
export function filesUnder(dir: string): { path: string; size: number; mtimeMs: number }[] {
  const out: { path: string; size: number; mtimeMs: number }[] = [];
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        try {
          const st = fs.statSync(full);
          out.push({ path: full, size: st.size, mtimeMs: Math.floor(st.mtimeMs) });
        } catch {
          // vanished while listed: the next scan sees the truth
        }
      }
    }
  };
  walk(dir);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
