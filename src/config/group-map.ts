import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { UsageError } from "../sync/errors.js";
import { groupMapEntrySchema, type GroupMapEntry } from "./schema.js";

/**
 * The group map file: what the user office exports, proposal → owner group, reader groups, PI name and email.
 * YAML (a mapping keyed by proposal id, or a list of entries with `proposal`) or CSV with a header row
 * (`proposal,ownerGroup,accessGroups,piName,piEmail`; reader groups separated by `;`). Read once at start-up;
 * its entries become `mapping.groupMap`, so the mapping reads them like any other configuration.
 */

const KEY = "mapping.groupMapFile";

type RawEntry = { proposal: string; where: string; fields: Record<string, unknown> };

export function readGroupMapFile(file: string): Record<string, GroupMapEntry> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`${KEY}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"}); fix the path (relative to the configuration file) or the file's permissions`);
  }
  const raw = path.extname(file).toLowerCase() === ".csv" ? csvEntries(text, file) : yamlEntries(text, file);
  const out: Record<string, GroupMapEntry> = {};
  const seen = new Map<string, string>();
  for (const entry of raw) {
    const first = seen.get(entry.proposal);
    if (first !== undefined) throw new UsageError(`${KEY}: ${file} names proposal "${entry.proposal}" twice (${first} and ${entry.where}); keep one entry per proposal`);
    seen.set(entry.proposal, entry.where);
    const parsed = groupMapEntrySchema.safeParse(entry.fields);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.map(String).join(".") || "(entry)";
      throw new UsageError(`${KEY}: ${file} ${entry.where} (proposal "${entry.proposal}"), ${field}: ${issue?.message ?? "invalid"}; allowed fields are ownerGroup, accessGroups, piName, piEmail`);
    }
    out[entry.proposal] = parsed.data;
  }
  return out;
}

/** Add the file's entries to the inline ones; a proposal named in both is an error, as within one file. */
export function mergeGroupMaps(inline: Record<string, GroupMapEntry>, fromFile: Record<string, GroupMapEntry>, file: string): Record<string, GroupMapEntry> {
  for (const proposal of Object.keys(fromFile)) {
    if (Object.hasOwn(inline, proposal)) throw new UsageError(`mapping.groupMap and ${KEY} (${file}) both name proposal "${proposal}"; keep it in one place`);
  }
  return { ...inline, ...fromFile };
}

function yamlEntries(text: string, file: string): RawEntry[] {
  // uniqueKeys off: a proposal named twice is reported by us, with both places, not as a parse error.
  const doc = YAML.parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) throw new UsageError(`${KEY}: ${file} is not valid YAML: ${doc.errors[0]?.message ?? ""}`);
  const root = doc.contents;
  if (root === null) return [];
  const lineOf = (node: unknown) => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? `line ${text.slice(0, range[0]).split("\n").length}` : "an entry";
  };
  if (YAML.isMap(root)) {
    return root.items.map((pair) => {
      const proposal = String(YAML.isScalar(pair.key) ? pair.key.value : pair.key);
      const value: unknown = YAML.isNode(pair.value) ? pair.value.toJSON() : pair.value;
      return { proposal, where: lineOf(pair.key), fields: (value ?? {}) as Record<string, unknown> };
    });
  }
  if (YAML.isSeq(root)) {
    return root.items.map((item) => {
      const value = (YAML.isNode(item) ? item.toJSON() : item) as Record<string, unknown> | null;
      const { proposal, ...fields } = value ?? {};
      if (typeof proposal !== "string" && typeof proposal !== "number") {
        throw new UsageError(`${KEY}: ${file} ${lineOf(item)}: an entry without "proposal"; give each entry the proposal id it applies to`);
      }
      return { proposal: String(proposal), where: lineOf(item), fields };
    });
  }
  throw new UsageError(`${KEY}: ${file} must hold a mapping of proposal id → entry, or a list of entries with "proposal"`);
}

const CSV_COLUMNS: Record<string, string> = {
  proposal: "proposal",
  proposalid: "proposal",
  proposal_id: "proposal",
  ownergroup: "ownerGroup",
  owner_group: "ownerGroup",
  accessgroups: "accessGroups",
  access_groups: "accessGroups",
  piname: "piName",
  pi_name: "piName",
  piemail: "piEmail",
  pi_email: "piEmail",
};

function csvEntries(text: string, file: string): RawEntry[] {
  const rows = parseCsv(text);
  const header = rows.shift();
  if (!header) return [];
  const columns = header.map((h) => CSV_COLUMNS[h.trim().toLowerCase()]);
  const unknown = header.filter((_, i) => columns[i] === undefined);
  if (unknown.length > 0 || !columns.includes("proposal")) {
    throw new UsageError(`${KEY}: ${file} header must name the columns proposal, ownerGroup, accessGroups, piName, piEmail${unknown.length ? ` (unknown: ${unknown.join(", ")})` : ""}`);
  }
  const out: RawEntry[] = [];
  rows.forEach((cells, i) => {
    if (cells.every((c) => c.trim() === "")) return;
    const fields: Record<string, unknown> = {};
    let proposal = "";
    cells.forEach((cell, c) => {
      const column = columns[c];
      const value = cell.trim();
      if (column === undefined || value === "") return;
      if (column === "proposal") proposal = value;
      else if (column === "accessGroups") fields.accessGroups = value.split(/[;\s]+/).filter(Boolean);
      else fields[column] = value;
    });
    const where = `line ${i + 2}`;
    if (proposal === "") throw new UsageError(`${KEY}: ${file} ${where}: no proposal; every row needs the proposal id it applies to`);
    out.push({ proposal, where, fields });
  });
  return out;
}

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
