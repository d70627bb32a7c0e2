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
    let entries: fs.Dirent<Buffer>[];
    try {
      // As bytes: a name that is not UTF-8 (left so by an SMB share) would otherwise turn into U+FFFD and vanish.
      entries = fs.readdirSync(dir, { withFileTypes: true, encoding: "buffer" });
    } catch (error) {
      onProblem(relative || ".", `cannot list directory (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      return;
    }
    for (const entry of entries) {
      const name = entry.name.toString("utf8");
      const rel = relative ? `${relative}/${name}` : name;
      const directory = entry.isDirectory();
      if (directory && (name.endsWith(".zarr") || name.startsWith("."))) continue;
      if (!directory && !(entry.isFile() && select(rel, name))) continue;
      if (!Buffer.from(name, "utf8").equals(entry.name)) {
        onProblem(rel, notUtf8(entry.name, directory));
        continue;
      }
      if (directory) walk(path.join(dir, name), rel);
      else found.push(rel);
    }
  };
  walk(root, "");
  return found.sort();
}

/** A file or directory name that is not valid UTF-8: shown with its bytes, so that an operator can find it. */
function notUtf8(raw: Buffer, directory: boolean): string {
  const shown = [...raw].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`)).join("");
  return (
    `${directory ? "directory" : "file"} name "${shown}" is not valid UTF-8, so ${directory ? "nothing in it is" : "it is not"} read ` +
    "(catalogs hold UTF-8 paths); rename it to UTF-8 (e.g. convmv -f latin1 -t utf8) and beamsync reads it on its next scan"
  );
}
