import { Command } from "commander";
import { startDaemon } from "../app/daemon.js";
import { buildEngine } from "../app/wire.js";
import { lockStateDir } from "../app/instance-lock.js";
import { ensureStateDir } from "../state/database.js";
import { openStateStore } from "../state/open.js";

/** Longest the daemon blocks on a state-store lock held by another process before it backs off and retries. */
const DAEMON_BUSY_TIMEOUT_MS = 2000;
import { commandLogger, globalOptions, loadCommandConfig } from "./context.js";

export function runCommand(): Command {
  return new Command("run")
    .description("the daemon: watch the DATA root, reconcile on schedule, push, serve /healthz /readyz /metrics until SIGTERM")
    .addHelpText(
      "after",
      `
Logs are JSON lines on stdout (for journald). SIGTERM or SIGINT: stop intake (a scan stops between two
files), finish in-flight pushes, exit 0; a second signal forces.

One daemon per stateDir: a second \`run\` on the same stateDir exits 2 naming the pid that holds it.
\`sync\` may run beside it (writers wait for each other); \`resync\` and \`retry\` hand their work to it.
The daemon exits 1 if its state file is removed or replaced under it.

Example:
  beamsync run --config /etc/beamsync/beamsync.yaml`,
    )
    .option("--accept-new-keys", "confirm a changed pidPrefix (or other setting that makes record keys): records are created again under the new keys")
    .action(async (opts: { acceptNewKeys?: boolean }, command: Command) => {
      const options = globalOptions(command);
      const config = loadCommandConfig(options);
      const logger = commandLogger(config, { ...options, toStdout: true });
      ensureStateDir(config.stateDir);
      // Before the store is opened (and maybe migrated): a second daemon stops here, naming the first. Workers
      // sharing a PostgreSQL state are meant to run side by side: leases decide who pushes what.
      const lock = config.state.backend === "sqlite" ? lockStateDir(config.stateDir) : { release: () => undefined };
      try {
        // The daemon's event loop also answers /healthz: it waits for a lock only briefly, and its writers retry.
        const engine = await buildEngine(config, logger, { store: await openStateStore(config, { busyTimeoutMs: DAEMON_BUSY_TIMEOUT_MS }) });
        engine.acceptNewKeys = opts.acceptNewKeys ?? false;
        try {
          // Refused before the daemon starts anything: exit 2, and systemd does not restart it.
          await engine.checkRecordKeys();
        } catch (err) {
          await engine.close();
          throw err;
        }
        // A promise nobody awaited that rejects is a bug to log, not a reason to stop syncing.
        process.on("unhandledRejection", (reason) => logger.error("unhandled rejection (a bug; please report it)", { error: reason instanceof Error ? reason.stack ?? reason.message : String(reason) }));
        const daemon = await startDaemon(engine, { handleSignals: true });
        process.exitCode = await daemon.done;
      } finally {
        lock.release();
      }
    });
}
