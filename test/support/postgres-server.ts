import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import pg from "pg";

/**
 * A throwaway PostgreSQL server for the state tests, started by the tests themselves.
 *
 * One server per test file: `usePostgres()` at the top of a file (inside `describe.runIf(pgAvailable())`) starts it
 * in `beforeAll` and stops it and removes its directory in `afterAll`, whether the tests passed or not. A file may
 * restart or kill -9 its server without disturbing files that run in parallel (vitest runs two at a time), which a
 * server shared through globalSetup would not allow. A start takes 1.2 to 3 s on a loaded 2-core machine (initdb
 * most of it; the postmaster answers ~40 ms after its launch, a restart ~150 ms), so
 * `createDatabase(name)` gives each test its own database on the file's server instead of a server per test.
 *
 * The server: `initdb` into a fresh temporary directory (C locale, UTF8, no fsync: it holds nothing worth keeping),
 * trust authentication over the Unix socket (the harness's own admin connections, as the superuser `postgres`) and
 * SCRAM over TCP, where the only role that can log in is `beamsync` with PASSWORD below (it has `#`, `@` and other
 * characters a URL must escape; `url` carries it percent-encoded). It listens on 127.0.0.1 on a free port, with
 * `unix_socket_directories` set to the temporary directory.
 *
 * initdb and postgres refuse to run as root: as root (CI) the server binaries run as the `postgres` system user
 * (else `nobody`) through `setpriv`, and the temporary directory belongs to that user; otherwise they run directly.
 * The postmaster is this process's child, started with a parent-death signal (SIGKILL) where `setpriv` exists, so a
 * test worker that dies without running `afterAll` does not leave a server behind (its directory then stays).
 *
 *   describe.runIf(pgAvailable())("the PostgreSQL state", () => {
 *     const server = usePostgres();
 *     it("…", async () => { const url = await server.createDatabase("state_case_1"); … server.kill9(); server.restart(); });
 *   });
 *
 * When the binaries are missing, `pgAvailable()` throws on CI (`CI` set, and not to false or 0) and otherwise
 * returns false after saying how to install them, so the PostgreSQL tests are skipped.
 */

export const PASSWORD = "b#am@sync:p%ss/word w?th&more";
const ROLE = "beamsync";
const SUPERUSER = "postgres";
const INSTALL_HINT = "install Debian's server package (apt-get install postgresql: its binaries go to /usr/lib/postgresql/NN/bin, which is searched)";

export interface PgBinaries {
  dir: string;
  version: string;
}

function postgresVersion(dir: string): string | undefined {
  const result = spawnSync(join(dir, "postgres"), ["--version"], { encoding: "utf8" });
  return result.status === 0 ? /(\d+(?:\.\d+)*)/.exec(result.stdout)?.[1] : undefined;
}

function compareVersions(a: string, b: string): number {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

let found: PgBinaries | null | undefined;

/**
 * The newest installation that has initdb, pg_ctl and postgres side by side: the one `initdb` on PATH belongs to
 * (symlinks followed) and each /usr/lib/postgresql/NN/bin (Debian's, not on PATH). On a tie PATH wins.
 */
export function findPostgresBinaries(): PgBinaries | undefined {
  if (found !== undefined) return found ?? undefined;
  const dirs: string[] = [];
  for (const entry of (process.env.PATH ?? "").split(delimiter)) {
    if (entry && existsSync(join(entry, "initdb"))) {
      dirs.push(dirname(realpathSync(join(entry, "initdb"))));
      break;
    }
  }
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) for (const v of readdirSync(debian)) dirs.push(join(debian, v, "bin"));
  let best: PgBinaries | undefined;
  for (const dir of dirs) {
    if (!["initdb", "pg_ctl", "postgres"].every((b) => existsSync(join(dir, b)))) continue;
    const version = postgresVersion(dir);
    if (version && (!best || compareVersions(version, best.version) > 0)) best = { dir, version };
  }
  found = best ?? null;
  return best;
}

let warned = false;

/** Whether the tests can start a server; throws on CI when they cannot (see the top of this file). */
export function pgAvailable(): boolean {
  if (findPostgresBinaries()) return true;
  const message = `PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or under /usr/lib/postgresql/*/bin: ${INSTALL_HINT}`;
  const ci = process.env.CI !== undefined && !["", "0", "false"].includes(process.env.CI);
  if (ci) throw new Error(`${message}. On CI the PostgreSQL tests must run (.ci/run installs it).`);
  if (!warned) console.warn(`${message}. Skipping the PostgreSQL tests.`);
  warned = true;
  return false;
}

interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

