import fs from "node:fs";
import path from "node:path";

/**
 * The files under the DATA root (relative, `/`-separated, sorted) that `select` accepts. Symlinks are not
 * followed, so a loop or an escape cannot trap the walk; Zarr stores and hidden directories are not entered
 * (thousands of chunk files, never a source file). An unreadable directory is reported, not fatal.
 */
export function walkDataRoot(root: string, select: (relative: string, name: string) => boolean, onProblem: (relative: string, reason: string) => void): string[] {
  const found: string[] = [];
  const walk = (dir: string, relative: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      onProblem(relative || ".", `cannot list directory (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      return;
    }
    for (const entry of entries) {
      const rel = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!entry.name.endsWith(".zarr") && !entry.name.startsWith(".")) walk(path.join(dir, entry.name), rel);
      } else if (entry.isFile() && select(rel, entry.name)) found.push(rel);
    }
  };
  walk(root, "");
  return found.sort();
}
