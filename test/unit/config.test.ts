import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/loader.js";
import { UsageError } from "../../src/sync/errors.js";
import { scrubSecrets } from "../../src/ops/logger.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "beamsync-config-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe("configuration loader", () => {
  it("fills defaults and resolves paths relative to the file", () => {
    const file = write("beamsync.yaml", "dataRoot: data\nstateDir: state\n");
    const { config } = loadConfig({ configPath: file, env: {} });
    expect(config.dataRoot).toBe(path.join(dir, "data"));
    expect(config.stateDir).toBe(path.join(dir, "state"));
    expect(config.sync.concurrency).toBe(8);
    expect(config.sources.resonance.indexFile).toBe("index.db");
    expect(config.destinations.scicat.enabled).toBe(false);
    expect(config.http.port).toBe(9464);
  });

  it("carries HTTP over undici unless destinations.*.transport says node-http", () => {
    const file = write("beamsync.yaml", "dataRoot: /d\ndestinations:\n  icat: { transport: node-http }\n");
    const { config } = loadConfig({ configPath: file, env: { BEAMSYNC_DESTINATIONS__SCICAT__TRANSPORT: "node-http", BEAMSYNC_DESTINATIONS__SCICAT__PASSWORD: "p" } });
    expect(config.destinations.scicat.transport).toBe("node-http");
    expect(config.destinations.icat.transport).toBe("node-http");
    expect(loadConfig({ configPath: write("plain.yaml", "dataRoot: /d\n"), env: {} }).config.destinations.scicat.transport).toBe("undici");
    expect(() => loadConfig({ configPath: write("bad.yaml", "dataRoot: /d\ndestinations: { scicat: { transport: fetch } }\n"), env: {} })).toThrow(/transport/);
  });

  it("names the key and the fix for a bad value", () => {
    const file = write("beamsync.yaml", "dataRoot: /d\nsync: { concurrency: 0, reconcileCron: 'every day' }\nlog: { level: loud }\n");
    let message = "";
    try {
      loadConfig({ configPath: file, env: {} });
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      message = (err as Error).message;
    }
    expect(message).toContain("sync.concurrency");
    expect(message).toContain("sync.reconcileCron");
    expect(message).toContain("cron expression");
    expect(message).toContain("log.level");
    expect(message).toMatch(/one of "error", "warn", "info", "debug"/);
  });

  it("rejects unknown keys with a hint", () => {
    const file = write("beamsync.yaml", "dataRoot: /d\ndestinations: { scicat: { enabled: false, pasword: x } }\n");
    expect(() => loadConfig({ configPath: file, env: {} })).toThrow(/destinations\.scicat: unknown key\(s\) "pasword"/);
  });

  it("explains a missing file", () => {
    expect(() => loadConfig({ configPath: path.join(dir, "nope.yaml"), env: {} })).toThrow(/not found: pass --config FILE, set BEAMSYNC_CONFIG/);
  });

  it("applies BEAMSYNC_* environment overrides over the file", () => {
    const file = write("beamsync.yaml", "dataRoot: /d\ndestinations: { scicat: { enabled: true, url: 'http://127.0.0.1:1/api', password: from-file } }\n");
    const { config } = loadConfig({
      configPath: file,
      env: { BEAMSYNC_DESTINATIONS__SCICAT__PASSWORD: "from-env", BEAMSYNC_SYNC__CONCURRENCY: "3", BEAMSYNC_MAPPING__OWNERGROUP: "grp", BEAMSYNC_CONFIG: file },
    });
    expect(config.destinations.scicat.password).toBe("from-env");
    expect(config.sync.concurrency).toBe(3);
    expect(config.mapping.ownerGroup).toBe("grp");
  });

  it("reads passwordFile, expanding $CREDENTIALS_DIRECTORY, and registers it as a secret", () => {
    fs.mkdirSync(path.join(dir, "creds"));
    fs.writeFileSync(path.join(dir, "creds", "scicat"), "s3cret-pass\n");
    const file = write(
      "beamsync.yaml",
      "dataRoot: /d\ndestinations: { scicat: { enabled: true, passwordFile: '${CREDENTIALS_DIRECTORY}/scicat' } }\n",
    );
    const { config } = loadConfig({ configPath: file, env: { CREDENTIALS_DIRECTORY: path.join(dir, "creds") } });
    expect(config.destinations.scicat.password).toBe("s3cret-pass");
    expect(scrubSecrets("login failed for s3cret-pass")).not.toContain("s3cret-pass");
  });

  it("requires credentials for an enabled catalog and says how to give them", () => {
    const file = write("beamsync.yaml", "dataRoot: /d\ndestinations: { icat: { enabled: true } }\n");
    expect(() => loadConfig({ configPath: file, env: {} })).toThrow(/destinations\.icat: no credentials; set password or passwordFile/);
  });

  it("reports an unreadable passwordFile by key", () => {
    const file = write("beamsync.yaml", "dataRoot: /d\ndestinations: { scicat: { enabled: true, passwordFile: missing.txt } }\n");
    expect(() => loadConfig({ configPath: file, env: {} })).toThrow(/destinations\.scicat\.passwordFile: cannot read .*missing\.txt \(ENOENT\)/);
  });
});
