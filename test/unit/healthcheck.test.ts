import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { checkHealth } from "../../src/ops/healthcheck.js";

/** Issue 16.3: the image's health check asks the port the configuration names, not a fixed 9464. */

let server: http.Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function listen(status: number): Promise<number> {
  server = http.createServer((req, res) => res.writeHead(req.url === "/healthz" ? status : 404).end());
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

const document = (port: number, host = "0.0.0.0") => ({ dataRoot: "/data", http: { host, port } });

describe("container health check", () => {
  it("asks /healthz on the configured port, through loopback when the daemon listens on every address", async () => {
    const port = await listen(200);
    expect(await checkHealth({ document: document(port), env: {} })).toEqual({ ok: true, message: `http://127.0.0.1:${port}/healthz: HTTP 200` });
  });

  it("follows BEAMSYNC_HTTP__PORT over the file, as the daemon does", async () => {
    const port = await listen(200);
    expect((await checkHealth({ document: document(1), env: { BEAMSYNC_HTTP__PORT: String(port) } })).ok).toBe(true);
  });

  it("is unhealthy on an error status, a closed port or a broken configuration", async () => {
    const port = await listen(503);
    expect((await checkHealth({ document: document(port), env: {} })).ok).toBe(false);
    server!.close();
    server = undefined;
    expect((await checkHealth({ document: document(port), env: {} }, 1000)).ok).toBe(false);
    expect(await checkHealth({ document: { dataRoot: "/data", http: { port: "nine" } }, env: {} })).toMatchObject({ ok: false, message: expect.stringMatching(/^configuration: .*http\.port/s) });
  });
});
