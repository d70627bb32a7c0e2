import { configSchema, type Config } from "../src/config/schema.js";
import type { TransportName } from "../src/destinations/transport.js";

export const BENCH_USER = "ingestor";
export const BENCH_PASSWORD = "bench-password";

/** beamsync's configuration for a benchmark: resonance only, the fake SciCat, no health server, quiet. */
export function benchConfig(dataRoot: string, stateDir: string, url: string, options: { concurrency?: number | undefined; transport?: TransportName | undefined; previews?: boolean } = {}): Config {
  return configSchema.parse({
    dataRoot,
    stateDir,
    sources: { bluesky: { enabled: false } },
    destinations: { scicat: { url, username: BENCH_USER, password: BENCH_PASSWORD, pidPrefix: "bench/", ...(options.transport ? { transport: options.transport } : {}) } },
    http: { enabled: false },
    log: { level: "error" },
    ...(options.concurrency ? { sync: { concurrency: options.concurrency } } : {}),
    ...(options.previews ? { previews: { enabled: true } } : {}),
  });
}
