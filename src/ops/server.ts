import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

export interface ReadinessCheck {
  ready: boolean;
  checks: Record<string, { ok: boolean; message: string }>;
}

/** /healthz (process alive), /readyz (state store usable, catalogs reachable and authenticated), /metrics. */
export async function startOpsServer(options: {
  host: string;
  port: number;
  metrics: Metrics;
  readiness: () => Promise<ReadinessCheck>;
  logger: Logger;
}): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "text/plain", "method not allowed\n");
    if (path === "/healthz") return reply(200, "application/json", JSON.stringify({ status: "ok" }));
    if (path === "/readyz") {
      options.readiness().then(
        (r) => reply(r.ready ? 200 : 503, "application/json", JSON.stringify(r)),
        (err: unknown) => reply(503, "application/json", JSON.stringify({ ready: false, error: String(err) })),
      );
      return;
    }
    if (path === "/metrics") {
      options.metrics.registry.metrics().then(
        (text) => reply(200, options.metrics.registry.contentType, text),
        (err: unknown) => reply(500, "text/plain", `metrics failed: ${String(err)}\n`),
      );
      return;
    }
    reply(404, "text/plain", "not found: try /healthz, /readyz or /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.address.includes(":") ? `[${address.address}]` : address.address}:${address.port}`;
  options.logger.info("health and metrics server listening", { url });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
