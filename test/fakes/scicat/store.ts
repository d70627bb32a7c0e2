/** What the fake backend holds; Maps keyed by natural id, documents shaped as the server stores them. */
export type Doc = Record<string, unknown>;

export class ScicatStore {
  readonly datasets = new Map<string, Doc>();
  readonly proposals = new Map<string, Doc>();
  readonly samples = new Map<string, Doc>();
  readonly instruments = new Map<string, Doc>();
  readonly origdatablocks = new Map<string, Doc>();
  /** Block ids per dataset pid, in creation order. */
  readonly blocksByDataset = new Map<string, string[]>();

  stamp(doc: Doc, user: string, created = true): Doc {
    const now = new Date().toISOString();
    if (created) {
      doc.createdBy = user;
      doc.createdAt = now;
    }
    doc.updatedBy = user;
    doc.updatedAt = now;
    return doc;
  }

  /** Stores a block under its `_id` and recounts its dataset (origdatablocks/01). */
  addBlock(block: Doc, user: string): void {
    const id = String(block._id);
    this.origdatablocks.set(id, block);
    const pid = String(block.datasetId);
    const list = this.blocksByDataset.get(pid) ?? [];
    list.push(id);
    this.blocksByDataset.set(pid, list);
    this.recount(pid, user);
  }

  blocksOf(pid: string): Doc[] {
    return (this.blocksByDataset.get(pid) ?? []).map((id) => this.origdatablocks.get(id)).filter((b): b is Doc => b !== undefined);
  }

  deleteBlock(id: string, user: string): boolean {
    const block = this.origdatablocks.get(id);
    if (!block) return false;
    this.origdatablocks.delete(id);
    const pid = String(block.datasetId);
    this.blocksByDataset.set(pid, (this.blocksByDataset.get(pid) ?? []).filter((b) => b !== id));
    this.recount(pid, user);
    return true;
  }

  /**
   * Block POST, PATCH and DELETE recompute the dataset's size and file count as sums over its blocks, duplicates
   * included, and the dataset counts as updated by that user (origdatablocks/06, origdatablocks/07 "dataset size
   * after delete": updatedBy admin; surprise 5).
   */
  recount(pid: string, user: string): void {
    const dataset = this.datasets.get(pid);
    if (!dataset) return;
    this.stamp(dataset, user, false);
    const blocks = this.blocksOf(pid);
    dataset.size = blocks.reduce((n, b) => n + (typeof b.size === "number" ? b.size : 0), 0);
    dataset.numberOfFiles = blocks.reduce((n, b) => n + (Array.isArray(b.dataFileList) ? b.dataFileList.length : 0), 0);
  }
}

/** RFC 7396 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Doc = target !== null && typeof target === "object" && !Array.isArray(target) ? { ...(target as Doc) } : {};
  for (const [k, v] of Object.entries(patch as Doc)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}
