/**
 * Reading a source is synchronous work (SQLite, fs): without a turn of the event loop now and then, a signal
 * or a health probe waits for the whole scan. Call the returned function between two files: it yields every
 * `everyMs` and says whether the scan should stop.
 */
export function createPacer(signal: AbortSignal | undefined, everyMs = 50): () => Promise<boolean> {
  let last = Date.now();
  return async () => {
    if (Date.now() - last >= everyMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      last = Date.now();
    }
    return signal?.aborted ?? false;
  };
}
