import { existsSync, readFileSync } from "node:fs";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { pgAvailable, startPostgres, usePostgres } from "../support/postgres.js";

/** The throwaway PostgreSQL server (test/support/postgres.ts) does what the state tests will rely on. */

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  return client;
}

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = await connect(url);
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.runIf(pgAvailable())("the throwaway PostgreSQL server", () => {
  const server = usePostgres();

  it("takes the beamsync role's URL, whose password has # and @ percent-encoded, and refuses a wrong password", async () => {
    expect(server.password).toMatch(/#/);
    expect(server.password).toMatch(/@/);
    expect(server.url).toContain("%23");
    expect(server.url).toContain("%40");
    expect(server.url).toMatch(new RegExp(`^postgres://beamsync:[^@/#]+@127\\.0\\.0\\.1:${server.port}/beamsync$`));
    const { rows } = await query(server.url, "SELECT current_user AS who, current_database() AS db, 40 + 2 AS answer");
    expect(rows).toEqual([{ who: "beamsync", db: "beamsync", answer: 42 }]);
    const wrong = server.url.replace(encodeURIComponent(server.password), "not-it");
    await expect(query(wrong, "SELECT 1")).rejects.toThrow(/password authentication failed/);
  });

  it("runs the server as a user other than root", () => {
    const pid = server.postmasterPid()!;
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
    expect(uid).not.toBe(0);
    expect(uid).toBe(process.getuid!() === 0 ? uid : process.getuid!());
  });

  it("gives a fresh database per name, owned by beamsync", async () => {
    const url = await server.createDatabase("harness_fresh");
    expect(url).toMatch(/\/harness_fresh$/);
    await query(url, "CREATE TABLE t (k text PRIMARY KEY)");
    const { rows } = await query(url, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
    expect(rows).toEqual([{ n: 1 }]);
    await expect(server.createDatabase("harness_fresh")).rejects.toThrow(/already exists/);
  });

  it("restarts on the same port with the same data; open connections break, new ones work", async () => {
    const url = await server.createDatabase("harness_restart");
    await query(url, "CREATE TABLE t (k int); INSERT INTO t VALUES (1)");
    const port = server.port;
    const before = server.postmasterPid();
    const open = await connect(url);
    const broke = new Promise<Error>((resolve) => open.on("error", resolve));
    await server.restart();
    expect(await broke).toBeInstanceOf(Error);
    await open.end().catch(() => undefined);
    expect(server.port).toBe(port);
    expect(server.postmasterPid()).not.toBe(before);
    expect((await query(url, "SELECT k FROM t")).rows).toEqual([{ k: 1 }]);
  });

  it("kill -9 of the postmaster: connections fail, then a restart recovers what was committed", async () => {
    const url = await server.createDatabase("harness_crash");
    await query(url, "CREATE TABLE t (k int); INSERT INTO t VALUES (7)");
    const pid = server.postmasterPid()!;
    const open = await connect(url);
    open.on("error", () => undefined);
    await server.kill9();
    expect(alive(pid)).toBe(false);
    expect(server.running).toBe(false);
    await expect(query(url, "SELECT 1")).rejects.toThrow(/ECONNREFUSED/);
    // A backend notices its postmaster's death when it next waits, so a connection already open may still answer
    // a query or two; it ends shortly after.
    await expect.poll(() => open.query("SELECT 1").then(() => "answered", (e: Error) => e.message), { timeout: 5_000 }).not.toBe("answered");
    await open.end().catch(() => undefined);

    await server.restart();
    expect((await query(url, "SELECT k FROM t")).rows).toEqual([{ k: 7 }]);
  });

  it("stop() ends the server and removes its directory (and reports how long its start took)", async () => {
    const other = await startPostgres();
    const { directory, port } = other;
    const pid = other.postmasterPid()!;
    console.log(`PostgreSQL ${other.bin.version} from ${other.bin.dir}: started in ${Math.round(other.startMs)} ms`);
    expect(port).not.toBe(server.port);
    await other.stop();
    expect(alive(pid)).toBe(false);
    expect(existsSync(directory)).toBe(false);
    await expect(query(other.urlFor("beamsync"), "SELECT 1")).rejects.toThrow(/ECONNREFUSED/);
    await other.stop();
  });
});
