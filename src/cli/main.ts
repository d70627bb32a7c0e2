import { Command, CommanderError, Option } from "commander";
import { UsageError } from "../sync/errors.js";
import { StateVersionError } from "../state/migrations.js";
import { scrubSecrets } from "../ops/logger.js";
import { doctorCommand } from "./doctor.js";
import { logCommand } from "./log.js";
import { registerCommand } from "./register.js";
import { labelsCommand } from "./labels.js";
import { mappingCommand } from "./mapping.js";
import { resyncCommand } from "./resync.js";
import { retryCommand } from "./retry.js";
import { runCommand } from "./run.js";
import { stateCommand } from "./state.js";
import { statusCommand } from "./status.js";
import { syncCommand } from "./sync.js";
import { VERSION } from "../version.js";

/** Exit status (DESIGN.md §4): 0 success, 1 the work ran but some records failed, 2 bad usage or configuration. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command("beamsync")
    .description("Keeps SciCat and ICAT catalogs in step with what a beamline writes to disk.")
    .version(VERSION)
    .addOption(new Option("-c, --config <file>", "configuration file (default: $BEAMSYNC_CONFIG, else ./beamsync.yaml)"))
    .option("--json", "print data as JSON (for scripts)")
    .addOption(new Option("--log-level <level>", "log level for this command").choices(["error", "warn", "info", "debug"]))
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const command of [runCommand(), syncCommand(), statusCommand(), resyncCommand(), retryCommand(), logCommand(), doctorCommand(), registerCommand(), labelsCommand()]) {
    // Global flags are accepted after the command name too (`beamsync status --json`).
    command.option("-c, --config <file>", "configuration file").option("--json", "print data as JSON");
    command.exitOverride();
    program.addCommand(command);
  }
  // `mapping check` takes the global flags itself (a subcommand of a subcommand).
  program.addCommand(mappingCommand().exitOverride());
  program.addCommand(stateCommand().exitOverride());
  return program;
}

/**
 * A reader that goes away (`beamsync log | head`, a restarted journald) closes our stdout: what is left to
 * print has nobody to read it, but the work goes on and the exit status stays the work's.
 */
export function ignoreClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") return;
      throw err;
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  ignoreClosedOutput();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with exitCode 0; parse errors with 1, which the contract calls 2.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (err instanceof UsageError || err instanceof StateVersionError) {
      process.stderr.write(`beamsync: ${scrubSecrets(err.message)}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`beamsync: ${scrubSecrets(err instanceof Error ? err.message : String(err))}\n`);
    return EXIT_FAILED;
  }
}
