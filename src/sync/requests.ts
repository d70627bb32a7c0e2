import type { RecordScope } from "../state/contract.js";
import type { Engine } from "./engine.js";

/**
 * Operator requests, handled the same way by the daemon (picked up from the `requests` table) and by the CLI
 * when no daemon runs. A resync re-reads the sources (ignoring watermarks) and queues every record in scope.
 */
export async function handleRequest(engine: Engine, action: "resync" | "retry", scope: RecordScope): Promise<Record<string, unknown>> {
  if (action === "retry") return { moved: await engine.store.retry(scope) };
  // --force: with no memory of what beamsync wrote, an update sends every field that differs (the source wins).
  const forgotten = scope.force ? await engine.store.forgetWritten(scope) : 0;
  const outcome = await engine.reconcile({ force: true, scope });
  return {
    created: outcome.created,
    updated: outcome.updated,
    forced: outcome.forced,
    ...(scope.force ? { sourceWins: forgotten } : {}),
    ...(outcome.incomplete.length > 0 ? { incomplete: outcome.incomplete } : {}),
  };
}

/** Daemon side: handle every open request; returns how many were handled. */
export async function handleOpenRequests(engine: Engine): Promise<number> {
  const open = await engine.store.openRequests();
  for (const request of open) {
    const scope = JSON.parse(request.scope) as RecordScope;
    try {
      const result = await handleRequest(engine, request.action, scope);
      await engine.store.finishRequest(request.id, result);
      engine.logger.info("operator request handled", { request: request.id, action: request.action, scope, ...result });
    } catch (err) {
      await engine.store.finishRequest(request.id, { error: (err as Error).message }).catch(() => undefined);
      engine.logger.error("operator request failed", { request: request.id, error: (err as Error).message });
    }
  }
  if (open.length > 0) engine.worker().wake();
  return open.length;
}
