import type { ScicatConfig } from "../../config/schema.js";
import type { Logger } from "../../ops/logger.js";
import { PermanentError } from "../../sync/errors.js";
import type { CheckResult, Destination, HealthResult, PushContext, PushRecord, PushResult, RemoteState } from "../contract.js";
import { ScicatAuth, suggestApiRoot } from "./auth.js";
import { ScicatClient } from "./client.js";
import { lookupAttachment, pushAttachment } from "./attachment.js";
import { decodeDatablocks, lookupDatablocks, pushDatablocks } from "./datablocks.js";
import { lookupDataset, pushDataset } from "./dataset.js";
import { classifyScicatError } from "./errors.js";
import { createScicatHttp, type ScicatHttp } from "./http.js";
import { instruments, lookupKeyed, proposals, pushKeyed, samples, type KeyedResource } from "./keyed.js";
import { scicatPreflight } from "./preflight.js";
import { DatasetRoutes } from "./routes.js";

/**
 * The SciCat destination (scicat-api.md §12): v3 for proposals, samples and instruments, v4 (or v3) for datasets
 * and origdatablocks; create-or-update by natural key so that repeating a push never duplicates.
 */

export interface ScicatDestinationDeps {
  logger: Logger;
  /** Clock for token renewal decisions (tests). */
  now?: () => number;
  /** Transport override (tests, benchmarks). */
  http?: ScicatHttp;
  /**
   * Other workers push from the same state (PostgreSQL): a dataset this process created may have had its file
   * list written by another one since (an outcome not yet committed when a lease ran out), so every file-list push
   * reads the blocks first.
   */
  sharedState?: boolean;
}

const KEYED: Record<string, KeyedResource> = { proposal: proposals, sample: samples, instrument: instruments };

class ScicatDestination implements Destination {
  readonly name = "scicat" as const;
  private readonly http: ScicatHttp;
  private readonly auth: ScicatAuth;
  private readonly client: ScicatClient;
  private readonly routes: DatasetRoutes;
  /**
   * Datasets this process has just created: they cannot have blocks yet, so their first file-list push skips
   * the read. Taken out before that push, so a retry (after a lost answer) reads as usual.
   */
  private readonly freshDatasets = new Set<string>();
  private readonly sharedState: boolean;

  constructor(
    private readonly config: ScicatConfig,
    deps: ScicatDestinationDeps,
  ) {
    this.http = deps.http ?? createScicatHttp(config.url, config.timeoutMs, config.transport);
    this.auth = new ScicatAuth(this.http, config, deps.logger, deps.now);
    this.client = new ScicatClient(this.http, this.auth);
    this.routes = new DatasetRoutes(this.http, config, deps.logger);
    this.sharedState = deps.sharedState ?? false;
  }

  async authenticate(): Promise<void> {
    await this.auth.token();
  }

  /** A field (or `scientificMetadata.key`) where the source's value wins over a curator's edit. */
  private readonly sourceWins = (field: string): boolean => this.config.sourceWins.includes(field);

  push(record: PushRecord, ctx: PushContext): Promise<PushResult> {
    const keyed = KEYED[record.kind];
    const merge = { lastWritten: record.lastWritten, sourceWins: this.sourceWins };
    if (keyed) return pushKeyed(this.client, keyed, { payload: record.payload, remoteIdHint: record.remoteId, ...merge });
    switch (record.kind) {
      case "dataset":
        return pushDataset({ client: this.client, routes: this.routes }, { payload: record.payload, remoteIdHint: record.remoteId, ...merge }, ctx).then((result) => {
          if (result.operation === "create") this.rememberFresh(result.remoteId);
          return result;
        });
      case "origdatablocks": {
        const payload = decodeDatablocks(record.payload);
        const fresh = this.freshDatasets.delete(payload.datasetId);
        return pushDatablocks({ client: this.client, routes: this.routes, config: this.config }, payload, { knownEmpty: fresh });
      }
      case "attachment":
        return pushAttachment({ client: this.client, routes: this.routes }, record.payload);
      default:
        return Promise.reject(new PermanentError(`the SciCat destination does not handle records of kind ${record.kind}`));
    }
  }

  lookup(record: PushRecord, ctx: PushContext): Promise<RemoteState> {
    const keyed = KEYED[record.kind];
    const merge = { lastWritten: record.lastWritten, sourceWins: this.sourceWins };
    if (keyed) return lookupKeyed(this.client, keyed, { payload: record.payload, ...merge });
    switch (record.kind) {
      case "dataset":
        return lookupDataset({ client: this.client, routes: this.routes }, { payload: record.payload, ...merge }, ctx);
      case "origdatablocks":
        return lookupDatablocks({ client: this.client, routes: this.routes, config: this.config }, decodeDatablocks(record.payload));
      case "attachment":
        return lookupAttachment({ client: this.client, routes: this.routes }, record.payload);
      default:
        return Promise.reject(new PermanentError(`the SciCat destination does not handle records of kind ${record.kind}`));
    }
  }

  private rememberFresh(pid: string): void {
    if (this.sharedState) return;
    // Bounded: a dataset whose file list never comes (no files) must not keep its entry for ever.
    if (this.freshDatasets.size >= 10_000) this.freshDatasets.clear();
    this.freshDatasets.add(pid);
  }

  async health(): Promise<HealthResult> {
    try {
      const response = await this.http.send({ method: "GET", path: "/v3/health" });
      if (response.status !== 200) return { reachable: false, authenticated: false, message: `SciCat /v3/health answered HTTP ${response.status}${healthHint(response.status, this.config.url)}` };
    } catch (err) {
      return { reachable: false, authenticated: false, message: classifyScicatError(err, "reading /v3/health").message };
    }
    try {
      await this.auth.token();
      return { reachable: true, authenticated: true, message: "SciCat reachable and logged in" };
    } catch (err) {
      return { reachable: true, authenticated: false, message: classifyScicatError(err, "logging in").message };
    }
  }

  preflight(): Promise<CheckResult[]> {
    return scicatPreflight({ http: this.http, auth: this.auth, client: this.client, routes: this.routes, config: this.config });
  }

  async close(): Promise<void> {
    // JWTs are stateless (nothing to revoke); just release the connections.
    this.http.close();
    return Promise.resolve();
  }
}

/** A 404 for /v3/health means the URL is not the API root (a route miss, other/01). */
export function healthHint(status: number, url: string): string {
  return status === 404 ? ` — destinations.scicat.url must be the API root ending in /api (e.g. ${suggestApiRoot(url)})` : "";
}

/** `config` has its secrets resolved (`password` or `token` present). */
export function createScicatDestination(config: ScicatConfig, deps: ScicatDestinationDeps): Destination {
  return new ScicatDestination(config, deps);
}
