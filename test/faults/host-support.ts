import http from "node:http";
import path from "node:path";
import { spawnCli, waitFor, writeConfig } from "../support/cli.js";
import type { ScicatWorld } from "../support/scicat-setup.js";

/** A `beamsync run` subprocess with its health server on a free port, and ways to ask it how it is. */
export interface WatchedDaemon {
  daemon: ReturnType<typeof spawnCli>;
  url: string;
  get(route: "/healthz" | "/readyz" | "/metrics"): Promise<{ status: number; body: string }>;
  alive(): boolean;
  stop(): Promise<number | null>;
}

/** The world's configuration with the health server on (port 0) and info logs, written beside it. */
export function opsConfig(w: ScicatWorld, extra: Record<string, unknown> = {}): string {
  return writeConfig(path.join(w.dir, "ops"), {
    dataRoot: w.dataRoot,
    stateDir: w.stateDir,
    sources: { bluesky: { enabled: false } },
    destinations: { scicat: { url: w.scicat.url, username: "ingestor", password: w.password, pidPrefix: "test/" } },
    mapping: { ownerGroup: "group-a", accessGroups: ["staff"], instrument: "bl-1" },
    sync: { backoffBaseMs: 20, backoffMaxMs: 200, concurrency: 4, shutdownTimeoutMs: 3000 },
    http: { enabled: true, host: "127.0.0.1", port: 0 },
    log: { level: "info" },
    ...extra,
  });
}

export async function startWatchedDaemon(configFile: string): Promise<WatchedDaemon> {
  const daemon = spawnCli(["run", "--config", configFile]);
  // "started" comes after the signal handlers are in place, so a SIGTERM from here on is a graceful stop.
  const url = await waitFor(
    () => {
      if (daemon.child.exitCode !== null) throw new Error(`daemon exited ${daemon.child.exitCode}: ${daemon.stderr()} ${daemon.lines.join("\n")}`);
      for (const line of daemon.lines) {
        const parsed = JSON.parse(line) as { message?: string; ops?: string };
        if (parsed.message === "beamsync daemon started" && parsed.ops) return parsed.ops;
      }
      return undefined;
    },
    { what: "the daemon's health server" },
  );
  return {
    daemon,
    url,
    async get(route) {
      try {
        return await getFresh(`${url}${route}`);
      } catch (err) {
        throw new Error(`GET ${route}: ${(err as Error).message}; daemon exit ${daemon.child.exitCode}, stderr: ${daemon.stderr()}; last log: ${daemon.lines.slice(-5).join("\n")}`);
      }
    },
    alive: () => daemon.child.exitCode === null && daemon.child.signalCode === null,
    async stop() {
      if (daemon.child.exitCode === null) daemon.child.kill("SIGTERM");
      return daemon.exited;
    },
  };
}

/** A GET on a connection of its own: a kept-alive socket the server has just timed out would read as ECONNRESET. */
function getFresh(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}
