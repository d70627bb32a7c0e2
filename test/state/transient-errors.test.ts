import { describe, expect, it } from "vitest";
import { isTransientStateError } from "../../src/sync/errors.js";

/** Which errors of the state the engine tries again (SQLite's and PostgreSQL's) and which it reports at once. */

const withCode = (code: string, message = "x") => Object.assign(new Error(message), { code });

describe("isTransientStateError", () => {
  it("knows SQLite's locks and full disk", () => {
    for (const code of ["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_IOERR_WRITE"]) expect(isTransientStateError(withCode(code)), code).toBe(true);
    for (const code of ["SQLITE_CORRUPT", "SQLITE_CONSTRAINT_PRIMARYKEY"]) expect(isTransientStateError(withCode(code)), code).toBe(false);
  });

  it("knows a PostgreSQL server away, restarting, out of resources, or a transaction to try again", () => {
    for (const code of ["08006", "08001", "40001", "40P01", "53300", "57P01", "57P03", "57014", "55P03"]) expect(isTransientStateError(withCode(code)), code).toBe(true);
    for (const code of ["23505", "42P01", "22P02", "42501"]) expect(isTransientStateError(withCode(code)), code).toBe(false);
  });

  it("knows lost connections as node and pg report them", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE"]) expect(isTransientStateError(withCode(code)), code).toBe(true);
    expect(isTransientStateError(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isTransientStateError(new Error("Connection terminated due to connection timeout"))).toBe(true);
    expect(isTransientStateError(new Error("relation \"records\" does not exist"))).toBe(false);
    expect(isTransientStateError(undefined)).toBe(false);
    expect(isTransientStateError("ECONNRESET")).toBe(false);
  });

  it("takes the store's own word that waiting helps", () => {
    expect(isTransientStateError(Object.assign(new Error("an earlier commit is still running"), { transient: true }))).toBe(true);
    expect(isTransientStateError(Object.assign(new Error("no"), { transient: "yes" }))).toBe(false);
  });
});
