import { afterAll, beforeAll } from "vitest";
import { PostgresServer } from "./postgres-server.js";

/**
 * The vitest side of the throwaway PostgreSQL server (postgres-server.ts, which the benchmark uses too):
 * one server per test file.
 */
export { PASSWORD, PostgresServer, findPostgresBinaries, pgAvailable, startPostgres, type PgBinaries } from "./postgres-server.js";

/**
 * Call at the top of a test file (or a `describe.runIf(pgAvailable())` block): the file's server, started before
 * its tests and stopped, its directory removed, after them. Use its members inside tests and hooks only.
 */
export function usePostgres(): PostgresServer {
  const server = new PostgresServer();
  beforeAll(async () => {
    try {
      await server.start();
    } catch (error) {
      await server.stop();
      throw error;
    }
  });
  afterAll(() => server.stop());
  return server;
}
