import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { REPO_ROOT } from "../support/cli.js";

/**
 * Issue 16.2–16.4: what the unit, the image, the compose example and the package promise, checked from the files
 * (CI installs the package and verifies the unit; no Docker daemon is there to build the image).
 */

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), "utf8");
const pkg = JSON.parse(read("package.json")) as { engines: { node: string }; files: string[]; dependencies: Record<string, string> };
const defaultPort = configSchema.parse({ dataRoot: "/data" }).http.port;
/** The Node versions .ci/node-matrix.sh runs the suite on, besides the machine's own. */
const matrixVersions = () => /NODE_VERSIONS:-([0-9. ]+)\}/.exec(read(".ci/node-matrix.sh"))![1]!.trim().split(" ");

/** `Key=value` lines of a unit file, several values per key kept in order. */
function unitSettings(file: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const line of read(file).split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) settings.set(match[1]!, [...(settings.get(match[1]!) ?? []), match[2]!]);
  }
  return settings;
}

describe("systemd unit", () => {
  const unit = unitSettings("systemd/beamsync.service");

  it("does not restart a configuration error, and loads no credential by itself", () => {
    expect(unit.get("RestartPreventExitStatus")).toEqual(["2"]);
    expect(unit.get("Restart")).toEqual(["on-failure"]);
    expect(unit.get("LoadCredential")).toBeUndefined();
    expect(unit.get("ExecStart")?.[0]).toMatch(/^\/opt\/beamsync\/bin\/beamsync run --config \/etc\/beamsync\/beamsync\.yaml$/);
  });

  it("has one credential drop-in per catalog, named as the example configuration reads it", () => {
    const example = read("config/beamsync.example.yaml");
    for (const catalog of ["scicat", "icat"]) {
      const dropIn = unitSettings(`systemd/beamsync.service.d/${catalog}-credentials.conf`);
      expect(dropIn.get("LoadCredential")).toEqual([`${catalog}-password:/etc/beamsync/credentials/${catalog}-password`]);
      expect(example).toContain(`\${CREDENTIALS_DIRECTORY}/${catalog}-password`);
    }
  });
});

describe("container image", () => {
  const dockerfile = read("Dockerfile");
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;

  it("is built on a Node LTS line that CI tests and package.json allows", () => {
    const major = /^ARG NODE_VERSION=(\d+)$/m.exec(dockerfile)?.[1];
    expect(Number(major)).toBeGreaterThanOrEqual(22);
    expect(stages.every((s) => s.startsWith("node:${NODE_VERSION}-"))).toBe(true);
    expect(matrixVersions()).toContain(major);
    expect(pkg.engines.node).toMatch(new RegExp(`(\\^|>=)${major}\\.`));
  });

  it("holds only the installed package, runs as a non-root uid, and checks health on the configured port", () => {
    expect(runtime.match(/^COPY .*$/gm)).toEqual(["COPY --from=build /opt/beamsync /opt/beamsync"]);
    expect(runtime).toMatch(/^USER [1-9]\d*:[1-9]\d*$/m);
    const healthcheck = /^HEALTHCHECK[^\n]*\\\n\s*CMD (.*)$/m.exec(runtime)?.[1] ?? "";
    expect(healthcheck).not.toMatch(/\d{4}/);
    expect(healthcheck).toContain("dist/src/ops/healthcheck.js");
    expect(fs.existsSync(path.join(REPO_ROOT, "src/ops/healthcheck.ts"))).toBe(true);
    expect(runtime).toContain(`EXPOSE ${defaultPort}`);
  });

  it("keeps local state and test data out of the build context", () => {
    const ignored = read(".dockerignore").split("\n");
    for (const entry of ["node_modules", "dist", ".git", "test/fixtures/realdocs"]) expect(ignored).toContain(entry);
  });

  it("the compose example hands its secret to the process where the configuration looks", () => {
    const compose = YAML.parse(read("deploy/compose.yaml")) as {
      services: { beamsync: { environment: Record<string, string>; secrets: string[]; ports: string[] } };
      secrets: Record<string, { file: string }>;
    };
    const service = compose.services.beamsync;
    expect(service.environment.CREDENTIALS_DIRECTORY).toBe("/run/secrets");
    expect(service.secrets).toEqual(["scicat-password"]);
    expect(Object.keys(compose.secrets)).toEqual(service.secrets);
    expect(service.ports).toEqual([`127.0.0.1:${defaultPort}:${defaultPort}`]);
  });
});

describe("package", () => {
  it("ships the product only: no tests, fakes, benchmark or demo", () => {
    expect(pkg.files).toEqual(expect.arrayContaining(["bin/", "dist/src/", "!dist/src/demo/", "config/", "systemd/", "deploy/"]));
    expect(pkg.files.filter((f) => /test|bench|^src/.test(f))).toEqual([]);
  });

  it("names the Node LTS lines CI runs, every 24.x included (better-sqlite3 13 there, src/sqlite.ts)", () => {
    for (const version of ["20", ...matrixVersions()]) expect(pkg.engines.node).toMatch(new RegExp(`(\\^|>=)${version.split(".")[0]}\\.`));
    expect(pkg.engines.node).not.toContain("<24.19.0");
    expect(pkg.dependencies["better-sqlite3-napi"]).toMatch(/^npm:better-sqlite3@\^13\./);
  });
});
