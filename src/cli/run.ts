import { Command } from "commander";
import { startDaemon } from "../app/daemon.js";
import { buildEngine } from "../app/wire.js";
import { commandLogger, globalOptions, loadCommandConfig } from "./context.js";

export function runCommand(): Command {
  return new Command("run")
    .description("the daemon: watch the DATA root, reconcile on schedule, push, serve /healthz /readyz /metrics until SIGTERM")
    .addHelpText(
      "after",
      `
Logs are JSON lines on stdout (for journald). SIGTERM or SIGINT: stop intake, finish in-flight pushes, exit 0;
a second signal forces.

Example:
  beamsync run --config /etc/beamsync/beamsync.yaml`,
    )
    .option("--accept-new-keys", "confirm a changed pidPrefix (or other setting that makes record keys): records are created again under the new keys")
    .action(async (opts: { acceptNewKeys?: boolean }, command: Command) => {
      const options = globalOptions(command);
      const config = loadCommandConfig(options);
      const logger = commandLogger(config, { ...options, toStdout: true });
      const engine = buildEngine(config, logger);
      engine.acceptNewKeys = opts.acceptNewKeys ?? false;
      try {
        // Refused before the daemon starts anything: exit 2, and systemd does not restart it.
        engine.checkRecordKeys();
      } catch (err) {
        await engine.close();
        throw err;
      }
      const daemon = await startDaemon(engine, { handleSignals: true });
      process.exitCode = await daemon.done;
    });
}
