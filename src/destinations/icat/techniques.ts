import type { Logger } from "../../ops/logger.js";
import { jpqlString, type IcatApi } from "./api.js";
import { versionAtLeast } from "./preflight.js";

/**
 * The mapping rules' PaNET techniques as ICAT DatasetTechniques (icat-api.md §7: Technique, unique by `name`,
 * with a `pid`; DatasetTechnique, unique by `(dataset, technique)`; both ICAT 5.0+). Techniques are reference
 * data the facility loads, like ParameterTypes: found by pid (the PaNET term's URL), never created. A technique
 * ICAT does not have, or a server older than 5.0, leaves the link out with a warning — like a quantity without
 * its ParameterType, it never holds the dataset back.
 */

export interface WantedTechnique {
  pid: string;
  name: string;
}

/** A technique as the mapping rules name it, with the rule (for messages). */
export interface RuleTechnique extends WantedTechnique {
  rule: string;
}

/** pids per IN list: the GET URI stays short. */
const IN_CHUNK = 20;

export class TechniqueResolver {
  private supported: Promise<boolean> | undefined;
  /** pid → Technique id; only techniques found (a missing one is asked for again, the facility may add it). */
  private readonly ids = new Map<string, number>();
  private readonly warned = new Set<string>();

  constructor(
    private readonly api: IcatApi,
    private readonly logger: Logger,
  ) {}

  /** The Techniques ICAT has for these pids (pid → id and name), or "unsupported" before ICAT 5.0 — for `doctor`. */
  async inspect(pids: readonly string[]): Promise<Map<string, { id: number; name: string }> | "unsupported"> {
    if (!(await this.hasTechniques())) return "unsupported";
    const found = new Map<string, { id: number; name: string }>();
    const unique = [...new Set(pids)];
    for (let i = 0; i < unique.length; i += IN_CHUNK) {
      const list = unique.slice(i, i + IN_CHUNK).map(jpqlString).join(", ");
      for (const row of await this.api.searchEntities("Technique", `SELECT t FROM Technique t WHERE t.pid IN (${list})`)) {
        if (typeof row.pid === "string") found.set(row.pid, { id: row.id, name: String(row.name) });
      }
    }
    return found;
  }

  /** Technique ids for the wanted pids, in their order; those ICAT cannot link are left out and warned about once. */
  async resolve(wanted: readonly WantedTechnique[], dataset: string): Promise<number[]> {
    if (wanted.length === 0) return [];
    if (!(await this.hasTechniques())) {
      this.warnOnce("version", "ICAT has no Technique entity before 5.0: the mapping's techniques are left out of ICAT datasets", { techniques: wanted.map((t) => t.pid) });
      return [];
    }
    const unknown = [...new Set(wanted.map((t) => t.pid))].filter((pid) => !this.ids.has(pid));
    for (let i = 0; i < unknown.length; i += IN_CHUNK) {
      const list = unknown.slice(i, i + IN_CHUNK).map(jpqlString).join(", ");
      for (const row of await this.api.searchEntities("Technique", `SELECT t FROM Technique t WHERE t.pid IN (${list})`)) {
        if (typeof row.pid === "string") this.ids.set(row.pid, row.id);
      }
    }
    const out: number[] = [];
    for (const t of wanted) {
      const id = this.ids.get(t.pid);
      if (id === undefined) this.warnOnce(`pid ${t.pid}`, "ICAT has no Technique with this pid: the dataset is linked to the others (load the PaNET term into ICAT to link it)", { pid: t.pid, name: t.name, dataset });
      else if (!out.includes(id)) out.push(id);
    }
    return out;
  }

  /** Forget cached ids (after NO_SUCH_OBJECT_FOUND). */
  invalidate(): void {
    this.ids.clear();
  }

  private hasTechniques(): Promise<boolean> {
    if (!this.supported) {
      const attempt = this.api.version().then((v) => v === "unknown" || versionAtLeast(v, "5.0"));
      this.supported = attempt;
      attempt.catch(() => {
        if (this.supported === attempt) this.supported = undefined;
      });
    }
    return this.supported;
  }

  private warnOnce(key: string, message: string, fields: Record<string, unknown>): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn(message, fields);
  }
}
