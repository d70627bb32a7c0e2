import type { CheckResult, Destination, HealthResult, PushContext, PushRecord, PushResult, RemoteState } from "../../src/destinations/contract.js";
import type { DestinationName } from "../../src/mapping/record.js";

/**
 * An in-memory destination for core tests: records what it receives and fails on a script.
 * (Catalog behaviour is tested against the faithful fakes in test/fakes; this one tests the worker.)
 */
export class MemoryDestination implements Destination {
  readonly stored = new Map<string, { payload: Record<string, unknown>; hash: string }>();
  readonly pushes: { kind: string; key: string; dependencyIds: Record<string, string | undefined> }[] = [];
  /** Errors to throw for the next pushes, in order (undefined = succeed). */
  script: (Error | undefined)[] = [];
  /** Throw this for every push while set. */
  alwaysFail: Error | undefined;
  reachable = true;
  healthProbes = 0;

  constructor(readonly name: DestinationName = "scicat") {}

  async authenticate(): Promise<void> {}

  async push(record: PushRecord, ctx: PushContext): Promise<PushResult> {
    const dependencyIds: Record<string, string | undefined> = {};
    for (const kind of ["proposal", "instrument", "sample", "dataset"]) {
      const key = record.payload[`${kind}Key`];
      if (typeof key === "string") dependencyIds[kind] = ctx.dependencyRemoteId(kind, key);
    }
    this.pushes.push({ kind: record.kind, key: record.key, dependencyIds });
    const scripted = this.script.shift();
    if (scripted) throw scripted;
    if (this.alwaysFail) throw this.alwaysFail;
    const id = `${record.kind}/${record.key}`;
    const existing = this.stored.get(id);
    this.stored.set(id, { payload: record.payload, hash: record.hash });
    return { operation: existing ? (existing.hash === record.hash ? "skip" : "update") : "create", remoteId: `remote-${record.key}`, remoteUrl: `memory://${id}` };
  }

  async lookup(record: PushRecord): Promise<RemoteState> {
    const existing = this.stored.get(`${record.kind}/${record.key}`);
    return existing ? { exists: true, remoteId: `remote-${record.key}`, fields: existing.payload } : { exists: false };
  }

  async health(): Promise<HealthResult> {
    this.healthProbes++;
    return { reachable: this.reachable, authenticated: this.reachable, message: this.reachable ? "ok" : "down" };
  }

  async preflight(): Promise<CheckResult[]> {
    return [{ name: "memory", severity: "ok", message: "always fine" }];
  }

  async close(): Promise<void> {}
}
