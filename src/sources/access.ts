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

/**
 * Flags for opening a source file: read-only and non-blocking, so that a FIFO or device that slipped in after
 * the type check cannot stop the scan on open (regular files ignore O_NONBLOCK).
 */
export const OPEN_READ_NONBLOCK = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

/** Why a path that is not a regular file is not read (only regular files are); undefined for a regular file. */
export function notRegularFile(stat: fs.Stats): string | undefined {
  if (stat.isFile()) return undefined;
  const kind = stat.isFIFO()
    ? "a named pipe (FIFO)"
    : stat.isDirectory()
      ? "a directory"
      : stat.isSocket()
        ? "a socket"
        : stat.isCharacterDevice() || stat.isBlockDevice()
          ? "a device"
          : "not a regular file";
  return `${kind}, not a regular file: beamsync reads only regular files and skips it until it is one`;
}
