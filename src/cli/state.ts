import { once } from "node:events";
import fs from "node:fs";
import readline from "node:readline";
import { Command } from "commander";
import { openStateStore } from "../state/open.js";
import { parseDumpHeader, parseDumpRow, StateImportError, type DumpHeader, type DumpRow } from "../state/dump.js";
import { LATEST_VERSION } from "../state/migrations.js";
import { globalOptions, loadCommandConfig } from "./context.js";
import { createOutput, printJson } from "./output.js";

/**
 * `beamsync state export | import`: move a state between backends (a beamline's SQLite into a central
 * PostgreSQL, or back) without pushing anything again. Stop the daemons of both sides first.
 */
export function stateCommand(): Command {
  const state = new Command("state").description("move the state between backends: export it to a file, import it into an empty state");
  state
    .command("export")
    .description("write the state (records, what was written to the catalogs, watermarks, upload_log, requests) as JSON lines")
    .option("-o, --out <file>", "file to write (default: standard output)")
    .option("-c, --config <file>", "configuration file")
    .option("--json", "print data as JSON")
    .addHelpText("after", "\nExample:\n  beamsync --config sqlite.yaml state export --out beamline.state.jsonl")
    .action(async (opts: { out?: string }, command: Command) => {
      const options = globalOptions(command);
      const config = loadCommandConfig(options);
      const store = await openStateStore(config, { mustExist: true });
      const target = opts.out ? fs.createWriteStream(opts.out, { mode: 0o600 }) : process.stdout;
      const counts: Record<string, number> = {};
      try {
        const header: DumpHeader = { beamsyncState: 1, schema: await store.schemaVersion(), exportedAt: new Date().toISOString(), from: store.location };
        await write(target, `${JSON.stringify(header)}\n`);
        for await (const row of store.exportRows()) {
          await write(target, `${JSON.stringify(row)}\n`);
          counts[row.table] = (counts[row.table] ?? 0) + 1;
        }
      } finally {
        await store.close();
        if (opts.out) await new Promise<void>((resolve, reject) => (target as fs.WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve())));
      }
      if (opts.out) {
        const out = createOutput(options.json ?? false);
        if (out.json) printJson(out, { file: opts.out, rows: counts });
        else out.write(`exported ${describe(counts)} to ${opts.out}`);
      }
    });
  state
    .command("import")
    .description("load an export into the configured state, which must not hold records yet (all or nothing)")
    .argument("<file>", "a file written by `beamsync state export`")
    .option("-c, --config <file>", "configuration file")
    .option("--json", "print data as JSON")
    .addHelpText("after", "\nExample:\n  beamsync --config postgres.yaml state import beamline.state.jsonl")
    .action(async (file: string, _opts: unknown, command: Command) => {
      const options = globalOptions(command);
      const config = loadCommandConfig(options);
      const lines = readline.createInterface({ input: fs.createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
      const iterator = lines[Symbol.asyncIterator]();
      const first = await iterator.next();
      const header = parseDumpHeader(first.done ? undefined : first.value, file);
      if (header.schema !== LATEST_VERSION) {
        throw new StateImportError(`${file} holds a state of schema ${header.schema}; this beamsync writes schema ${LATEST_VERSION}. Export and import with the same beamsync version`);
      }
      const store = await openStateStore(config);
      let counts: Record<string, number>;
      try {
        counts = await store.importRows(rowsOf(iterator, file));
      } finally {
        await store.close();
        lines.close();
      }
      const out = createOutput(options.json ?? false);
      if (out.json) printJson(out, { file, from: header.from, into: store.location, rows: counts });
      else out.write(`imported ${describe(counts)} from ${file} (exported from ${header.from} at ${header.exportedAt}) into ${store.location}`);
    });
  for (const sub of state.commands) sub.exitOverride();
  return state;
}

async function* rowsOf(lines: AsyncIterator<string>, file: string): AsyncIterable<DumpRow> {
  let lineNumber = 1;
  for (;;) {
    const next = await lines.next();
    if (next.done) return;
    lineNumber++;
    if (next.value.trim() === "") continue;
    yield parseDumpRow(next.value, file, lineNumber);
  }
}

/** Write, waiting for the stream to drain when it asks to (a big state, a slow pipe); its error rejects. */
async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, "drain");
}

function describe(counts: Record<string, number>): string {
  const parts = Object.entries(counts).map(([table, n]) => `${n} ${table}`);
  return parts.length ? parts.join(", ") : "nothing";
}
