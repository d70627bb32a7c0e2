import path from "node:path";
import chokidar, { type FSWatcher } from "chokidar";
import type { Logger } from "../ops/logger.js";

/**
 * Watches the DATA root and reports which files changed, debounced by a settle time so a burst of writes
 * becomes one reconcile. Zarr stores are not watched (thousands of chunk files; the beamtime DB's commit
 * follows every frame that matters). A `-journal` event is reported as its database: the commit that removes
 * the journal is when new rows become visible.
 */
export interface WatcherOptions {
  dataRoot: string;
  settleMs: number;
  /** Fire anyway after this long, so a file that keeps growing is still read. */
  maxWaitMs?: number;
  usePolling: boolean;
  intervalMs: number;
  logger: Logger;
  onChange(change: WatchedChange): void;
}

export interface WatchedChange {
  /** Files that changed, relative to the DATA root. */
  paths: Set<string>;
  /**
   * A folder appeared (a new document folder, a beamtime moved into an archive): its files may have no event of
   * their own. The watcher reads a new folder and only then watches it, so a file written in between is never
   * reported; the answer is a full pass (cheap: unchanged files are skipped by their watermarks), made once the
   * settle time has passed, when such a file exists.
   */
  newFolder: boolean;
}

// yaml, yml and csv: registration files (sources.registrations), when their folder lies in the DATA root.
const RELEVANT = /\.(db|db-journal|json|jsonl|msgpack|gz|ya?ml|csv)$/i;

export function isRelevantPath(relative: string): boolean {
  return RELEVANT.test(relative) && !relative.split(/[\\/]/).some((part) => part.endsWith(".zarr"));
}

export class DataWatcher {
  private watcher: FSWatcher | undefined;
  private pending = new Set<string>();
  private newFolder = false;
  private settleTimer: NodeJS.Timeout | undefined;
  private firstEventAt = 0;

  constructor(private readonly options: WatcherOptions) {}

  async start(): Promise<void> {
    const { dataRoot } = this.options;
    this.watcher = chokidar.watch(dataRoot, {
      ignoreInitial: true,
      persistent: true,
      usePolling: this.options.usePolling,
      interval: this.options.intervalMs,
      binaryInterval: this.options.intervalMs,
      followSymlinks: false,
      ignorePermissionErrors: true,
      ignored: (p: string) => p.split(path.sep).some((part) => part.endsWith(".zarr")),
    });
    const onEvent = (absolute: string) => {
      const relative = path.relative(dataRoot, absolute).split(path.sep).join("/");
      if (!isRelevantPath(relative)) return;
      this.note(relative.replace(/-journal$/i, ""));
    };
    this.watcher.on("add", onEvent).on("change", onEvent).on("unlink", onEvent);
    this.watcher.on("addDir", () => {
      this.newFolder = true;
      this.schedule();
    });
    this.watcher.on("error", (err) => this.options.logger.warn("watcher error", { error: String(err) }));
    await new Promise<void>((resolve) => this.watcher?.once("ready", () => resolve()));
    this.options.logger.info("watching DATA root", { dataRoot, polling: this.options.usePolling });
  }

  private note(relative: string): void {
    this.pending.add(relative);
    this.schedule();
  }

  /** (Re)start the settle timer; the first event of a burst starts the maxWait clock. */
  private schedule(): void {
    const now = Date.now();
    if (!this.settleTimer) this.firstEventAt = now;
    else clearTimeout(this.settleTimer);
    const maxWait = this.options.maxWaitMs ?? Math.max(5 * this.options.settleMs, 1000);
    const delay = Math.min(this.options.settleMs, Math.max(0, this.firstEventAt + maxWait - now));
    this.settleTimer = setTimeout(() => this.flush(), delay);
  }

  private flush(): void {
    this.settleTimer = undefined;
    const change: WatchedChange = { paths: this.pending, newFolder: this.newFolder };
    this.pending = new Set();
    this.newFolder = false;
    if (change.paths.size > 0 || change.newFolder) this.options.onChange(change);
  }

  async close(): Promise<void> {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    await this.watcher?.close();
  }
}
