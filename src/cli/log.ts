import { Command, InvalidArgumentError } from "commander";
import { globalOptions, withStore } from "./context.js";
import { createOutput, printJson, table } from "./output.js";
import { parseDestination, parsePositiveInt } from "./parsers.js";

export function logCommand(): Command {
  return new Command("log")
    .description("upload_log rows: one per upload attempt, newest last")
    .option("--run <uid>", "only attempts for this run (or beamtime / sample key)")
    .option("--destination <name>", "scicat or icat", parseDestination)
    .option("--failed", "only failed attempts")
    .option("--since <time>", "only attempts at or after this ISO 8601 time (or e.g. 2h, 30m, 7d)", parseSince)
    .option("--limit <n>", "at most this many rows", parsePositiveInt, 50)
    .addHelpText("after", "\nExamples:\n  beamsync log --run 1f0c2d... --destination scicat\n  beamsync log --failed --since 24h --json")
    .action(async (opts: { run?: string; destination?: string; failed?: boolean; since?: string; limit: number }, command: Command) => {
      const options = globalOptions(command);
      const out = createOutput(options.json ?? false);
      await withStore(options, async (store) => {
        const rows = await store.uploadLog({ runUid: opts.run, destination: opts.destination, failed: opts.failed ?? false, since: opts.since, limit: opts.limit });
        if (out.json) {
          return printJson(
            out,
            rows.map((r) => ({ ...r, success: r.success === 1, metadata_json: r.metadata_json ? (JSON.parse(r.metadata_json) as unknown) : null })),
          );
        }
        if (rows.length === 0) return out.write("no upload attempts match");
        out.write(
          table(
            ["id", "timestamp", "destination", "record", "ok", "remote id / error"],
            rows.map((r) => {
              const meta = r.metadata_json ? (JSON.parse(r.metadata_json) as { kind?: string; operation?: string; conflicts?: { field: string }[] }) : {};
              const kept = meta.conflicts?.length ? ` (kept curator's ${meta.conflicts.map((c) => c.field).join(", ")})` : "";
              return [r.id, r.timestamp, r.destination_name, `${meta.kind ?? "?"} ${r.session_identifier}`, r.success ? meta.operation ?? "yes" : "no", r.success ? `${r.record_id ?? ""}${kept}` : r.error_message];
            }),
            90,
          ),
        );
      });
    });
}

function parseSince(value: string): string {
  const relative = /^(\d+)\s*([smhd])$/.exec(value.trim());
  if (relative) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as "s" | "m" | "h" | "d"];
    return new Date(Date.now() - Number(relative[1]) * unit).toISOString();
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidArgumentError("expected an ISO 8601 time or a duration like 2h, 30m, 7d");
  return new Date(t).toISOString();
}
