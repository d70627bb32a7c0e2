import fs from "node:fs";
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import YAML, { LineCounter, type Document } from "yaml";
import { REGISTERED_ID, REGISTERED_ID_RULE, type RegisteredProposal, type RegisteredSpecimen, type RegisteredTray, type Registration, type RegistrationError } from "./types.js";

/**
 * Read one registration file (README "Registering proposals and samples"): YAML with `proposal`, `trays` and
 * `samples`, where `samples` may name a CSV file beside it. Every mistake found is returned with its file,
 * line and field; a file with any mistake yields no registration, so nothing of it is pushed.
 */

export type ParseOutcome = { registration: Registration; errors: [] } | { registration?: undefined; errors: RegistrationError[] };

const PROPOSAL_FIELDS = ["id", "title", "description", "pi", "members", "groups", "visit", "start", "end", "metadata"];
const TRAY_FIELDS = ["id", "label", "metadata"];
const SAMPLE_FIELDS = ["id", "name", "tray", "slot", "metadata"];
const TOP_FIELDS = ["proposal", "trays", "samples"];
/** CSV column names accepted for each sample field; other columns become the specimen's metadata. */
const CSV_COLUMNS: Record<string, string[]> = { id: ["id", "specimen_id"], name: ["name", "specimen_name"], tray: ["tray", "tray_id"], slot: ["slot"] };

type Path = (string | number)[];

class Collector {
  constructor(
    readonly file: string,
    private readonly lineOf: (p: Path) => number,
    /** Shared with the file's collector when this one names a CSV file beside it. */
    readonly errors: RegistrationError[] = [],
  ) {}
  add(p: Path, message: string, line?: number): void {
    this.errors.push({ file: this.file, line: line ?? this.lineOf(p), field: fieldName(p), message });
  }
}

function fieldName(p: Path): string {
  return p.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("") || "(file)";
}

/** Parse the file at `absolute`; `shownAs` is how errors name it. */
export function parseRegistrationFile(absolute: string, shownAs: string): ParseOutcome {
  let text: string;
  try {
    text = fs.readFileSync(absolute, "utf8");
  } catch (err) {
    return { errors: [{ file: shownAs, line: 0, field: "(file)", message: `cannot read it (${(err as NodeJS.ErrnoException).code ?? "error"})` }] };
  }
  return parseRegistrationText(text, shownAs, (relative) => path.resolve(path.dirname(absolute), relative));
}

export function parseRegistrationText(text: string, shownAs: string, resolve: (relative: string) => string): ParseOutcome {
  const lines = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      errors: doc.errors.map((e) => ({ file: shownAs, line: e.linePos?.[0].line ?? 0, field: "(file)", message: `not valid YAML: ${e.message.split("\n")[0] ?? ""}` })),
    };
  }
  const c = new Collector(shownAs, (p) => lineOfPath(doc, lines, p));
  const root: unknown = doc.toJS();
  if (!isObject(root)) {
    c.add([], "must be a mapping with proposal, trays and samples");
    return { errors: c.errors };
  }
  unknownFields(c, root, [], TOP_FIELDS);
  const proposal = readProposal(c, root.proposal);
  const trays = readTrays(c, root.trays);
  const specimens = readSamples(c, root.samples, trays, resolve);
  if (c.errors.length > 0 || !proposal) return { errors: c.errors.length > 0 ? c.errors : [{ file: shownAs, line: 1, field: "proposal", message: "missing" }] };
  return { registration: { file: shownAs, proposal, trays, specimens }, errors: [] };
}

function lineOfPath(doc: Document, lines: LineCounter, p: Path): number {
  // The deepest node that exists along the path: a missing field is reported on its parent's line.
  for (let depth = p.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(p.slice(0, depth), true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) return lines.linePos(range[0]).line;
  }
  return 1;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function unknownFields(c: Collector, value: Record<string, unknown>, at: Path, allowed: string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) c.add([...at, key], `unknown field; allowed are ${allowed.join(", ")}`);
  }
}

function text(c: Collector, value: unknown, at: Path, required: boolean): string | undefined {
  if (value === undefined || value === null || value === "") {
    if (required) c.add(at, "missing; it is required");
    return undefined;
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value !== "string") {
    c.add(at, "must be text");
    return undefined;
  }
  return value.trim();
}

