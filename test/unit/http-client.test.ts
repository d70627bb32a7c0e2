import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createCatalogClient, proxyFor } from "../../src/destinations/http-client.js";
import { LeaseFence, LeaseLostError, withLeaseFence } from "../../src/sync/lease-fence.js";

/** The proxy is read from the environment once per client; these tests set and restore it. */
const saved = { HTTP_PROXY: process.env.HTTP_PROXY, http_proxy: process.env.http_proxy, NO_PROXY: process.env.NO_PROXY, no_proxy: process.env.no_proxy };
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

function clearProxyEnv(): void {
  for (const k of Object.keys(saved)) delete process.env[k];
}

async function listen(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe("catalog HTTP client proxy", () => {
  it("names no proxy when the environment names none", () => {
    clearProxyEnv();
    expect(proxyFor("http://scicat.example:3000/api")).toBe(false);
  });

  it("takes HTTP_PROXY with its credentials, and honours NO_PROXY", () => {
    clearProxyEnv();
    process.env.HTTP_PROXY = "http://user:p%40ss@proxy.example:3128";
    expect(proxyFor("http://scicat.example:3000/api")).toEqual({
      protocol: "http",
      host: "proxy.example",
      port: 3128,
      auth: { username: "user", password: "p@ss" },
    });
    process.env.NO_PROXY = "scicat.example";
    expect(proxyFor("http://scicat.example:3000/api")).toBe(false);
  });

  it("sends requests through the proxy the environment named when the client was made", async () => {
    clearProxyEnv();
    const seen: string[] = [];
    const proxy = await listen((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"via":"proxy"}');
    });
    try {
      process.env.HTTP_PROXY = proxy.url;
      const { client, close } = createCatalogClient("http://catalog.invalid:3000/api", { timeout: 5000 });
      // Changing the environment afterwards does not move a client that exists.
      delete process.env.HTTP_PROXY;
      const response = await client.get("http://catalog.invalid:3000/api/v3/health");
      close();
      expect(response.data).toBe('{"via":"proxy"}');
      expect(seen).toEqual(["GET http://catalog.invalid:3000/api/v3/health"]);
    } finally {
      await proxy.close();
    }
  });

  it("does not send a write through the proxy for a push whose lease has run out (reads go on)", async () => {
    clearProxyEnv();
    const seen: string[] = [];
    const proxy = await listen((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.end("{}");
    });
    try {
      process.env.HTTP_PROXY = proxy.url;
      const { client, close } = createCatalogClient("http://catalog.invalid:3000/api", { timeout: 5000 });
      const expired = new LeaseFence("scicat/proposal/P1", Date.now() - 1);
      const outcome = await withLeaseFence(expired, async () => {
        await client.get("http://catalog.invalid:3000/api/v3/proposals");
        return client.post("http://catalog.invalid:3000/api/v3/proposals", {}).then(
          () => "sent",
          (error: unknown) => error,
        );
      });
      close();
      expect(outcome).toBeInstanceOf(LeaseLostError);
      expect(seen).toEqual(["GET http://catalog.invalid:3000/api/v3/proposals"]);
    } finally {
      await proxy.close();
    }
  });
});

describe("catalog HTTP client defaults", () => {
  it("sends the headers a plain axios instance with the same configuration sends", async () => {
    clearProxyEnv();
    const seen: http.IncomingHttpHeaders[] = [];
    const server = await listen((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on("end", () => res.end("{}"));
    });
    const axios = (await import("axios")).default;
    const { client, close } = createCatalogClient(server.url, { baseURL: server.url, timeout: 5000 });
    // What createCatalogClient configures, without the flattened defaults: the reference for what goes out.
    const plain = axios.create({ responseType: "text", transformResponse: [(d: unknown) => d], validateStatus: () => true, headers: { accept: "application/json" }, baseURL: server.url, timeout: 5000 });
    try {
      for (const c of [client, plain]) {
        await c.get("/a", { headers: { authorization: "Bearer t" } });
        await c.post("/b", JSON.stringify({ x: 1 }), { headers: { "content-type": "application/json" } });
        await c.post("/c", new URLSearchParams({ json: "{}" }));
        await c.put("/d");
      }
      const pick = (h: http.IncomingHttpHeaders) => ({ accept: h.accept, "content-type": h["content-type"], authorization: h.authorization });
      const [ours, theirs] = [seen.slice(0, 4).map(pick), seen.slice(4).map(pick)];
      expect(ours).toEqual(theirs);
      expect(ours[0]).toEqual({ accept: "application/json", "content-type": undefined, authorization: "Bearer t" });
      expect(ours[2]!["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
      expect(Object.keys(client.defaults.headers).sort()).toEqual(["accept"]);
    } finally {
      close();
      await server.close();
    }
  });
});