/** As root, the system user the server runs as: `postgres`, else `nobody`. */
function serverUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ["postgres", "nobody"]) {
    const uid = spawnSync("id", ["-u", user], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", user], { encoding: "utf8" });
    if (uid.status === 0 && gid.status === 0) return { user, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  throw new Error("running as root, but there is neither a postgres nor a nobody user to run the PostgreSQL server as");
}

const hasSetpriv = spawnSync("setpriv", ["--version"]).status === 0;

/** The command line that runs a server binary as `as` (or as ourselves), with a parent-death signal if asked. */
function command(bin: string, args: string[], as: RunAs | undefined, pdeathsig = false): [string, string[]] {
  if (as && hasSetpriv) {
    return ["setpriv", [`--reuid=${as.uid}`, `--regid=${as.gid}`, "--init-groups", ...(pdeathsig ? ["--pdeathsig", "SIGKILL"] : []), "--", bin, ...args]];
  }
  if (as) return ["runuser", ["-u", as.user, "--", bin, ...args]];
  if (pdeathsig && hasSetpriv) return ["setpriv", ["--pdeathsig", "SIGKILL", "--", bin, ...args]];
  return [bin, args];
}

/** A directory under which the server user can reach its own directory (as root, TMPDIR may be private). */
function tempParent(as: RunAs | undefined): string {
  const base = tmpdir();
  if (!as) return base;
  for (let dir = realpathSync(base); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return "/tmp";
    if (dir === dirname(dir)) return base;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every server started and not yet stopped, killed if the process exits without stopping them. */
const live = new Set<PostgresServer>();
process.once("exit", () => {
  for (const server of live) server.abandon();
});

export class PostgresServer {
  readonly password = PASSWORD;
  private binaries?: PgBinaries;
  private as?: RunAs;
  private dir?: string;
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private portNumber?: number;
  /** Milliseconds the last start took (initdb included for the first one). */
  startMs = 0;

  /** The installation in use (found when the server starts). */
  get bin(): PgBinaries {
    if (!this.binaries) throw new Error("the PostgreSQL server has not been started");
    return this.binaries;
  }

  get port(): number {
    if (this.portNumber === undefined) throw new Error("the PostgreSQL server has not been started");
    return this.portNumber;
  }

  /** The `beamsync` role's URL for `database`, the password percent-encoded. */
  urlFor(database: string): string {
    return `postgres://${ROLE}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  /** The `beamsync` database, owned by the `beamsync` role. */
  get url(): string {
    return this.urlFor(ROLE);
  }

  /** The temporary directory: data/, server.log and the Unix socket. */
  get directory(): string {
    if (!this.dir) throw new Error("the PostgreSQL server has not been started");
    return this.dir;
  }

  private get data(): string {
    return join(this.directory, "data");
  }

  /** The server's log so far (its stderr), for failure messages. */
  log(): string {
    try {
      return readFileSync(join(this.directory, "server.log"), "utf8");
    } catch {
      return "";
    }
  }

  private run(bin: string, args: string[]): void {
    const [cmd, argv] = command(join(this.bin.dir, bin), args, this.as);
    const result = spawnSync(cmd, argv, { cwd: this.directory, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
    if (result.status !== 0) {
      throw new Error(`${bin} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`}): ${result.stderr}${result.stdout}`);
    }
  }

  /** initdb, start, then the role and database. */
  async start(): Promise<this> {
    if (this.dir) throw new Error("already started");
    const began = performance.now();
    this.binaries = findPostgresBinaries();
    if (!this.binaries) throw new Error(`PostgreSQL server binaries not found: ${INSTALL_HINT}`);
    this.as = serverUser();
    this.dir = mkdtempSync(join(tempParent(this.as), "beamsync-pg-"));
    live.add(this);
    if (this.as) spawnSync("chown", [`${this.as.uid}:${this.as.gid}`, this.dir]);
    this.run("initdb", ["-D", this.data, "-U", SUPERUSER, "--auth=trust", "--locale=C", "--encoding=UTF8", "--no-sync", "--no-instructions"]);
    // Overwrites initdb's file in place (owner and mode stay the server user's).
    writeFileSync(
      join(this.data, "pg_hba.conf"),
      ["# test/support/postgres.ts: trust on the socket (admin), SCRAM over TCP", "local all all trust", "host all all 127.0.0.1/32 scram-sha-256", "host all all ::1/128 scram-sha-256", ""].join("\n"),
    );
    for (let attempt = 1; ; attempt++) {
      this.portNumber = await freePort();
      try {
        await this.launch();
        break;
      } catch (error) {
        // Another process took the port between our probe and the postmaster's bind.
        if (attempt < 3 && /Address already in use/.test(this.log())) continue;
        throw error;
      }
    }
    await this.admin(async (c) => {
      await c.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD.replaceAll("'", "''")}'`);
      await c.query(`CREATE DATABASE ${ROLE} OWNER ${ROLE}`);
    });
    this.startMs = performance.now() - began;
    return this;
  }

  /** Starts the postmaster on the data directory and port we have, and waits until it answers. */
  private async launch(): Promise<void> {
    const began = performance.now();
    const settings = {
      listen_addresses: "127.0.0.1",
      port: String(this.port),
      unix_socket_directories: this.directory,
      // No fsync: a commit still reaches the kernel before it is acknowledged, so it survives a kill -9 of the
      // server (not of the machine). synchronous_commit stays on: off loses the last ~200 ms of commits to kill -9.
      fsync: "off",
      max_connections: "50",
      shared_buffers: "16MB",
    };
    const args = ["-D", this.data, ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])];
    const logFd = openSync(join(this.directory, "server.log"), "a");
    const [cmd, argv] = command(join(this.bin.dir, "postgres"), args, this.as, true);
    let child: ChildProcess;
    try {
      child = spawn(cmd, argv, { cwd: this.directory, stdio: ["ignore", logFd, logFd], env: { ...process.env, LC_ALL: "C" } });
    } finally {
      closeSync(logFd);
    }
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    let gone = false;
    void this.exited.then(() => (gone = true));
    for (;;) {
      if (gone) throw new Error(`the PostgreSQL server exited while starting:\n${this.log().slice(-2000)}`);
      if (performance.now() - began > 30_000) throw new Error(`the PostgreSQL server did not accept connections within 30 s:\n${this.log().slice(-2000)}`);
      try {
        await this.admin((c) => c.query("SELECT 1"));
        return;
      } catch {
        await sleep(25);
      }
    }
  }

  /** A short-lived superuser connection over the Unix socket. */
  async admin<T>(fn: (client: pg.Client) => Promise<T>, database = "postgres"): Promise<T> {
    const client = new pg.Client({ host: this.directory, port: this.port, user: SUPERUSER, database });
    client.on("error", () => undefined);
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** A fresh database owned by `beamsync`; answers its URL. */
  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
    await this.admin((c) => c.query(`CREATE DATABASE ${name} OWNER ${ROLE}`));
    return this.urlFor(name);
  }

  /** The postmaster's process id, from postmaster.pid (the child may be setpriv's or runuser's). */
  postmasterPid(): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.data, "postmaster.pid"), "utf8").split("\n")[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether the postmaster we started is still running. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * `pg_ctl stop -m fast` (when it is running), then start again on the same port and data: the postmaster itself,
   * as our child like the first time, not `pg_ctl start`, which would detach it from the parent-death signal.
   */
  async restart(options: { downMs?: number } = {}): Promise<void> {
    await this.shutdown();
    // A server that stays away a while (a failover, a maintenance window), not one that is back at once.
    if (options.downMs) await sleep(options.downMs);
    // After a kill -9 the old backends notice the postmaster's death and leave; until they have, the postmaster
    // refuses the data directory ("pre-existing shared memory block is still in use").
    const began = performance.now();
    for (;;) {
      try {
        await this.launch();
        return;
      } catch (error) {
        if (performance.now() - began > 10_000 || !/pre-existing shared memory|lock file .* already exists/.test(String(error))) throw error;
        await sleep(100);
      }
    }
  }

  /** SIGKILL to the postmaster, as a crash would; waits until it is gone. Its backends die shortly after. */
  async kill9(): Promise<void> {
    const pid = this.postmasterPid();
    if (pid === undefined || !this.running) throw new Error("the PostgreSQL server is not running");
    process.kill(pid, "SIGKILL");
    await this.exited;
  }

  private async shutdown(): Promise<void> {
    if (!this.running) return;
    try {
      this.run("pg_ctl", ["stop", "-D", this.data, "-m", "fast", "-w", "-t", "30"]);
    } catch {
      this.child?.kill("SIGKILL");
    }
    await this.exited;
  }

  /** Stops the server (fast) and removes its directory. Safe to call twice or after a failed start. */
  async stop(): Promise<void> {
    if (!this.dir) return;
    try {
      await this.shutdown();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
      live.delete(this);
      this.dir = undefined;
    }
  }

  /** On process exit without stop(): kill and remove, synchronously. */
  abandon(): void {
    const pid = this.postmasterPid();
    if (pid !== undefined && this.running) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a server; the caller stops it. */
export async function startPostgres(): Promise<PostgresServer> {
  const server = new PostgresServer();
  try {
    return await server.start();
  } catch (error) {
    await server.stop();
    throw error;
  }
}
