import fs from "node:fs";
import path from "node:path";
import { Command } from "commander";
import type { Watermark } from "../sources/contract.js";
import { registrationFolder, registrationFolderPath } from "../sources/registrations/config.js";
import { buildView, type LoadedFile } from "../sources/registrations/folder.js";
import { fileWatermark } from "../sources/registrations/index.js";
import { registrationRecords } from "../sources/registrations/model.js";
import { parseRegistrationFile } from "../sources/registrations/parse.js";
import { formatRegistrationError } from "../sources/registrations/types.js";
import type { Engine } from "../sync/engine.js";
import { globalOptions, withEngine } from "./context.js";
import { createOutput, printJson, table, type Output } from "./output.js";

/**
 * `beamsync register FILE`: check one registration file and push its records now, through the same reconcile,
 * outbox and upload_log as the daemon. A file in the registrations folder is the one the daemon reads (its
 * watermark is kept, so a specimen that leaves it later is reported); runs link only to registrations in the
 * folder, which the command says when FILE lies elsewhere.
 */

export function registerCommand(): Command {
  return new Command("register")
    .description("check a registration file (proposal, trays, samples) and push its records now")
    .argument("<file>", "registration file (YAML; its samples may be a CSV file beside it)")
    .option("--dry-run", "check the file and show the records that would be created or updated; push nothing")
    .addHelpText(
      "after",
      `
Examples:
  beamsync register /data/beamline/registrations/P-2026-001.yaml
  beamsync register P-2026-001.yaml --dry-run --json

Exit status: 0 registered (every record in the catalogs), 1 some records failed or are still pending,
2 bad usage, configuration or registration file (each mistake named by file, line and field; nothing pushed).`,
    )
    .action(async (file: string, _opts, command: Command) => {
      const options = globalOptions(command) as ReturnType<typeof globalOptions> & { dryRun?: boolean };
      const out = createOutput(options.json ?? false);
      process.exitCode = await withEngine(options, (engine) => register(engine, file, options.dryRun ?? false, out));
    });
}

async function register(engine: Engine, file: string, dryRun: boolean, out: Output): Promise<number> {
  const config = engine.config;
  const absolute = path.resolve(file);
  const folderPath = registrationFolderPath(config);
  const inFolder = path.dirname(absolute) === folderPath;
  const relative = inFolder ? path.basename(absolute) : absolute;
  const facility = config.sources.registrations.facility;
  const parsed = parseRegistrationFile(absolute, inFolder ? relative : file);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(absolute);
  } catch {
    stat = undefined;
  }
  const loaded: LoadedFile = { relative, size: stat?.size ?? 0, mtimeMs: stat?.mtimeMs ?? 0, registration: parsed.registration, errors: [...parsed.errors] };
  // The folder's other files: one proposal, one file.
  const others = registrationFolder(config)?.load().files.filter((f) => f.relative !== relative) ?? [];
  buildView([...others.map((f) => ({ ...f, errors: [...f.errors] })), loaded], facility);
  const registration = loaded.registration;
  if (!registration) {
    for (const e of loaded.errors) out.error(formatRegistrationError(e));
    out.error(`${file}: not registered (${loaded.errors.length} mistake(s)); nothing was pushed`);
    return 2;
  }
  if (!inFolder) {
    out.error(
      config.sources.registrations.enabled
        ? `note: ${file} is not in the registrations folder (${folderPath}): its records are pushed now, but runs link only to registrations in that folder`
        : `note: sources.registrations.enabled is false: the records are pushed now, but runs link only to registrations the daemon reads (set sources.registrations.enabled: true and put the file in ${folderPath})`,
    );
  }
  const records = registrationRecords(registration, facility);
  const desired = engine.map({ beamtimes: [records.beamtime], samples: records.samples, runs: [], problems: [] });
  const watermarks: Watermark[] = [];
  if (inFolder) {
    const { watermark, problems } = fileWatermark(loaded, await engine.store.getWatermark("registration", relative));
    watermarks.push(watermark);
    for (const p of problems) out.error(`note: ${p.reason}`);
  }
  await engine.checkRecordKeys();
  if (dryRun) {
    const changes = (await engine.store.diff(desired)).map(({ record, change }) => ({ destination: record.destination, kind: record.kind, key: record.key, change }));
    const report = { proposal: registration.proposal.id, trays: registration.trays.length, specimens: registration.specimens.length, changes, unchanged: desired.length - changes.length };
    if (out.json) printJson(out, report);
    else {
      out.write(`${file}: proposal ${report.proposal}, ${report.trays} tray(s), ${report.specimens} specimen(s); nothing pushed (--dry-run)`);
      if (changes.length > 0) out.write(table(["destination", "kind", "key", "change"], changes.map((c) => [c.destination, c.kind, c.key, c.change])));
      out.write(`${changes.length} record(s) would be created or updated, ${report.unchanged} unchanged`);
    }
    return 0;
  }
  const counts = await engine.store.reconcile(desired, watermarks, { nowMs: Date.now() });
  const push = await engine.worker().drain({ forever: false, maxProbesWhenDown: 3 });
  const rows = await Promise.all(desired.map((r) => engine.store.getRecord(`${r.destination}/${r.kind}/${r.key}`)));
  const notSynced = rows.filter((r) => r?.state !== "synced");
  if (out.json) {
    printJson(out, { proposal: registration.proposal.id, queued: counts, push, records: rows.map((r) => ({ id: r?.id, state: r?.state, remoteId: r?.remote_id, error: r?.last_error })) });
  } else {
    out.write(`${file}: proposal ${registration.proposal.id}, ${registration.trays.length} tray(s), ${registration.specimens.length} specimen(s)`);
    out.write(`queued ${counts.created} new and ${counts.updated} changed record(s), ${counts.unchanged} unchanged; pushed ${push.succeeded} ok, ${push.failed} rejected`);
    for (const r of notSynced) out.write(`not in the catalog yet: ${r?.id ?? "?"} (${r?.state ?? "?"}${r?.last_error ? `: ${r.last_error}` : ""})`);
  }
  return notSynced.length > 0 ? 1 : 0;
}
