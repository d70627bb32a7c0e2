import type { IcatConfig } from "../../config/schema.js";
import type { Logger } from "../../ops/logger.js";
import { DependencyError, PermanentError } from "../../sync/errors.js";
import type { CheckResult, Destination, HealthResult, PushContext, PushRecord, PushResult, RemoteState } from "../contract.js";
import { IcatApi } from "./api.js";
import type { SyncDeps } from "./context.js";
import { lookupDataset, pushDataset } from "./dataset.js";
import { ServerPrecision } from "./diff.js";
import { classifyIcatError, isIcatCode } from "./errors.js";
import { createIcatHttp, type IcatHttp } from "./http.js";
import { lookupInvestigation, pushInvestigation } from "./investigation.js";
import { decodeDataset, decodeInvestigation, decodeSample } from "./payload.js";
import { icatPreflight } from "./preflight.js";
import { ReferenceResolver } from "./reference.js";
import { lookupSample, pushSample } from "./sample.js";
import { entitySchemas } from "./schema.js";
import { IcatSession } from "./session.js";
import { TechniqueResolver, type RuleTechnique } from "./techniques.js";

/**
 * The ICAT destination (icat-api.md §9): session handling, cached reference data, and idempotent
 * create-or-update of Investigations, Samples (with parameters) and Datasets (with parameters and datafiles) by
 * unique key.
 */

export interface IcatDestinationDeps {
  logger: Logger;
  /** Clock for session refresh decisions (tests). */
  now?: () => number;
  /** Transport override (tests). */
  http?: IcatHttp;
  /** The techniques the mapping rules name, checked against ICAT's by `doctor`. */
  ruleTechniques?: RuleTechnique[];
  /** Registrations are read (sources.registrations.enabled): preflight checks the sample ParameterTypes too. */
  registrations?: boolean;
}

function describe(record: PushRecord): string {
  const p = record.payload;
  switch (record.kind) {
    case "investigation":
      return `investigation ${String(p.name)}/${String(p.visitId)}`;
    case "sample":
      return `sample '${String(p.name)}' (${record.key})`;
    case "dataset":
      return `dataset ${String(p.name)}`;
    default:
      return `${record.kind} ${record.key}`;
  }
}

class IcatDestination implements Destination {
  readonly name = "icat" as const;
  private readonly http: IcatHttp;
  private readonly session: IcatSession;
  private readonly api: IcatApi;
  private readonly reference: ReferenceResolver;
  private readonly techniques: TechniqueResolver;
  private readonly deps: SyncDeps;
  private readonly ruleTechniques: RuleTechnique[];
  private readonly registrations: boolean;

  constructor(
    private readonly config: IcatConfig,
    deps: IcatDestinationDeps,
  ) {
    this.http = deps.http ?? createIcatHttp(config.url, config.timeoutMs, config.transport);
    this.session = new IcatSession(this.http, config, deps.logger, deps.now ?? Date.now);
    this.api = new IcatApi(this.http, this.session, entitySchemas(config.locationLength));
    this.reference = new ReferenceResolver(this.api, config);
    this.techniques = new TechniqueResolver(this.api, deps.logger);
    this.ruleTechniques = deps.ruleTechniques ?? [];
    this.deps = { api: this.api, reference: this.reference, techniques: this.techniques, config, logger: deps.logger, precision: new ServerPrecision() };
    this.registrations = deps.registrations ?? false;
  }

  async authenticate(): Promise<void> {
    try {
      await this.session.ensure();
    } catch (err) {
      throw classifyIcatError(err, "logging in");
    }
  }

  async push(record: PushRecord, ctx: PushContext): Promise<PushResult> {
    const what = describe(record);
    try {
      return await this.dispatch(record, ctx, true);
    } catch (err) {
      if (!isIcatCode(err, "NO_SUCH_OBJECT_FOUND")) throw classifyIcatError(err, `pushing ${what}`);
      // A cached or hinted id is gone: forget them all, resolve by unique keys, try once more.
      this.deps.logger.info("ICAT object not found; resolving references again", { record: what, reason: err.serverMessage });
      this.reference.invalidate();
      this.techniques.invalidate();
      try {
        return await this.dispatch(record, ctx, false);
      } catch (again) {
        if (isIcatCode(again, "NO_SUCH_OBJECT_FOUND")) {
          throw new DependencyError(classifyIcatError(again, `pushing ${what} (after resolving references again)`).message, { httpStatus: again.status });
        }
        throw classifyIcatError(again, `pushing ${what}`);
      }
    }
  }

  private dispatch(record: PushRecord, ctx: PushContext, useHints: boolean): Promise<PushResult> {
    switch (record.kind) {
      case "investigation":
        return pushInvestigation(this.deps, decodeInvestigation(record.payload));
      case "sample":
        return pushSample(this.deps, decodeSample(record.payload), ctx, useHints);
      case "dataset":
        return pushDataset(this.deps, decodeDataset(record.payload), ctx, useHints);
      default:
        throw new PermanentError(`the ICAT destination does not handle records of kind ${record.kind}`);
    }
  }

  async lookup(record: PushRecord, ctx: PushContext): Promise<RemoteState> {
    try {
      switch (record.kind) {
        case "investigation":
          return await lookupInvestigation(this.deps, decodeInvestigation(record.payload));
        case "sample":
          return await lookupSample(this.deps, decodeSample(record.payload), ctx);
        case "dataset":
          return await lookupDataset(this.deps, decodeDataset(record.payload), ctx);
        default:
          throw new PermanentError(`the ICAT destination does not handle records of kind ${record.kind}`);
      }
    } catch (err) {
      throw classifyIcatError(err, `looking up ${describe(record)}`);
    }
  }

  async health(): Promise<HealthResult> {
    try {
      await this.api.version();
    } catch (err) {
      return { reachable: false, authenticated: false, message: classifyIcatError(err, "reading /icat/version").message };
    }
    try {
      const info = await this.api.sessionInfo();
      return { reachable: true, authenticated: true, message: `ICAT reachable; session of ${info.userName} has ${Math.floor(info.remainingMinutes)} min left` };
    } catch (err) {
      return { reachable: true, authenticated: false, message: classifyIcatError(err, "checking the session").message };
    }
  }

  preflight(): Promise<CheckResult[]> {
    return icatPreflight(this.api, this.reference, this.config, { techniques: { resolver: this.techniques, wanted: this.ruleTechniques }, sampleParameters: this.registrations });
  }

  async close(): Promise<void> {
    await this.session.logout();
    this.http.close();
  }
}

/** `config` has its secrets resolved (`password` present). */
export function createIcatDestination(config: IcatConfig, deps: IcatDestinationDeps): Destination {
  return new IcatDestination(config, deps);
}
