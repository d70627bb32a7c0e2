import type { FieldConflict } from "../destinations/contract.js";
import type { DestinationName } from "../mapping/record.js";
import { stableStringify } from "../mapping/record.js";
import type { Engine, ScanGaps } from "../sync/engine.js";
import { runsGone, type GoneRun } from "../sync/gone.js";
import { scrubSecrets } from "../ops/logger.js";
import type { Output } from "./output.js";
import { table } from "./output.js";

export interface FieldDiff {
  field: string;
  catalog: unknown;
  desired: unknown;
}

export interface DryRunChange {
  destination: DestinationName;
  kind: string;
  key: string;
  runUid?: string | undefined;
  change: "create" | "update";
  /** For updates: fields whose catalog value differs from what beamsync would send. */
  fields?: FieldDiff[] | undefined;
  /** For updates: the fields an update would send now (curators' edits of unchanged mapped values are kept). */
  sends?: string[] | undefined;
  /** Fields changed both by a curator and in the source: the catalog's value would be kept. */
  conflicts?: FieldConflict[] | undefined;
  remote?: "exists" | "missing" | "unknown" | undefined;
  remoteError?: string | undefined;
}

export interface DryRunReport {
  changes: DryRunChange[];
  totals: Record<string, { create: number; update: number }>;
  problems: { source: string; path: string; reason: string; location?: string | undefined }[];
  /** Why the scan did not see every source (e.g. the DATA root is missing); the report is then not the whole truth. */
  incomplete: string[];
  /** Runs synced earlier that their beamtime DB no longer lists: in the catalogs, but not in step with the source. */
  runsGone: GoneRun[];
}

/** Read every source (ignoring watermarks), map, and compare with the state store and, for updates, the catalog. */
export async function dryRun(engine: Engine, options: { remoteDiff: boolean }): Promise<DryRunReport> {
  const gaps: ScanGaps = { incomplete: [] };
  const scan = await engine.scan({ force: true }, undefined, undefined, gaps);
  const desired = engine.map(scan.snapshot);
  const diffs = await engine.store.diff(desired);
  const changes: DryRunChange[] = [];
  const totals: DryRunReport["totals"] = {};
  const byName = new Map(engine.destinations.map((d) => [d.name, d]));
  for (const { record, change } of diffs) {
    const entry: DryRunChange = { destination: record.destination, kind: record.kind, key: record.key, runUid: record.runUid, change };
    const destination = byName.get(record.destination);
    if (change === "update" && options.remoteDiff && destination) {
      try {
        const id = `${record.destination}/${record.kind}/${record.key}`;
        const dependencies = await engine.store.remoteIdsOf(record.dependsOn);
        const state = await destination.lookup(
          { kind: record.kind, key: record.key, payload: record.payload, hash: record.hash, lastWritten: await engine.store.writtenOf(id) },
          { dependencyRemoteId: (kind, key) => dependencies.get(`${record.destination}/${kind}/${key}`) },
        );
        entry.remote = state.exists ? "exists" : "missing";
        if (state.exists && state.fields) entry.fields = diffFields(record.payload, state.fields);
        if (state.changes) entry.sends = state.changes;
        if (state.conflicts?.length) entry.conflicts = state.conflicts;
      } catch (err) {
        entry.remote = "unknown";
        entry.remoteError = scrubSecrets(err instanceof Error ? err.message : String(err));
      }
    }
    const t = (totals[record.destination] ??= { create: 0, update: 0 });
    t[change]++;
    changes.push(entry);
  }
  return { changes, totals, problems: scan.snapshot.problems, incomplete: gaps.incomplete, runsGone: await runsGone(engine.store, scan.snapshot, scan.watermarks) };
}

export function diffFields(desired: Record<string, unknown>, catalog: Record<string, unknown>): FieldDiff[] {
  const out: FieldDiff[] = [];
  for (const [field, value] of Object.entries(desired)) {
    if (!(field in catalog)) continue;
    if (stableStringify(value) !== stableStringify(catalog[field])) out.push({ field, catalog: catalog[field], desired: value });
  }
  return out;
}

/** Who may see a record: shown value by value, so an operator checks a template or group map change before it applies. */
const GROUP_FIELDS = ["ownerGroup", "accessGroups"];

function showGroups(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(String).join(", ")}]`;
  return value === undefined || value === null ? "(none)" : String(value as string);
}

export function printDryRun(out: Output, report: DryRunReport): void {
  if (report.incomplete.length > 0) {
    for (const reason of report.incomplete) out.write(`not every source could be read: ${reason}`);
  }
  const inStep = report.incomplete.length === 0 && report.runsGone.length === 0;
  if (report.changes.length === 0) {
    out.write(inStep ? "nothing to do: every record is in step with the catalogs" : "nothing to create or update");
  } else {
    out.write(
      table(
        ["destination", "kind", "key", "change", "differs"],
        report.changes.map((c) => [c.destination, c.kind, c.key, c.change, c.fields?.map((f) => f.field).join(", ") ?? (c.remoteError ? `? ${c.remoteError}` : "")]),
      ),
    );
    for (const [destination, t] of Object.entries(report.totals)) out.write(`${destination}: ${t.create} to create, ${t.update} to update`);
    for (const c of report.changes) {
      for (const conflict of c.conflicts ?? []) out.write(conflictLine(`${c.destination}/${c.kind}/${c.key}`, conflict, "would keep"));
    }
    const groupChanges = report.changes.flatMap((c) => {
      const fields = (c.fields ?? []).filter((f) => GROUP_FIELDS.includes(f.field));
      return fields.length ? [`  ${c.destination} ${c.kind} ${c.key}: ${fields.map((f) => `${f.field} ${showGroups(f.catalog)} → ${showGroups(f.desired)}`).join("; ")}`] : [];
    });
    if (groupChanges.length > 0) out.write(["group changes (who owns / reads each record):", ...groupChanges].join("\n"));
  }
  for (const g of report.runsGone) out.write(`gone from its source: run ${g.runUid} of ${g.path ?? g.beamtime} is in the catalogs but no longer in the beamtime DB (${g.records.length} record(s) kept)`);
  for (const p of report.problems) out.write(`problem: ${p.source} ${p.path}${p.location ? ` (${p.location})` : ""}: ${p.reason}`);
}

/** One conflict in words: the catalog's value kept, the source's shown. */
export function conflictLine(record: string, conflict: FieldConflict, verb: "kept" | "would keep"): string {
  const show = (v: unknown) => scrubSecrets(JSON.stringify(v) ?? "undefined").slice(0, 120);
  return `conflict: ${record} ${conflict.field}: ${verb} the catalog's ${show(conflict.catalog)} (edited there); the source now says ${show(conflict.source)} — \`beamsync resync --force\` or destinations.scicat.sourceWins lets the source win`;
}
