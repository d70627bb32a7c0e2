/** Samples this process's resident set size; `peak()` is the highest seen since `start`. */
export function rssSampler(intervalMs = 25): { peakMb(): number; stop(): number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, intervalMs);
  timer.unref();
  const mb = () => Math.round((Math.max(peak, process.memoryUsage.rss()) / 1024 / 1024) * 10) / 10;
  return {
    peakMb: mb,
    stop() {
      clearInterval(timer);
      return mb();
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
