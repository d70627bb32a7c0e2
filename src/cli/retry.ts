import { Command } from "commander";
import { daemonStatus } from "../ops/heartbeat.js";
import { beamtimeKeyFromArgument } from "../sources/resonance/identity.js";
import { readIdentityPins } from "../state/identity-keys.js";
import { globalOptions, withStore } from "./context.js";
import { createOutput, printJson } from "./output.js";
import { parseDestination } from "./parsers.js";

export function retryCommand(): Command {
  return new Command("retry")
    .description("move failed and dead records back to pending with a fresh attempt budget")
    .option("--run <uid>", "only the records of this run")
    .option("--beamtime <id>", "only the records of this beamtime (its DB's path under the DATA root, or its key resonance:<first run uid>), or a proposal id (its Proposal)")
    .option("--destination <name>", "scicat or icat", parseDestination)
    .addHelpText("after", "\nExamples:\n  beamsync retry\n  beamsync retry --run 1f0c2d... --destination icat")
    .action(async (opts: { run?: string; beamtime?: string; destination?: "scicat" | "icat" }, command: Command) => {
      const options = globalOptions(command);
      const out = createOutput(options.json ?? false);
      await withStore(options, async (store, config) => {
        const beamtime = opts.beamtime
          ? beamtimeKeyFromArgument(opts.beamtime, config.dataRoot, config.sources.resonance.busyTimeoutMs, await readIdentityPins((k) => store.getMeta(k)))
          : undefined;
        const moved = await store.retry({ runUid: opts.run, beamtime, destination: opts.destination });
        const daemon = await daemonStatus(store);
        if (out.json) return printJson(out, { moved, daemonRunning: daemon.running });
        out.write(`${moved} record(s) moved back to pending`);
        if (moved > 0) out.write(daemon.running ? "the running daemon pushes them within seconds" : "no daemon is running: push them with `beamsync sync`");
      });
    });
}
