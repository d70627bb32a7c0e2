import type { SourceKind } from "../model/types.js";
import type { Watermark } from "../sources/contract.js";

/** A watermark as both backends store it in `sources`: data as JSON text, retry as 0 or 1. */
export interface StoredWatermark {
  size: number;
  mtime_ms: number;
  data: string | null;
  problem: string | null;
  retry: number;
}

export function watermarkFromRow(source: SourceKind, path: string, row: StoredWatermark): Watermark {
  return {
    source,
    path,
    size: row.size,
    mtimeMs: row.mtime_ms,
    data: row.data ? (JSON.parse(row.data) as unknown) : undefined,
    problem: row.problem ?? undefined,
    retry: row.retry === 1,
  };
}
