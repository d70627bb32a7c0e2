import fs from "node:fs";
import { Database } from "../../src/sqlite.js";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { appendRun } from "../fixtures/resonance/append-run.js";
import type { Doc } from "../fakes/scicat/store.js";
import { runCli, spawnCli, waitFor } from "../support/cli.js";
import { closedBeamtime, worldPerTest, type ScicatWorld } from "../support/scicat-setup.js";

/**
 * Issue 12: against a fake that answers as the recorded SciCat backend does (test/fixtures/scicat-exchanges),
 * unkind parts included, beamsync's updates land, unexpected answers are errors, login trouble is the catalog's,
 * every exchange has a deadline, curators' edits survive, and configuration changes reach the catalog.
 */

const worlds = worldPerTest();
const MAINTENANCE = { text: "<!DOCTYPE html><html><head><title>Down for maintenance</title></head><body>back soon</body></html>", contentType: "text/html" };

type Status = { records: Record<string, { pending: number; synced: number; failed: number; dead: number }>; conflicts: { records: number; recent: { record: string; fields: { field: string }[] }[] } };

async function status(w: ScicatWorld): Promise<Status> {
  const result = await runCli(["status", "--json", "--config", w.configFile]);
  return JSON.parse(result.stdout) as Status;
}

/**
 * Every dataset: at most one block per file list (none for a run of scalars alone: its data is in the beamtime
 * DB, which no run lists), and size / numberOfFiles as its blocks add up.
 */
function expectHonestFileTotals(w: ScicatWorld): void {
  const datasets = w.scicat.datasets();
  expect(datasets.length).toBeGreaterThan(0);
  for (const dataset of datasets) {
    const blocks = w.scicat.origdatablocks(String(dataset.pid));
    expect(blocks.length, `blocks of ${String(dataset.pid)}`).toBeLessThanOrEqual(1);
    const files = blocks.flatMap((b) => b.dataFileList as { path: string; size: number }[]);
    expect(new Set(files.map((f) => f.path)).size).toBe(files.length);
    expect(dataset.numberOfFiles ?? 0, `numberOfFiles of ${String(dataset.pid)}`).toBe(files.length);
    expect(dataset.size ?? 0, `size of ${String(dataset.pid)}`).toBe(files.reduce((n, f) => n + f.size, 0));
  }
}

function rewriteConfig(w: ScicatWorld, change: (doc: Record<string, Record<string, unknown>>) => void): void {
  const doc = YAML.parse(fs.readFileSync(w.configFile, "utf8")) as Record<string, Record<string, unknown>>;
  change(doc);
  fs.writeFileSync(w.configFile, YAML.stringify(doc));
}

