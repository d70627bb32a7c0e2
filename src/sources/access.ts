import fs from "node:fs";
import os from "node:os";

/**
 * Why a file cannot be read, in words an operator can act on. SQLite says only "unable to open database file"
 * (SQLITE_CANTOPEN) for a missing read permission; asking the file system names the cause.
 */
export function accessProblem(file: string): string | undefined {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return undefined;
  } catch (error) {
    return describeAccessError((error as NodeJS.ErrnoException).code ?? "EIO");
  }
}

/** The reason for an errno from reading a file; every one of them is worth retrying (it may pass). */
export function describeAccessError(code: string): string {
  if (code === "EACCES" || code === "EPERM") {
    const { username, uid } = os.userInfo();
    return `permission denied (${code}): beamsync runs as ${username} (uid ${uid}), which may not read it; give that user read access (a group, or chmod o+r) and beamsync reads it on its next scan`;
  }
  if (code === "ENOENT") return "the file vanished while it was read (ENOENT); will retry";
  return `cannot read the file (${code}); will retry`;
}
