import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type BetterSqlite3 from "better-sqlite3";
import { Database } from "../sqlite.js";
import type { FileRef, Run } from "../model/types.js";
import type { ScanOptions, ScanResult, Source, WatermarkReader } from "../sources/contract.js";

/**
 * Checksums of the files runs own (issue 17, `files.checksum`). Each file is read once per (path, size, mtime):
 * the digest is remembered in `stateDir/checksums.sqlite`, so neither a rescan nor a restart reads it again.
 * A shared file (the beamtime DB) gets none: it changes with every run, so its digest would be stale at once.
 */

export type ChecksumAlgorithm = "sha256" | "blake2b";

/** Node's names for them; blake2b as scicat-ingestor writes it (512 bits). */
const NODE_ALGORITHM: Record<ChecksumAlgorithm, string> = { sha256: "sha256", blake2b: "blake2b512" };

export async function fileDigest(file: string, algorithm: ChecksumAlgorithm): Promise<string> {
  const hash = createHash(NODE_ALGORITHM[algorithm]);
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest("hex");
}

/** Remembered digests by (path, size, mtime). */
export class ChecksumCache {
  private readonly db: BetterSqlite3.Database;
  private readonly getStmt: BetterSqlite3.Statement<[string, string, number, number], { digest: string }>;
  private readonly putStmt: BetterSqlite3.Statement<[string, string, number, number, string]>;

  constructor(file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.exec("CREATE TABLE IF NOT EXISTS checksums (path TEXT NOT NULL, algorithm TEXT NOT NULL, size INTEGER NOT NULL, mtime_ms INTEGER NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (path, algorithm))");
    this.getStmt = this.db.prepare("SELECT digest FROM checksums WHERE path = ? AND algorithm = ? AND size = ? AND mtime_ms = ?");
    this.putStmt = this.db.prepare("INSERT OR REPLACE INTO checksums (path, algorithm, size, mtime_ms, digest) VALUES (?, ?, ?, ?, ?)");
  }

  get(file: FileRef, algorithm: ChecksumAlgorithm): string | undefined {
    return this.getStmt.get(file.path, algorithm, file.size, Math.floor(file.mtimeMs))?.digest;
  }

  put(file: FileRef, algorithm: ChecksumAlgorithm, digest: string): void {
    this.putStmt.run(file.path, algorithm, file.size, Math.floor(file.mtimeMs), digest);
  }

  close(): void {
    this.db.close();
  }
}

export interface ChecksumOptions {
  algorithm: ChecksumAlgorithm;
  concurrency: number;
  cache: ChecksumCache;
  /** Counts files actually read (tests: a rescan reads none). */
  onRead?: (file: string) => void;
}

/** Fill `checksum` in the runs' own files, reading at most `concurrency` files at once; an unreadable file gets none. */
export async function fillChecksums(runs: Run[], options: ChecksumOptions): Promise<void> {
  const pending = runs.flatMap((run) => run.files.filter((f) => !f.shared && f.checksum === undefined));
  let next = 0;
  const worker = async () => {
    while (next < pending.length) {
      const file = pending[next++] as FileRef;
      const known = options.cache.get(file, options.algorithm);
      if (known) {
        file.checksum = known;
        continue;
      }
      try {
        options.onRead?.(file.path);
        file.checksum = await fileDigest(file.path, options.algorithm);
        options.cache.put(file, options.algorithm, file.checksum);
      } catch {
        // Gone or unreadable since the source listed it: the next scan of its source tries again.
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, pending.length) }, worker));
}

/**
 * A source whose runs come with checksums. Batches the inner source hands over are held until their files are
 * hashed, then passed on in order, before this scan returns (hashing runs beside the source's reading, so while
 * it lags, batches wait in memory).
 */
export function withChecksums(inner: Source, options: ChecksumOptions): Source {
  return {
    kind: inner.kind,
    async scan(watermarks: WatermarkReader, scan: ScanOptions): Promise<ScanResult> {
      const outer = scan.onBatch;
      if (!outer) {
        const result = await inner.scan(watermarks, scan);
        await fillChecksums(result.snapshot.runs, options);
        return result;
      }
      // One batch hashed at a time, so `concurrency` bounds the reads of the whole scan.
      let chain = Promise.resolve();
      const result = await inner.scan(watermarks, {
        ...scan,
        onBatch: (batch) => {
          chain = chain.then(() => fillChecksums(batch.snapshot.runs, options)).then(() => outer(batch));
          // Awaited below; marked handled so a failure waits for that await instead of an unhandled rejection.
          chain.catch(() => undefined);
        },
      });
      await chain;
      await fillChecksums(result.snapshot.runs, options);
      return result;
    },
  };
}
