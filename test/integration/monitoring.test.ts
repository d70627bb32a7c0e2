import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, spawnCli, waitFor } from "../support/cli.js";
import { worldPerTest } from "../support/scicat-setup.js";

/** Issue 16.6: every metric the shipped Grafana dashboard and Prometheus rules use is exported by a running daemon. */

const worlds = worldPerTest();
const OUR_METRIC = /\b(?:beamsync|process|nodejs)_[a-z0-9_]+\b/g;

/** Every `expr` string anywhere in a parsed JSON or YAML document. */
function expressions(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(expressions);
  if (node && typeof node === "object") {
    return Object.entries(node).flatMap(([key, value]) => (key === "expr" && typeof value === "string" ? [value] : expressions(value)));
  }
  return [];
}

function namesIn(exprs: string[]): string[] {
  return [...new Set(exprs.flatMap((e) => e.match(OUR_METRIC) ?? []))].sort();
}

const dashboard = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "monitoring/grafana/beamsync.json"), "utf8")) as unknown;
const rules = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, "monitoring/prometheus/beamsync.rules.yml"), "utf8")) as unknown;

describe("monitoring files", () => {
  it("name only metrics that a running daemon's /metrics has samples of", async () => {
    const used = namesIn([...expressions(dashboard), ...expressions(rules)]);
    expect(used.length).toBeGreaterThan(10);

    const w = await worlds.open({ beamtimes: [{ label: "2026-10-01", researcher: "Ada", runs: 2 }] }, { config: { http: { enabled: true, host: "127.0.0.1", port: 0 }, log: { level: "info", format: "json" } } });
    const daemon = spawnCli(["run", "--config", w.configFile]);
    try {
      const listening = await waitFor(() => daemon.lines.map((l) => JSON.parse(l) as { message: string; url?: string }).find((l) => /listening/.test(l.message)), { what: "ops server" });
      await waitFor(() => w.scicat.datasets().length === 2, { what: "sync" });
      const text = await (await fetch(`${listening.url!}/metrics`)).text();
      const exported = new Set(text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(/[{ ]/)[0]));
      expect(used.filter((name) => !exported.has(name))).toEqual([]);
    } finally {
      daemon.child.kill("SIGTERM");
      expect(await daemon.exited).toBe(0);
    }
  });

  it("every alert the issue asks for is there, each with a severity and a summary", () => {
    const groups = (rules as { groups: { rules: { alert?: string; labels?: { severity?: string }; annotations?: { summary?: string } }[] }[] }).groups;
    const alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert);
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining(["BeamsyncCatalogDown", "BeamsyncRecordsDead", "BeamsyncOldestPendingTooOld", "BeamsyncSourceProblems", "BeamsyncNoRecentScan"]),
    );
    for (const alert of alerts) expect([alert.alert, alert.labels?.severity, typeof alert.annotations?.summary]).toEqual([alert.alert, expect.stringMatching(/^(critical|warning)$/), "string"]);
  });
});
