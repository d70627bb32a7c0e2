import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/cli.js";

/** Issue 16.1: a clone on a user's machine has no workspace beside it, so no test may reach outside the repository. */

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" ? [] : sourceFiles(full);
    return /\.(ts|js)$/.test(e.name) ? [full] : [];
  });
}

describe("self-contained tests", () => {
  it("no test or benchmark names a path above the repository", () => {
    const offenders = [...sourceFiles(path.join(REPO_ROOT, "test")), ...sourceFiles(path.join(REPO_ROOT, "bench"))]
      .filter((file) => file !== import.meta.filename)
      .filter((file) => /["'`]\.\.\/shared\b|\/work\/shared|REPO_ROOT, "\.\.\//.test(fs.readFileSync(file, "utf8")))
      .map((file) => path.relative(REPO_ROOT, file));
    expect(offenders).toEqual([]);
  });

  it("the real bluesky fixtures carry their origin and licence", () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "test/fixtures/realdocs/README.md"), "utf8");
    for (const dir of ["apstools", "databroker-pack-simple_catalog", "bluesky-tiled-plugins"]) {
      for (const file of fs.readdirSync(path.join(REPO_ROOT, "test/fixtures/realdocs", dir)).filter((f) => f.endsWith(".json"))) {
        expect(readme, `${dir}/${file}`).toContain(`${dir}/${file}`);
      }
    }
    expect(fs.readdirSync(path.join(REPO_ROOT, "test/fixtures/realdocs/LICENSES")).sort()).toEqual(["apstools.txt", "databroker-pack.txt"]);
  });
});
