import { createMetrics } from "../ops/metrics.js";
import { startOpsServer, type ReadinessCheck } from "../ops/server.js";
import { HEARTBEAT_INTERVAL_MS } from "../ops/heartbeat.js";
import { DataWatcher } from "../sources/watcher.js";
import type { Engine } from "../sync/engine.js";
import { handleOpenRequests } from "../sync/requests.js";
import { ReconcileQueue, scheduleReconcile } from "../sync/scheduler.js";
import { StateGuard } from "./state-guard.js";

/** How soon a pass that skipped a source (lost DATA root, state store locked) is tried again. */
const INCOMPLETE_PASS_RETRY_MS = 30_000;

export interface DaemonHandle {
  /** Resolves with the exit code once the daemon has stopped. */
  done: Promise<number>;
  /** Begin a graceful shutdown (as SIGTERM does). */
  shutdown(reason: string): void;
  opsUrl: string | undefined;
}

/**
 * `beamsync run`: watch, reconcile on schedule and on change, handle operator requests, push forever, serve
 * health and metrics. The first SIGTERM/SIGINT stops intake and lets in-flight pushes finish (bounded by
 * sync.shutdownTimeoutMs); a second one forces. Everything accepted is already in the state store, so
 * nothing is lost either way.
 */
export async function startDaemon(engine: Engine, options: { handleSignals: boolean }): Promise<DaemonHandle> {
  const { config, store, logger } = engine;
  const worker = engine.worker();
  const metrics = createMetrics(store, {
    destinations: () => engine.destinationNames,
    destinationsDown: () => engine.destinationNames.filter((d) => worker.isDown(d)),
  });
  worker.onAttempt((event) => metrics.recordAttempt(event, Date.now()));

  // The daemon's heartbeat registers its worker in the workers table: on a shared state, that is how `status`,
  // `resync` and `retry` know a daemon will handle their requests (a one-shot `sync` running meanwhile does not count).
  const guard = new StateGuard(store, logger, worker.identity());
  // Aborted on shutdown, so that a long scan stops between two files instead of holding the stop up.
  const scanAbort = new AbortController();
  let repeatPass: NodeJS.Timeout | undefined;
  const queue = new ReconcileQueue(async (request) => {
    if (request.requests) await handleOpenRequests(engine);
    if (request.full || request.changedPaths) {
      // Workers sharing one state take turns at full scans (the pass is full exactly when this worker holds the
      // lock); what the watcher saw change, each reconciles.
      const release = request.full ? await store.tryScanLock() : undefined;
      if (request.full && !release) logger.debug("another worker is running the full scan; skipping this one", { changedFiles: request.changedPaths?.size ?? 0 });
      if (!release && !request.changedPaths) return;
      let outcome;
      try {
        outcome = await engine.reconcile({ changedPaths: release ? undefined : request.changedPaths, signal: scanAbort.signal });
      } finally {
        await release?.();
      }
      metrics.recordScan(outcome.durationMs, Date.now());
      // A pass that could not read a source or record what it read is repeated soon, not at the next cron tick.
      if (outcome.incomplete.length > 0 && !scanAbort.signal.aborted && !repeatPass) {
        repeatPass = setTimeout(() => {
          repeatPass = undefined;
          queue.request({ full: true });
        }, INCOMPLETE_PASS_RETRY_MS);
        repeatPass.unref();
      }
    }
  }, logger);

  const readiness = async (): Promise<ReadinessCheck> => {
    const checks: ReadinessCheck["checks"] = {};
    try {
      await store.getMeta("last_scan");
      const broken = guard.replacedOrRemoved() ?? guard.lastWriteError;
      checks.state = broken ? { ok: false, message: broken } : { ok: true, message: "state store readable and writable" };
    } catch (err) {
      checks.state = { ok: false, message: `cannot read the state store ${store.location}: ${(err as Error).message}` };
    }
    try {
      // A DATA root a source cannot read at all (a lost mount) leaves every record as it was: not ready.
      const rootProblem = (await store.sourceProblems()).find((p) => p.path === ".");
      checks.sources = rootProblem ? { ok: false, message: `${rootProblem.source}: ${rootProblem.problem}` } : { ok: true, message: "DATA root readable" };
    } catch (err) {
      checks.sources = { ok: false, message: `cannot read source state from ${store.location}: ${(err as Error).message}` };
    }
    for (const destination of engine.destinations) {
      try {
        const health = await destination.health();
        const down = worker.isDown(destination.name);
        checks[destination.name] = {
          ok: health.reachable && health.authenticated && !down,
          message: down ? `pushes paused: ${worker.downReason(destination.name) ?? health.message}` : health.message,
        };
      } catch (err) {
        checks[destination.name] = { ok: false, message: (err as Error).message };
      }
    }
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  };

  const ops = config.http.enabled
    ? await startOpsServer({ host: config.http.host, port: config.http.port, metrics, readiness, logger })
    : undefined;

  let exitCode = 0;
  const watchState = () => {
    const gone = guard.replacedOrRemoved();
    if (gone) {
      logger.error("stopping: the state store is gone; restart beamsync to begin a new one (the catalogs keep what was pushed)", { reason: gone });
      exitCode = 1;
      shutdown("state file replaced or removed");
      return;
    }
    void guard.beat();
  };
  await guard.beat();
  const heartbeat = setInterval(watchState, HEARTBEAT_INTERVAL_MS);
  // Other workers on a shared state say at once when they queue work or an operator asks for something;
  // the poll below stays as the fallback for a notification lost with a connection.
  await store.listen((event) => {
    if (event === "work") worker.wake();
    else queue.request({ requests: true });
  });
  const requestPoll = setInterval(() => {
    store
      .openRequests()
      .then((open) => {
        if (open.length > 0) queue.request({ requests: true });
      })
      .catch((err: unknown) => logger.warn("cannot read operator requests from the state store; trying again", { state: store.location, error: (err as Error).message }));
  }, config.sync.requestPollMs);

  const watcher = new DataWatcher({
    dataRoot: config.dataRoot,
    settleMs: config.sync.settleMs,
    usePolling: config.sync.watchPolling,
    intervalMs: config.sync.watchIntervalMs,
    logger,
    // A new folder asks for a full pass; its files are kept too, for a worker that finds the full scan taken.
    onChange: (change) => queue.request({ full: change.newFolder, changedPaths: change.paths.size > 0 ? change.paths : undefined }),
  });
  await watcher.start();
  const schedule = scheduleReconcile(config.sync.reconcileCron, queue);
  queue.request({ full: true, requests: true });

  const drained = worker.drain({ forever: true });
  let stopping: Promise<number> | undefined;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  const shutdown = (reason: string) => {
    if (stopping) return;
    logger.info("shutting down: finishing in-flight pushes", { reason, inFlight: worker.inFlightCount(), deadlineMs: config.sync.shutdownTimeoutMs });
    stopping = (async () => {
      scanAbort.abort();
      clearTimeout(repeatPass);
      clearInterval(requestPoll);
      schedule.stop();
      await watcher.close();
      await queue.close();
      worker.stop();
      const timedOut = await Promise.race([
        drained.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), config.sync.shutdownTimeoutMs).unref()),
      ]);
      if (timedOut) logger.warn("shutdown deadline passed with pushes in flight; they will be retried on the next start");
      clearInterval(heartbeat);
      try {
        if (!guard.replacedOrRemoved()) await guard.stop();
      } catch (err) {
        logger.warn("heartbeat not cleared; `status` shows the daemon as stopped once it is stale", { error: (err as Error).message });
      }
      await ops?.close();
      await engine.close();
      logger.info("stopped");
      return exitCode;
    })();
    stopping.then(resolveDone, (err: unknown) => {
      logger.error("shutdown failed", { error: String(err) });
      resolveDone(1);
    });
  };

  if (options.handleSignals) {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) return shutdown(signal);
      logger.warn("second signal: forcing exit; unfinished pushes are retried on the next start", { signal });
      process.exit(1);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }

  logger.info("beamsync daemon started", { dataRoot: config.dataRoot, destinations: engine.destinationNames, ops: ops?.url });
  return { done, shutdown, opsUrl: ops?.url };
}
