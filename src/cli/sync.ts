import { Command } from "commander";
import cliProgress from "cli-progress";
import type { Engine } from "../sync/engine.js";
import type { OutboxWorker } from "../sync/worker.js";
import { dryRun, printDryRun } from "./dry-run.js";
import { globalOptions, withEngine } from "./context.js";
import { createOutput, printJson } from "./output.js";
import { summarizeCounts } from "./status.js";

export function syncCommand(): Command {
  return new Command("sync")
    .description("one pass: reconcile everything, push until nothing that can still succeed is left, print a summary")
    .option("--dry-run", "show what would be created or updated (and which fields differ in the catalog, with each record's group changes); push nothing")
    .option("--no-progress", "no progress bar even on a terminal")
    .option("--no-remote-diff", "with --dry-run: do not ask the catalogs for their current values")
    .option("--accept-new-keys", "confirm a changed pidPrefix (or other setting that makes record keys): records are created again under the new keys")
    .addHelpText(
      "after",
      `
Examples:
  beamsync sync --config /etc/beamsync/beamsync.yaml
  beamsync sync --dry-run --json | jq '.changes[] | select(.change == "update")'

Exit status: 0 all records synced, 1 some records failed or are still pending, or a source (the DATA root, or
beamsync's own state store) could not be read or recorded in full; 2 bad usage or configuration.`,
    )
    .action(async (_opts, command: Command) => {
      const options = globalOptions(command) as ReturnType<typeof globalOptions> & { dryRun?: boolean; progress: boolean; remoteDiff: boolean; acceptNewKeys?: boolean };
      const out = createOutput(options.json ?? false);
      process.exitCode = await withEngine(options, async (engine) => {
        engine.acceptNewKeys = options.acceptNewKeys ?? false;
        if (options.dryRun) {
          const report = await dryRun(engine, { remoteDiff: options.remoteDiff });
          if (out.json) printJson(out, report);
          else printDryRun(out, report);
          return report.incomplete.length > 0 ? 1 : 0;
        }
        return runSync(engine, out, { progress: options.progress && !out.json && process.stderr.isTTY === true });
      });
    });
}

async function runSync(engine: Engine, out: ReturnType<typeof createOutput>, options: { progress: boolean }): Promise<number> {
  let bar: cliProgress.SingleBar | undefined;
  const startBar = async (worker: OutboxWorker) => {
    const total = await engine.store.countPending(engine.destinationNames);
    if (!options.progress || total === 0) return;
    bar = new cliProgress.SingleBar(
      { format: "pushing [{bar}] {value}/{total} records | {eta_formatted} left", stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    worker.onAttempt((e) => {
      if (e.outcome !== "retry") bar?.increment();
    });
  };
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let reconcile;
  let push;
  try {
    ({ reconcile, push } = await engine.syncOnce({ maxProbesWhenDown: 3, signal: controller.signal, beforePush: startBar }));
  } finally {
    bar?.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  const counts = summarizeCounts(await engine.store.countsByState());
  const problems = await engine.store.sourceProblems();
  const notDone = Object.values(counts).reduce((n, c) => n + c.failed + c.dead + c.pending, 0);
  if (out.json) {
    printJson(out, { reconcile, push, records: counts, sourceProblems: problems.length, incomplete: reconcile.incomplete });
  } else {
    out.write(
      `scanned ${reconcile.filesRead} file(s) (${reconcile.filesUnchanged} unchanged), ${reconcile.runsRead} run(s) read; ` +
        `queued ${reconcile.created} new and ${reconcile.updated + reconcile.forced} changed record(s)`,
    );
    out.write(`pushed: ${push.succeeded} ok, ${push.failed} rejected, ${push.dead} gave up, ${push.retried} retried attempt(s)`);
    for (const [destination, c] of Object.entries(counts)) {
      out.write(`${destination}: ${c.synced} synced, ${c.pending} pending, ${c.failed} failed, ${c.dead} dead`);
    }
    for (const name of push.unreachable) out.write(`${name}: unreachable; its records stay pending (run sync again, or let the daemon retry)`);
    if (problems.length > 0) out.write(`${problems.length} source file(s) could not be read fully; see \`beamsync status\``);
    if (notDone > 0) out.write("some records are not in the catalog; see `beamsync status` and `beamsync log --failed`");
    for (const reason of reconcile.incomplete) out.write(`not read in this pass: ${reason}`);
  }
  // A pass that skipped a source has not shown that everything is in the catalog.
  return notDone > 0 || reconcile.incomplete.length > 0 ? 1 : 0;
}