function id(c: Collector, value: unknown, at: Path): string | undefined {
  const s = text(c, value, at, true);
  if (s !== undefined && !REGISTERED_ID.test(s)) {
    c.add(at, `"${s}" is not a usable id: ${REGISTERED_ID_RULE}`);
    return undefined;
  }
  return s;
}

function metadata(c: Collector, value: unknown, at: Path): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) {
    c.add(at, "must be a mapping of names to values");
    return {};
  }
  return value;
}

function textList(c: Collector, value: unknown, at: Path): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    c.add(at, "must be a list of text entries");
    return [];
  }
  return value as string[];
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO 8601 date or date-time (UTC unless a zone is given) as Unix seconds; a day that does not exist is refused. */
export function parseRegistrationDate(value: string): number | undefined {
  const m = DATE.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, zone] = m;
  const iso = `${y}-${mo}-${d}T${h ?? "00"}:${mi ?? "00"}:${s ?? "00"}${zone ?? "Z"}`;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2026-02-30 over into March: check the calendar day survives.
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCDate() !== Number(d) || day.getUTCMonth() !== Number(mo) - 1) return undefined;
  return ms / 1000;
}

function date(c: Collector, value: unknown, at: Path): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const seconds = typeof value === "string" ? parseRegistrationDate(value) : undefined;
  if (seconds === undefined) c.add(at, `"${String(value)}" is not a date; write e.g. 2026-12-10 or 2026-12-10T08:00:00Z`);
  return seconds;
}

function readProposal(c: Collector, value: unknown): RegisteredProposal | undefined {
  if (!isObject(value)) {
    c.add(["proposal"], value === undefined ? "missing; every registration names its proposal" : "must be a mapping (id, title, pi, ...)");
    return undefined;
  }
  unknownFields(c, value, ["proposal"], PROPOSAL_FIELDS);
  const pid = id(c, value.id, ["proposal", "id"]);
  let piName: string | undefined;
  let piEmail: string | undefined;
  if (!isObject(value.pi)) c.add(["proposal", "pi"], "missing; name the principal investigator with name and email");
  else {
    unknownFields(c, value.pi, ["proposal", "pi"], ["name", "email"]);
    piName = text(c, value.pi.name, ["proposal", "pi", "name"], true);
    piEmail = text(c, value.pi.email, ["proposal", "pi", "email"], true);
    if (piEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(piEmail)) {
      c.add(["proposal", "pi", "email"], `"${piEmail}" is not an email address`);
      piEmail = undefined;
    }
  }
  const start = date(c, value.start, ["proposal", "start"]);
  const end = date(c, value.end, ["proposal", "end"]);
  if (start !== undefined && end !== undefined && end < start) c.add(["proposal", "end"], "is before proposal.start");
  const visit = value.visit === undefined ? pid : text(c, value.visit, ["proposal", "visit"], true);
  const proposal = {
    title: text(c, value.title, ["proposal", "title"], false),
    description: text(c, value.description, ["proposal", "description"], false),
    members: textList(c, value.members, ["proposal", "members"]),
    groups: textList(c, value.groups, ["proposal", "groups"]),
    start,
    end,
    metadata: metadata(c, value.metadata, ["proposal", "metadata"]),
  };
  if (pid === undefined || piName === undefined || piEmail === undefined || visit === undefined) return undefined;
  return { id: pid, piName, piEmail, visit, ...proposal };
}

function readTrays(c: Collector, value: unknown): RegisteredTray[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    c.add(["trays"], "must be a list of trays (id, label, metadata)");
    return [];
  }
  const trays: RegisteredTray[] = [];
  const seen = new Set<string>();
  value.forEach((entry: unknown, i) => {
    if (!isObject(entry)) return c.add(["trays", i], "must be a mapping (id, label, metadata)");
    unknownFields(c, entry, ["trays", i], TRAY_FIELDS);
    const trayId = id(c, entry.id, ["trays", i, "id"]);
    if (trayId === undefined) return;
    if (seen.has(trayId)) return c.add(["trays", i, "id"], `tray "${trayId}" is registered twice`);
    seen.add(trayId);
    trays.push({ id: trayId, label: text(c, entry.label, ["trays", i, "label"], false), metadata: metadata(c, entry.metadata, ["trays", i, "metadata"]) });
  });
  return trays;
}

