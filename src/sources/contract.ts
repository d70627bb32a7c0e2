import type { Snapshot, SourceKind } from "../model/types.js";

/**
 * What a source remembers about one file between scans, so that unchanged files are not re-read.
 * Stored in the state store's `sources` table in the same transaction as the outbox rows they produced.
 */
export interface Watermark {
  source: SourceKind;
  /** Path relative to the DATA root. */
  path: string;
  size: number;
  mtimeMs: number;
  /** Source-specific state (e.g. open bluesky runs and when the file last grew). */
  data?: unknown;
  /** Why the file could not be (fully) read; shown by `beamsync status`. */
  problem?: string | undefined;
  /**
   * true when the problem may go away without the file changing (locked, hot journal, still being written):
   * the next scan reads the file again even if size and mtime are unchanged.
   */
  retry?: boolean | undefined;
}

export interface WatermarkReader {
  get(source: SourceKind, path: string): Promise<Watermark | undefined>;
}

export interface ScanOptions {
  /** Ignore watermarks and read everything (resync, first run, dry-run). */
  force: boolean;
  /** Paths (relative to the DATA root) the watcher saw change; a hint, sources may read more. */
  changedPaths?: ReadonlySet<string> | undefined;
  /** Current time in ms (injectable for tests of staleness). */
  nowMs: number;
  /**
   * When given, the source hands its results over file by file (a beamtime DB, a document file: each batch
   * self-contained) and returns only the rest, so memory stays bounded by one file's records.
   */
  onBatch?: ((batch: ScanResult) => void | Promise<void>) | undefined;
  /** Aborted on shutdown: the source stops between two files and returns what it has. */
  signal?: AbortSignal | undefined;
}

export interface ScanResult {
  /** Records read from files that changed (or all files, when forced). */
  snapshot: Snapshot;
  /** New watermarks for every file examined, including ones with problems. */
  watermarks: Watermark[];
  /** Files examined and found unchanged. */
  unchanged: number;
}

export interface Source {
  readonly kind: SourceKind;
  scan(watermarks: WatermarkReader, options: ScanOptions): Promise<ScanResult>;
}
