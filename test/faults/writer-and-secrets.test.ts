import path from "node:path";
import { describe, expect, it } from "vitest";
import { runChildWriter } from "../fixtures/resonance/index.js";
import { runCli, spawnCli, waitFor, writeConfig } from "../support/cli.js";
import { worldPerTest } from "../support/scicat-setup.js";
import { treeDigest } from "./helpers.js";

const worlds = worldPerTest();

describe("the beamline is never disturbed", () => {
  it("a writer in another process commits every run without error while beamsync reads, and a sync changes no file", async () => {
    const w = await worlds.open({ beamtimes: [{ label: "2026-08-01", researcher: "Rosalind Franklin", samples: [{ name: "dna" }], runs: 3 }] });
    const db = w.written.beamtimes[0]!.absDbPath;
    const daemon = spawnCli(["run", "--config", w.configFile]);
    try {
      const writer = runChildWriter(db, { runs: 25, events: 20, pauseMs: 5 });
      // Meanwhile one-shot syncs read the same file as hard as they can.
      const hammer = (async () => {
        for (let i = 0; i < 5; i++) await runCli(["sync", "--dry-run", "--no-remote-diff", "--json", "--config", w.configFile]);
      })();
      const result = await writer.done;
      await hammer;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).not.toMatch(/locked|busy/i);
      expect(result.uids).toHaveLength(25);
      await waitFor(() => result.uids.every((uid) => w.scicat.datasets().some((d) => d.pid === `test/${uid}`)), { what: "the writer's runs in the catalog", timeoutMs: 60_000 });
    } finally {
      daemon.child.kill("SIGTERM");
      await daemon.exited;
    }
    const before = treeDigest(w.dataRoot);
    await runCli(["resync", "--all", "--config", w.configFile]);
    expect(treeDigest(w.dataRoot)).toEqual(before);
  });
});

describe("secrets", () => {
  it("never show the password or a token in output, logs, upload_log or status, also when things fail", async () => {
    const w = await worlds.open({ beamtimes: [{ label: "2026-08-02", researcher: "Emmy Noether", samples: [{ name: "ring" }], runs: 4 }] });
    const outputs: string[] = [];
    const collect = (r: { stdout: string; stderr: string }) => outputs.push(r.stdout, r.stderr);

    w.scicat.failNext(2, 500);
    w.scicat.failNext(1, 400, { match: { method: "POST", path: /\/datasets$/i }, body: { message: ["contactEmail must be an email"], statusCode: 400 } });
    collect(await runCli(["sync", "--log-level", "debug", "--config", w.configFile]));
    collect(await runCli(["status", "--json", "--config", w.configFile]));
    collect(await runCli(["log", "--json", "--config", w.configFile]));
    collect(await runCli(["doctor", "--json", "--config", w.configFile]));
    collect(await runCli(["sync", "--dry-run", "--json", "--config", w.configFile]));

    const daemon = spawnCli(["run", "--log-level", "debug", "--config", w.configFile]);
    await new Promise((r) => setTimeout(r, 1500));
    w.scicat.expireTokens();
    await new Promise((r) => setTimeout(r, 500));
    daemon.child.kill("SIGTERM");
    await daemon.exited;
    outputs.push(daemon.lines.join("\n"), daemon.stderr());

    // Wrong password: the error path that is most tempted to echo it.
    const badConfig = writeConfig(path.join(w.dir, "bad"), {
      dataRoot: w.dataRoot,
      stateDir: path.join(w.dir, "bad-state"),
      destinations: { scicat: { url: w.scicat.url, username: "ingestor", password: "Wr0ng-Passw0rd!" } },
      http: { enabled: false },
    });
    collect(await runCli(["sync", "--log-level", "debug", "--config", badConfig]));
    collect(await runCli(["doctor", "--config", badConfig]));

    const everything = outputs.join("\n") + JSON.stringify(w.uploadLog());
    expect(everything).not.toContain(w.password);
    expect(everything).not.toContain("Wr0ng-Passw0rd!");
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });
});
