import type { ScicatConfig } from "../../config/schema.js";
import type { Logger } from "../../ops/logger.js";
import type { ScicatHttp } from "./http.js";

export type DatasetApi = "v4" | "v3";

/**
 * Which dataset routes the server has (scicat-api.md §1, §11): `auto` reads `/explorer-json` once and uses v4
 * when it lists `/api/v4/datasets`, v3 otherwise. When the document cannot be read, v4 is assumed (every
 * v4.x backend has it) and the question is asked again on the next push.
 */
export class DatasetRoutes {
  private decided: DatasetApi | undefined;

  constructor(
    private readonly http: ScicatHttp,
    private readonly config: ScicatConfig,
    private readonly logger: Logger,
  ) {
    if (config.datasetApi !== "auto") this.decided = config.datasetApi;
  }

  private probing: Promise<DatasetApi> | undefined;

  /** The dataset API; concurrent callers share one probe of /explorer-json (a document of some 360 KB). */
  api(): Promise<DatasetApi> {
    if (this.decided) return Promise.resolve(this.decided);
    this.probing ??= this.probe().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private async probe(): Promise<DatasetApi> {
    try {
      const response = await this.http.send({ method: "GET", path: "/explorer-json", fromOrigin: true });
      const paths = (response.data as { paths?: Record<string, unknown> } | undefined)?.paths;
      if (response.status === 200 && paths && typeof paths === "object") {
        const v4 = Object.keys(paths).some((p) => p.toLowerCase() === "/api/v4/datasets");
        this.decided = v4 ? "v4" : "v3";
        this.logger.info("SciCat dataset API chosen", { api: this.decided, from: "/explorer-json" });
        return this.decided;
      }
    } catch {
      // fall through: unknown for now
    }
    return "v4";
  }

  /** Absolute URL of an API path, for `upload_log.remote_url`. */
  url(path: string): string {
    return `${this.config.url.replace(/\/+$/, "")}${path}`;
  }

  datasets(api: DatasetApi): string {
    return `/${api}/datasets`;
  }

  dataset(api: DatasetApi, pid: string): string {
    return `/${api}/datasets/${encodeURIComponent(pid)}`;
  }

  /** Blocks of one dataset; this v3 route exists on every server. */
  datasetBlocks(pid: string): string {
    return `/v3/datasets/${encodeURIComponent(pid)}/origdatablocks`;
  }

  origdatablocks(api: DatasetApi): string {
    return `/${api}/origdatablocks`;
  }

  origdatablock(api: DatasetApi, id: string): string {
    return `/${api}/origdatablocks/${encodeURIComponent(id)}`;
  }
}

/** v4 list fields and the v3 DTO's single-valued names for them (scicat-api.md §5.2); stored in v4 shape. */
const V3_NAMES: readonly [plural: string, single: string][] = [
  ["principalInvestigators", "principalInvestigator"],
  ["proposalIds", "proposalId"],
  ["sampleIds", "sampleId"],
  ["instrumentIds", "instrumentId"],
];

/** v4 field names → the v3 DTO's singular ones. */
export function toV3Dataset(payload: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...payload };
  for (const [plural, one] of V3_NAMES) {
    if (!(plural in out)) continue;
    const list = out[plural];
    delete out[plural];
    if (Array.isArray(list) && list.length > 0) out[one] = list[0];
  }
  return out;
}

/** A stored dataset as v4 names, whichever version answered. */
export function asV4Dataset(document: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...document };
  for (const [many, one] of V3_NAMES) {
    if (out[many] === undefined && out[one] !== undefined && out[one] !== null) out[many] = [out[one]];
  }
  return out;
}
