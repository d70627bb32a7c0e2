import fs from "node:fs";
import path from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import { Database } from "../../sqlite.js";
import { accessProblem, describeAccessError, OPEN_READ_NONBLOCK } from "../access.js";

/**
 * How beamsync touches a file the beamline writer owns (resonance-data.md §5): read-only (SQLITE_OPEN_READONLY,
 * which honours locks and never rolls back a hot journal — better-sqlite3 is built without URI filenames, so
 * this flag is its `file:…?mode=ro`; never `immutable=1`), `query_only`, a short busy timeout, journal_mode
 * left alone, one short statement per table, and the connection closed again before the scan moves on.
 */
export function withReadOnlyDb<T>(file: string, busyTimeoutMs: number, read: (db: BetterSqlite3.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
  try {
    db.pragma("query_only = 1");
    return read(db);
  } finally {
    db.close();
  }
}

/** A file beamsync could not (fully) read; `retry` when it may work later without the file changing. */
export class SourceReadError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
    this.name = "SourceReadError";
  }
}

/** The 100-byte SQLite header, read without taking a lock (only used to detect change and explain errors). */
export interface DbHeader {
  isSqlite: boolean;
  pageSize: number;
  /** Incremented by every commit in rollback-journal mode: a cheap "did anything change" check. */
  changeCounter: number;
  /** Page count stated by the header, when the header says it is valid. */
  headerPages?: number | undefined;
  /** File format read/write version 2 = WAL. */
  wal: boolean;
}

const MAGIC = Buffer.from("SQLite format 3\0", "latin1");

export async function readDbHeader(file: string): Promise<DbHeader | undefined> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(file, OPEN_READ_NONBLOCK);
    const buffer = Buffer.alloc(100);
    const { bytesRead } = await handle.read(buffer, 0, 100, 0);
    if (bytesRead < 100) return bytesRead === 0 ? undefined : { isSqlite: false, pageSize: 0, changeCounter: 0, wal: false };
    if (!buffer.subarray(0, 16).equals(MAGIC)) return { isSqlite: false, pageSize: 0, changeCounter: 0, wal: false };
    const rawPageSize = buffer.readUInt16BE(16);
    const changeCounter = buffer.readUInt32BE(24);
    const pages = buffer.readUInt32BE(28);
    const validFor = buffer.readUInt32BE(92);
    return {
      isSqlite: true,
      pageSize: rawPageSize === 1 ? 65536 : rawPageSize,
      changeCounter,
      headerPages: pages > 0 && validFor === changeCounter ? pages : undefined,
      wal: buffer[18] === 2 || buffer[19] === 2,
    };
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/** Turn an SQLite (or file system) error into a reason an operator can act on. */
export function describeReadError(error: unknown, file: string, context: { header?: DbHeader | undefined; size?: number | undefined } = {}): SourceReadError {
  if (error instanceof SourceReadError) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const name = path.basename(file);
  if (typeof code !== "string") return new SourceReadError(`cannot read: ${message}`, true);
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new SourceReadError("locked by the writer, will retry", true);
  }
  if (code === "SQLITE_READONLY_ROLLBACK") {
    return new SourceReadError(
      `hot journal ${name}-journal left by an interrupted writer: it holds uncommitted pages that only a writable ` +
        "connection (resonance reopening the file) may roll back; beamsync will not touch it and will retry",
      true,
    );
  }
  if (code === "SQLITE_READONLY_RECOVERY" || code === "SQLITE_READONLY_CANTINIT" || code === "SQLITE_READONLY_CANTLOCK") {
    return new SourceReadError(`needs recovery by a writable connection (${code}); will retry`, true);
  }
  if (code === "SQLITE_NOTADB") return new SourceReadError("not an SQLite database (file header is not 'SQLite format 3')", false);
  if (code.startsWith("SQLITE_CORRUPT")) {
    const { header, size } = context;
    if (header?.headerPages !== undefined && size !== undefined && size < header.headerPages * header.pageSize) {
      return new SourceReadError(
        `truncated database: the header says ${header.headerPages} pages of ${header.pageSize} bytes ` +
          `(${header.headerPages * header.pageSize} bytes) but the file has ${size} bytes`,
        false,
      );
    }
    return new SourceReadError(`corrupt database (${message})`, false);
  }
  if (code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_IOERR") || code === "SQLITE_PERM" || code === "SQLITE_AUTH") {
    return new SourceReadError(accessProblem(file) ?? `cannot open or read the file (${code}: ${message}); will retry`, true);
  }
  if (code === "EACCES" || code === "EPERM" || code === "ENOENT" || code === "EIO") {
    return new SourceReadError(describeAccessError(code), true);
  }
  if (code === "SQLITE_ERROR" && /no such (column|table)/.test(message)) {
    return new SourceReadError(`unexpected schema: ${message}`, false);
  }
  return new SourceReadError(`SQLite error ${code}: ${message}`, false);
}

/** Whether a file exists (journal check); errors other than "missing" count as present, to stay careful. */
export async function exists(file: string): Promise<boolean> {
  try {
    await fs.promises.lstat(file);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ENOENT";
  }
}
