import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, REPO_ROOT, cleanEnv, runCli, writeConfig } from "../support/cli.js";

/** As in permissions.test.ts: root without its capabilities, so file modes apply as to the service user. */
const UNPRIVILEGED = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"];
const canDropPrivileges = () => spawnSync(UNPRIVILEGED[0]!, [...UNPRIVILEGED.slice(1), process.execPath, BIN, "--version"], { stdio: "ignore" }).status === 0;
import { closedBeamtime as bt, worldPerTest } from "../support/scicat-setup.js";

/** Issue 15, items 9 and 12: secrets from the environment are taken as given and never shown; messages say what is wrong. */

const worlds = worldPerTest();

/** Passwords the environment must pass through untouched (YAML would turn each into something else). */
const AWKWARD = { hash: "Tr0ub4dor #3", quoted: "'abc'", digits: "007", boolean: "true", bang: "!Tr0ub4dor&3" };

describe("secrets from the environment", () => {
  it("are the raw string for every awkward password, and none reaches any output", async () => {
    const users = Object.fromEntries(Object.entries(AWKWARD).map(([name, password]) => [name, { password, groups: ["ingestor"], admin: true }]));
    const w = await worlds.open({ beamtimes: [bt("env-secret")] }, { fake: { users } });
    for (const [user, password] of Object.entries(AWKWARD)) {
      const env = { BEAMSYNC_DESTINATIONS__SCICAT__USERNAME: user, BEAMSYNC_DESTINATIONS__SCICAT__PASSWORD: password };
      const doctor = await runCli(["doctor", "--json", "--config", w.configFile], { env });
      expect(doctor.code, `${user}: ${doctor.stdout}${doctor.stderr}`).toBe(0);
      if (password.includes("Tr0ub4dor")) expect(doctor.stdout + doctor.stderr, user).not.toContain(password);
    }
    const sync = await runCli(["sync", "--log-level", "debug", "--config", w.configFile], { env: { BEAMSYNC_DESTINATIONS__SCICAT__USERNAME: "bang", BEAMSYNC_DESTINATIONS__SCICAT__PASSWORD: AWKWARD.bang } });
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);
    expect(sync.stdout + sync.stderr).not.toContain("Tr0ub4dor");
  });
});

describe("messages that say what is wrong", () => {
  it("name the key, the variable and the path, and never mislead", async () => {
    const w = await worlds.open({ beamtimes: [bt("messages")] });
    const base = { dataRoot: w.dataRoot, destinations: { scicat: { url: w.scicat.url, username: "ingestor", password: w.password } }, http: { enabled: false } };
    const configIn = (name: string, extra: Record<string, unknown>) => writeConfig(path.join(w.dir, name), { ...base, stateDir: path.join(w.dir, name, "state"), ...extra });

    const eight = await runCli(["status", "--config", configIn("eight", { sync: { concurrency: "eight" } })]);
    expect(eight.code).toBe(2);
    expect(eight.stderr).toMatch(/sync\.concurrency: must be a number, not a string/);
    expect(eight.stderr).not.toMatch(/required/);

    const envConfig = configIn("env", {});
    const fromEnv = await runCli(["status", "--config", envConfig], { env: { BEAMSYNC_SYNC__CONCURRENCY: "abc" } });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/sync\.concurrency \(set by BEAMSYNC_SYNC__CONCURRENCY\): must be a number/);
    expect(fromEnv.stderr).not.toContain(envConfig);

    const fileInPlace = path.join(w.dir, "a-file");
    fs.writeFileSync(fileInPlace, "not a directory\n");
    const notDir = await runCli(["sync", "--config", writeConfig(path.join(w.dir, "notdir"), { ...base, stateDir: fileInPlace })]);
    expect(notDir.code).toBe(2);
    expect(notDir.stderr).toContain(`stateDir ${fileInPlace} is not a directory`);
    expect(notDir.stderr).not.toMatch(/EEXIST/);

    const garbageConfig = configIn("garbage", {});
    fs.mkdirSync(path.join(w.dir, "garbage", "state"), { recursive: true });
    const garbageFile = path.join(w.dir, "garbage", "state", "beamsync.sqlite");
    fs.writeFileSync(garbageFile, "this is not SQLite, it is a text file long enough to have a header ".repeat(20));
    for (const command of ["sync", "status"]) {
      const garbage = await runCli([command, "--config", garbageConfig]);
      expect(garbage.code, command).toBe(2);
      expect(garbage.stderr).toContain(`the state store ${garbageFile} is not a usable SQLite database`);
    }

    const badYaml = path.join(w.dir, "bad.yaml");
    fs.writeFileSync(badYaml, "sync: { concurrency: eight }\n");
    const doctor = await runCli(["doctor", "--json", "--config", badYaml]);
    expect(doctor.code).toBe(2);
    const report = JSON.parse(doctor.stdout) as { ok: boolean; checks: { name: string; severity: string; message: string }[] };
    expect(report.ok).toBe(false);
    expect(report.checks[0]?.message).toMatch(/sync\.concurrency/);
  });

  it.skipIf(!canDropPrivileges())("an unwritable stateDir is named, with the cause, not 'unable to open database file'", async () => {
    const w = await worlds.open({ beamtimes: [bt("unwritable")] });
    const stateDir = path.join(w.dir, "readonly-state");
    fs.mkdirSync(stateDir, { mode: 0o555 });
    fs.chmodSync(stateDir, 0o555);
    const config = writeConfig(path.join(w.dir, "ro"), { dataRoot: w.dataRoot, stateDir, destinations: { scicat: { url: w.scicat.url, username: "ingestor", password: w.password } }, http: { enabled: false } });
    const sync = await runCli(["sync", "--config", config], { prefix: UNPRIVILEGED });
    expect(sync.code).toBe(2);
    expect(sync.stderr).toContain(`stateDir ${stateDir} is not writable by this user (EACCES)`);
    expect(sync.stderr).toContain(`${stateDir}/beamsync.sqlite`);
  });

  it("doctor warns about a world-readable configuration that holds a password", async () => {
    const w = await worlds.open({ beamtimes: [bt("readable-config")] });
    fs.chmodSync(w.configFile, 0o644);
    const open = JSON.parse((await runCli(["doctor", "--json", "--config", w.configFile])).stdout) as { checks: { name: string; severity: string; message: string }[] };
    const warning = open.checks.find((c) => c.name === "configuration secrets");
    expect(warning?.severity).toBe("warning");
    expect(warning?.message).toMatch(/destinations\.scicat\.password.*mode 644/);
    expect(warning?.message).not.toContain(w.password);
    fs.chmodSync(w.configFile, 0o600);
    const closed = JSON.parse((await runCli(["doctor", "--json", "--config", w.configFile])).stdout) as { checks: { name: string }[] };
    expect(closed.checks.some((c) => c.name === "configuration secrets")).toBe(false);
  });

  it("a reader that closes the pipe early (| head) ends no command with an EPIPE stack", () => {
    for (const args of [["--help"], ["sync", "--help"]]) {
      // `true` exits without reading: every write of beamsync meets a closed pipe.
      const piped = spawnSync("sh", ["-c", `"${process.execPath}" "${BIN}" ${args.join(" ")} | true`], { cwd: REPO_ROOT, env: cleanEnv({}), encoding: "utf8" });
      expect(piped.stderr, args.join(" ")).not.toMatch(/EPIPE|Unhandled 'error' event/);
    }
  });
});