/** One sample entry as read, with where it came from (a YAML path, or a CSV file and line). */
interface SampleEntry {
  /** The entry's fields; undefined when the YAML entry is not a mapping at all. */
  fields: Record<string, unknown> | undefined;
  at: Path;
  /** Errors of a CSV row are reported against the CSV file and its line. */
  csv?: { file: string; line: number };
}

function readSamples(c: Collector, value: unknown, trays: RegisteredTray[], resolve: (relative: string) => string): RegisteredSpecimen[] {
  let entries: SampleEntry[];
  if (value === undefined || value === null) return [];
  if (typeof value === "string") entries = csvEntries(c, value, resolve);
  else if (Array.isArray(value)) entries = value.map((fields: unknown, i) => ({ fields: isObject(fields) ? fields : undefined, at: ["samples", i] }));
  else {
    c.add(["samples"], "must be a list of samples, or the name of a CSV file with one sample per row");
    return [];
  }
  const trayIds = new Set(trays.map((t) => t.id));
  const seen = new Map<string, string>();
  const slots = new Set<string>();
  const out: RegisteredSpecimen[] = [];
  for (const entry of entries) {
    // A CSV row's mistakes name the CSV file and its line; a YAML entry's its own line.
    const local = entry.csv ? new Collector(entry.csv.file, () => entry.csv?.line ?? 0, c.errors) : c;
    const f = entry.fields;
    if (!f) {
      local.add(entry.at, "must be a mapping (id, name, tray, slot, metadata)");
      continue;
    }
    if (!entry.csv) unknownFields(local, f, entry.at, SAMPLE_FIELDS);
    const specimenId = id(local, f.id, [...entry.at, "id"]);
    const name = text(local, f.name, [...entry.at, "name"], true);
    const tray = text(local, f.tray, [...entry.at, "tray"], false);
    const slot = text(local, f.slot, [...entry.at, "slot"], false);
    if (tray !== undefined && !trayIds.has(tray)) local.add([...entry.at, "tray"], `tray "${tray}" is not registered; add it under trays or fix the id`);
    if (slot !== undefined && tray !== undefined) {
      if (slots.has(`${tray}\u0000${slot}`)) local.add([...entry.at, "slot"], `slot "${slot}" of tray "${tray}" is already taken by another sample`);
      slots.add(`${tray}\u0000${slot}`);
    }
    if (specimenId !== undefined && seen.has(specimenId)) {
      local.add([...entry.at, "id"], `specimen "${specimenId}" is registered twice (first at ${seen.get(specimenId) ?? "?"})`);
      continue;
    }
    if (specimenId !== undefined) seen.set(specimenId, entry.csv ? `${entry.csv.file}:${entry.csv.line}` : fieldName(entry.at));
    const meta = entry.csv ? (f.metadata as Record<string, unknown>) : metadata(local, f.metadata, [...entry.at, "metadata"]);
    if (specimenId === undefined || name === undefined) continue;
    out.push({ id: specimenId, name, tray, slot, metadata: meta });
  }
  return out;
}

function csvEntries(c: Collector, relative: string, resolve: (relative: string) => string): SampleEntry[] {
  const absolute = resolve(relative);
  let content: string;
  try {
    content = fs.readFileSync(absolute, "utf8");
  } catch (err) {
    c.add(["samples"], `cannot read the sample list "${relative}" (${(err as NodeJS.ErrnoException).code ?? "error"}); the path is relative to this file`);
    return [];
  }
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parseCsv(content, { columns: true, skip_empty_lines: true, trim: true, info: true, bom: true }) as typeof rows;
  } catch (err) {
    const line = (err as { lines?: number }).lines ?? 0;
    c.add(["samples"], `${relative}:${line}: not valid CSV: ${(err as Error).message}`);
    return [];
  }
  return rows.map(({ record, info }) => {
    const fields: Record<string, unknown> = { metadata: {} };
    const meta = fields.metadata as Record<string, unknown>;
    for (const [column, value] of Object.entries(record)) {
      const field = Object.keys(CSV_COLUMNS).find((f) => CSV_COLUMNS[f]?.includes(column.toLowerCase()));
      if (field) fields[field] = value;
      else if (value !== "") meta[column] = value;
    }
    return { fields, at: [], csv: { file: relative, line: info.lines } };
  });
}
