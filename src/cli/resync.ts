import { Command } from "commander";
import { beamtimeKeyFromArgument } from "../sources/resonance/identity.js";
import { readIdentityPins } from "../state/identity-keys.js";
import { UsageError } from "../sync/errors.js";
import type { RecordScope } from "../state/contract.js";
import { daemonStatus } from "../ops/heartbeat.js";
import { handleRequest } from "../sync/requests.js";
import { globalOptions, withEngine, withStore } from "./context.js";
import { createOutput, printJson } from "./output.js";
import { parseDestination } from "./parsers.js";

interface ResyncFlags {
  all?: boolean;
  beamtime?: string;
  run?: string;
  destination?: "scicat" | "icat";
  force?: boolean;
  wait: boolean;
}

export function resyncCommand(): Command {
  return new Command("resync")
    .description("push records again even if unchanged; a running daemon picks the request up within seconds")
    .option("--all", "every record")
    .option("--beamtime <id>", "the records of one beamtime (its DB's path under the DATA root, e.g. jdoe/2026-03-05.db, or its key resonance:<first run uid>), or a proposal id (its Proposal)")
    .option("--run <uid>", "the records of one run")
    .option("--destination <name>", "only this catalog: scicat or icat", parseDestination)
    .option("--force", "the source's values replace edits made in the catalog since beamsync wrote them (conflicts shown by status)")
    .option("--no-wait", "with a running daemon: queue the request and return at once")
    .addHelpText(
      "after",
      "\nExamples:\n  beamsync resync --run 5d3c0e1f9a2b4c6d8e0f1a2b3c4d5e6f\n  beamsync resync --beamtime jdoe/2026-03-05.db --destination scicat\n  beamsync resync --all\n  beamsync resync --run 5d3c0e1f9a2b4c6d8e0f1a2b3c4d5e6f --force   # overwrite a curator's edits of that run",
    )
    .action(async (flags: ResyncFlags, command: Command) => {
      const options = globalOptions(command);
      const out = createOutput(options.json ?? false);
      const chosen = [flags.all, flags.beamtime, flags.run].filter(Boolean).length;
      if (chosen !== 1) throw new UsageError("resync needs exactly one of --all, --beamtime ID, --run UID");
      const beamtimeArg = flags.beamtime;
      const beamtime = beamtimeArg
        ? await withStore(options, async (store, config) =>
            beamtimeKeyFromArgument(beamtimeArg, config.dataRoot, config.sources.resonance.busyTimeoutMs, await readIdentityPins((k) => store.getMeta(k))),
          )
        : undefined;
      const scope: RecordScope = { runUid: flags.run, beamtime, destination: flags.destination, ...(flags.force ? { force: true } : {}) };

      const queued = await withStore(options, async (store) => {
        if (!(await daemonStatus(store)).running) return undefined;
        return store.addRequest("resync", scope);
      });
      if (queued !== undefined) {
        if (!flags.wait) {
          if (out.json) printJson(out, { request: queued, handledBy: "daemon", done: false });
          else out.write(`resync request ${queued} queued; the running daemon picks it up within seconds`);
          return;
        }
        const result = await waitForRequest(options, queued, 30_000);
        if (out.json) printJson(out, { request: queued, handledBy: "daemon", done: result !== undefined, result });
        else out.write(result ? `daemon queued ${describe(result)}` : `request ${queued} queued; the daemon has not answered yet (see \`beamsync status\`)`);
        return;
      }
      // No daemon: do the work here, push included.
      process.exitCode = await withEngine(options, async (engine) => {
        const result = await handleRequest(engine, "resync", scope);
        const push = await engine.worker().drain({ forever: false, maxProbesWhenDown: 3 });
        if (out.json) printJson(out, { handledBy: "cli", result, push });
        else out.write(`queued ${describe(result)}; pushed ${push.succeeded} ok, ${push.failed} rejected, ${push.dead} gave up`);
        const incomplete = (result.incomplete as string[] | undefined) ?? [];
        if (!out.json) for (const reason of incomplete) out.write(`not read in this pass: ${reason}`);
        return push.failed + push.dead + push.unreachable.length + incomplete.length > 0 ? 1 : 0;
      });
    });
}

function describe(result: unknown): string {
  const r = result as { forced?: number; created?: number; updated?: number };
  return `${(r.forced ?? 0) + (r.updated ?? 0) + (r.created ?? 0)} record(s) to push again`;
}

async function waitForRequest(options: ReturnType<typeof globalOptions>, id: number, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const row = await withStore(options, (store) => store.getRequest(id));
    if (row?.handled_at) return row.result ? (JSON.parse(row.result) as unknown) : {};
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
}