/** A curator's edit through the catalog's own API (a v4 PATCH, which also zeroes the dataset's size: datasets/12). */
async function curatorPatch(w: ScicatWorld, pid: string, body: Doc): Promise<void> {
  const login = await fetch(`${w.scicat.url}/v3/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "ingestor", password: w.password }) });
  const { access_token: token } = (await login.json()) as { access_token: string };
  const response = await fetch(`${w.scicat.url}/v4/datasets/${encodeURIComponent(pid)}`, {
    method: "PATCH",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
}

const sync = (w: ScicatWorld, ...extra: string[]) => runCli(["sync", "--config", w.configFile, ...extra]);

describe("updates the real SciCat accepts", () => {
  it("a growing beamtime DB, resync --all twice, a configuration change and a rebuilt state store end with 0 failed, one block per file list and honest sizes", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-05-01")] });
    expect((await sync(w)).code).toBe(0);
    expectHonestFileTotals(w);

    // The beamtime DB, listed by every run, grows with a new run: every older file list changes on resync.
    appendRun({ db: w.written.beamtimes[0]!.absDbPath, frames: 1 });
    const grown = await sync(w);
    expect(grown.code, grown.stdout + grown.stderr).toBe(0);
    for (let i = 0; i < 2; i++) {
      const again = await runCli(["resync", "--all", "--config", w.configFile]);
      expect(again.code, again.stdout + again.stderr).toBe(0);
    }
    // A change of access groups updates every dataset (a v4 PATCH, which on its own would zero the sizes).
    rewriteConfig(w, (doc) => (doc.mapping!.accessGroups = ["staff", "beamline-readers"]));
    expect((await sync(w)).code).toBe(0);
    expect(w.scicat.datasets().every((d) => JSON.stringify(d.accessGroups) === JSON.stringify(["staff", "beamline-readers"]))).toBe(true);

    // A state store rebuilt from nothing meets every record already in the catalog.
    fs.rmSync(w.stateDir, { recursive: true });
    const rebuilt = await sync(w);
    expect(rebuilt.code, rebuilt.stdout + rebuilt.stderr).toBe(0);

    const counts = (await status(w)).records.scicat!;
    expect(counts.failed + counts.dead + counts.pending).toBe(0);
    expect(w.uploadLog().filter((r) => r.success === 0)).toEqual([]);
    expect(w.scicat.datasets()).toHaveLength(3);
    expectHonestFileTotals(w);
  });
});

describe("answers that are not what was asked for", () => {
  it("a create answered with a maintenance page is an error naming the URL, and the dataset still lands once", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-05-02")] });
    w.scicat.failNext(1, 200, { match: { method: "POST", path: /\/v4\/datasets$/i }, ...MAINTENANCE });
    const result = await sync(w);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const failures = w.uploadLog().filter((r) => r.success === 0);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.error_message).toMatch(/answered POST http:\/\/127\.0\.0\.1:\d+\/api\/v4\/datasets with HTTP 200 and an HTML page \(text\/html\): "Down for maintenance"/);
    expect(w.scicat.datasets()).toHaveLength(2);
    expectHonestFileTotals(w);
  });

  it("a block listing answered with an empty body or HTML is not 'no blocks yet': nothing is posted twice", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-05-03")] });
    expect((await sync(w)).code).toBe(0);
    const listing = { method: "GET", path: /\/origdatablocks$/i };
    w.scicat.failNext(1, 200, { match: listing, text: "" });
    w.scicat.failNext(1, 200, { match: listing, ...MAINTENANCE });
    const result = await runCli(["resync", "--all", "--config", w.configFile]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(w.uploadLog().filter((r) => r.success === 0).map((r) => r.error_message)).toEqual([expect.stringMatching(/an empty body \(no content-type\)/), expect.stringMatching(/an HTML page/)]);
    expectHonestFileTotals(w);
  });
});

describe("catalog-wide trouble is not a record's failure", () => {
  it("a login refused for a while (LDAP down) leaves every record pending, and they go on by themselves", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-05-04")] });
    w.scicat.failNext(2, 401, { match: { method: "POST", path: /\/auth\/login$/i }, body: { message: "Unauthorized", statusCode: 401 } });
    const result = await sync(w);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const log = w.uploadLog();
    expect(log.filter((r) => r.success === 0).length).toBeGreaterThan(0);
    for (const row of log.filter((r) => r.success === 0)) expect(row.error_message).toMatch(/refused the login of ingestor \(HTTP 401.*LDAP/);
    expect((await status(w)).records.scicat).toMatchObject({ failed: 0, dead: 0, pending: 0 });
  });

  it("a wrong password or a maintenance page at login keeps records pending (exit 1, no retry needed once fixed)", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-05-05")] });
    rewriteConfig(w, (doc) => ((doc.destinations!.scicat as Record<string, unknown>).password = "wrong # password"));
    const refused = await sync(w);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/scicat: unreachable/);
    expect(refused.stdout + refused.stderr).not.toContain("wrong # password");
    const waiting = (await status(w)).records.scicat!;
    expect(waiting.failed + waiting.dead).toBe(0);
    expect(waiting.pending).toBeGreaterThan(0);

    rewriteConfig(w, (doc) => ((doc.destinations!.scicat as Record<string, unknown>).password = w.password));
    w.scicat.failNext(1, 200, { match: { method: "POST", path: /\/auth\/login$/i }, ...MAINTENANCE });
    const healed = await sync(w);
    expect(healed.code, healed.stdout + healed.stderr).toBe(0);
    expect(w.scicat.datasets()).toHaveLength(2);
    expect(w.uploadLog().filter((r) => r.success === 0).some((r) => /HTML page.*access_token/.test(r.error_message ?? ""))).toBe(true);
  });

  it("a running daemon whose login is refused is not ready and says why, then goes on by itself", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-05-12")] }, { config: { http: { enabled: true, host: "127.0.0.1", port: 0 }, log: { level: "info", format: "json" } } });
    w.scicat.failNext(4, 401, { match: { method: "POST", path: /\/auth\/login$/i }, body: { message: "Unauthorized", statusCode: 401 } });
    const daemon = spawnCli(["run", "--config", w.configFile]);
    try {
      const listening = await waitFor(() => daemon.lines.map((l) => JSON.parse(l) as { message: string; url?: string }).find((l) => /listening/.test(l.message)), { what: "ops server" });
      const readyz = await waitFor(async () => {
        const response = await fetch(`${listening.url!}/readyz`);
        const body = (await response.json()) as { checks: Record<string, { ok: boolean; message: string }> };
        return response.status === 503 && /refused the login/.test(body.checks.scicat?.message ?? "") ? body : undefined;
      }, { what: "/readyz naming the refused login" });
      expect(readyz.checks.scicat!.message).toMatch(/HTTP 401/);
      await waitFor(() => w.scicat.datasets().length === 2, { what: "the pushes once login works" });
      expect((await status(w)).records.scicat).toMatchObject({ failed: 0, dead: 0 });
    } finally {
      daemon.child.kill("SIGTERM");
      expect(await daemon.exited).toBe(0);
    }
  });

  it("a URL without /api says so in sync and in doctor", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-05-06")] });
    rewriteConfig(w, (doc) => ((doc.destinations!.scicat as Record<string, unknown>).url = w.scicat.origin));
    const result = await sync(w);
    expect(result.code).toBe(1);
    const reasons = w.uploadLog().map((r) => r.error_message ?? "");
    expect(reasons.some((r) => r.includes(`destinations.scicat.url must be the API root ending in /api (e.g. ${w.scicat.origin}/api)`))).toBe(true);
    const doctor = await runCli(["doctor", "--json", "--config", w.configFile]);
    expect(doctor.stdout).toContain(`must be the API root ending in /api (e.g. ${w.scicat.origin}/api)`);
    expect((await status(w)).records.scicat).toMatchObject({ failed: 0, dead: 0 });
  });
});

describe("every exchange has a deadline", () => {
  it("an answer trickling a byte at a time is cut at timeoutMs and retried", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-05-07")] }, { scicat: { timeoutMs: 1500 } });
    w.scicat.trickleNext(1, { method: "POST", path: /\/v4\/datasets$/i }, { intervalMs: 100 });
    const result = await sync(w);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(w.uploadLog().filter((r) => r.success === 0).map((r) => r.error_message)).toEqual([expect.stringMatching(/no answer from SciCat within 1500 ms for the whole exchange/)]);
    expect(w.scicat.datasets()).toHaveLength(2);
  });

  it("SIGTERM ends a sync stuck on a trickling answer after sync.shutdownTimeoutMs, its record left pending", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-05-08")] }, { scicat: { timeoutMs: 600_000 }, config: { sync: { concurrency: 1, shutdownTimeoutMs: 300 } } });
    w.scicat.trickleNext(1, { method: "POST", path: /\/v4\/datasets$/i }, { intervalMs: 1000 });
    const proc = spawnCli(["sync", "--no-progress", "--config", w.configFile]);
    await waitFor(() => w.scicat.requests.some((r) => /\/v4\/datasets$/i.test(r.path)), { what: "the trickled create" });
    proc.child.kill("SIGTERM");
    expect(await proc.exited).toBe(1);
    const counts = (await status(w)).records.scicat!;
    expect(counts.failed + counts.dead).toBe(0);
    expect(counts.pending).toBeGreaterThan(0);
  });
});

describe("curators' edits survive", () => {
  it("keys and keywords a curator added stay through an update; a field changed on both sides keeps the curator's value and is shown until resync --force", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-05-09")] });
    expect((await sync(w)).code).toBe(0);
    const [first, second] = w.scicat.datasets().sort((a, b) => String(a.pid).localeCompare(String(b.pid)));
    const pid = String(first!.pid);
    await curatorPatch(w, pid, {
      scientificMetadata: { ...(first!.scientificMetadata as Doc), curator_note: { value: "checked", unit: "" } },
      keywords: [...(first!.keywords as string[]), "curated"],
      datasetName: "Curated name",
    });

    // The source changes: a new keyword for every run (configuration) and a renamed sample (the beamtime DB).
    rewriteConfig(w, (doc) => (doc.mapping!.keywords = ["nexafs-campaign"]));
    const db = new Database(w.written.beamtimes[0]!.absDbPath);
    db.prepare("UPDATE samples SET name = 'renamed sample'").run();
    db.close();

    const preview = await runCli(["sync", "--dry-run", "--json", "--config", w.configFile]);
    const planned = (JSON.parse(preview.stdout) as { changes: { key: string; kind: string; conflicts?: { field: string }[] }[] }).changes.find((c) => c.kind === "dataset" && c.key === pid);
    expect(planned?.conflicts?.map((c) => c.field)).toEqual(["datasetName"]);

    expect((await sync(w)).code).toBe(0);
    const curated = w.scicat.datasets().find((d) => d.pid === pid)!;
    expect(curated.datasetName).toBe("Curated name");
    expect((curated.scientificMetadata as Doc).curator_note).toMatchObject({ value: "checked" });
    expect(curated.keywords).toEqual(expect.arrayContaining(["curated", "nexafs-campaign"]));
    const untouched = w.scicat.datasets().find((d) => d.pid === second!.pid)!;
    expect(String(untouched.datasetName)).toContain("renamed sample");
    expectHonestFileTotals(w);

    const shown = await status(w);
    expect(shown.conflicts.records).toBe(1);
    expect(shown.conflicts.recent[0]!.fields.map((f) => f.field)).toEqual(["datasetName"]);
    const text = await runCli(["status", "--config", w.configFile]);
    expect(text.stdout).toMatch(/conflict: scicat\/dataset\/.* datasetName: kept the catalog's "Curated name"/);
    const log = await runCli(["log", "--config", w.configFile, "--limit", "200"]);
    expect(log.stdout).toContain("kept curator's datasetName");

    const uid = pid.replace(/^test\//, "");
    expect((await runCli(["resync", "--run", uid, "--force", "--config", w.configFile])).code).toBe(0);
    const forced = w.scicat.datasets().find((d) => d.pid === pid)!;
    expect(String(forced.datasetName)).toContain("renamed sample");
    expect((forced.scientificMetadata as Doc).curator_note).toMatchObject({ value: "checked" });
    expect((await status(w)).conflicts.records).toBe(0);
  });
});

describe("configuration changes reach the catalog", () => {
  it("a new owner group is shown by dry-run and pushed to every record by the next sync", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-05-10")] });
    expect((await sync(w)).code).toBe(0);
    rewriteConfig(w, (doc) => (doc.mapping!.ownerGroup = "group-b"));
    const preview = JSON.parse((await runCli(["sync", "--dry-run", "--json", "--config", w.configFile])).stdout) as { changes: { kind: string; change: string; fields?: { field: string }[] }[] };
    const datasetChanges = preview.changes.filter((c) => c.kind === "dataset");
    expect(datasetChanges).toHaveLength(2);
    for (const c of datasetChanges) expect(c.fields?.map((f) => f.field)).toContain("ownerGroup");
    expect((await sync(w)).code).toBe(0);
    for (const record of [...w.scicat.datasets(), ...w.scicat.proposals(), ...w.scicat.samples(), ...w.scicat.origdatablocks()]) expect(record.ownerGroup).toBe("group-b");
  });

  it("a new pidPrefix is refused (exit 2, nothing created) until --accept-new-keys", async () => {
    const w = await worlds.open({ beamtimes: [closedBeamtime("2026-05-11")] });
    expect((await sync(w)).code).toBe(0);
    rewriteConfig(w, (doc) => ((doc.destinations!.scicat as Record<string, unknown>).pidPrefix = "other/"));
    w.scicat.resetRequests();
    const refused = await sync(w);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('destinations.scicat.pidPrefix: "test/" → "other/"');
    expect(refused.stderr).toContain("--accept-new-keys");
    expect(w.scicat.writeCount()).toBe(0);
    const daemon = await runCli(["run", "--config", w.configFile]);
    expect(daemon.code).toBe(2);

    const accepted = await sync(w, "--accept-new-keys");
    expect(accepted.code, accepted.stdout + accepted.stderr).toBe(0);
    expect(w.scicat.datasets().filter((d) => String(d.pid).startsWith("other/"))).toHaveLength(2);
    expect((await sync(w)).code).toBe(0);
  });
});
