import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { closedBeamtime, worldPerTest } from "../support/scicat-setup.js";

/** Issue 17 item 5 end to end: the fake SciCat takes `chk` and `chkAlg`, and a second sync sends nothing. */

const worlds = worldPerTest();

describe("files.checksum", () => {
  it("lands sha256 checksums in the catalog's file entries, once", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-06-01")] }, { config: { files: { checksum: "sha256" } } });
    const first = await runCli(["sync", "--config", w.configFile]);
    expect(first.code, first.stderr).toBe(0);
    const run = w.written.beamtimes[0]!.runs[0]!;
    const [block] = w.scicat.origdatablocks(`test/${run.uid}`);
    expect(block?.chkAlg).toBe("sha256");
    const folder = path.join(w.written.beamtimes[0]!.zarrPath, "runs", run.uid);
    for (const entry of block!.dataFileList as { path: string; chk: string }[]) {
      expect(entry.chk).toBe(createHash("sha256").update(fs.readFileSync(path.join(folder, entry.path))).digest("hex"));
    }
    expect(fs.existsSync(path.join(w.stateDir, "checksums.sqlite"))).toBe(true);
    w.scicat.resetRequests();
    const second = await runCli(["sync", "--config", w.configFile]);
    expect(second.code, second.stderr).toBe(0);
    expect(w.scicat.requests.filter((r) => r.method !== "GET" && !/auth/.test(r.path))).toEqual([]);
  });
});
