import type { FieldConflict } from "../destinations/contract.js";
import type { DestinationName } from "../mapping/record.js";
import { stableStringify } from "../mapping/record.js";
import type { Engine } from "../sync/engine.js";
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
}

/** Read every source (ignoring watermarks), map, and compare with the state store and, for updates, the catalog. */
export async function dryRun(engine: Engine, options: { remoteDiff: boolean }): Promise<DryRunReport> {
  const scan = await engine.scan({ force: true });
  const desired = engine.map(scan.snapshot);
  const diffs = engine.store.diff(desired);
  const changes: DryRunChange[] = [];
  const totals: DryRunReport["totals"] = {};
  const byName = new Map(engine.destinations.map((d) => [d.name, d]));
  for (const { record, change } of diffs) {
    const entry: DryRunChange = { destination: record.destination, kind: record.kind, key: record.key, runUid: record.runUid, change };
    const destination = byName.get(record.destination);
    if (change === "update" && options.remoteDiff && destination) {
      try {
        const id = `${record.destination}/${record.kind}/${record.key}`;
        const state = await destination.lookup(
          { kind: record.kind, key: record.key, payload: record.payload, hash: record.hash, lastWritten: engine.store.writtenOf(id) },
          { dependencyRemoteId: (kind, key) => engine.store.remoteIdOf(`${record.destination}/${kind}/${key}`) },
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
  return { changes, totals, problems: scan.snapshot.problems };
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
  if (report.changes.length === 0) {
    out.write("nothing to do: every record is in step with the catalogs");
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
  for (const p of report.problems) out.write(`problem: ${p.source} ${p.path}${p.location ? ` (${p.location})` : ""}: ${p.reason}`);
}

/** One conflict in words: the catalog's value kept, the source's shown. */
export function conflictLine(record: string, conflict: FieldConflict, verb: "kept" | "would keep"): string {
  const show = (v: unknown) => scrubSecrets(JSON.stringify(v) ?? "undefined").slice(0, 120);
  return `conflict: ${record} ${conflict.field}: ${verb} the catalog's ${show(conflict.catalog)} (edited there); the source now says ${show(conflict.source)} — \`beamsync resync --force\` or destinations.scicat.sourceWins lets the source win`;
}
