import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import axios, { isAxiosError, isCancel } from "axios";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTransport, TRANSPORTS } from "../../src/destinations/transport.js";

/** A small server: echoes what it got, answers gzip, trickles, or redirects, by path. */
let server: http.Server;
let base: string;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      if (req.url === "/gzip") {
        res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
        res.end(zlib.gzipSync('{"packed":true}'));
      } else if (req.url === "/trickle") {
        res.writeHead(200, { "content-type": "application/json" });
        const timer = setInterval(() => res.write(" "), 20);
        res.on("close", () => clearInterval(timer));
      } else if (req.url === "/moved") {
        res.writeHead(302, { location: "/elsewhere" });
        res.end();
      } else {
        res.writeHead(req.url?.startsWith("/missing") ? 404 : 200, { "content-type": "application/json", "x-seen": "yes" });
        res.end(JSON.stringify({ method: req.method, url: req.url, body, type: req.headers["content-type"] ?? null, auth: req.headers.authorization ?? null }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe.each(TRANSPORTS)("the %s transport under axios", (name) => {
  const client = (extra: Parameters<typeof axios.create>[0] = {}) => {
    const transport = createTransport(name, { keepAliveMsecs: 60_000 });
    const instance = axios.create({ adapter: transport.adapter, baseURL: `${base}/api`, responseType: "text", transformResponse: [(d: unknown) => d], ...extra });
    return { instance, close: transport.close };
  };

  it("sends the method, URL below baseURL, query, headers and serialized body; hands back status, headers and text", async () => {
    const { instance, close } = client();
    const response = await instance.post("/v3/things", JSON.stringify({ a: 1 }), {
      params: new URLSearchParams({ filter: '{"where":{}}' }),
      headers: { authorization: "Bearer t", "content-type": "application/json" },
    });
    close();
    expect(response.status).toBe(200);
    expect(response.headers["x-seen"]).toBe("yes");
    expect(JSON.parse(response.data as string)).toEqual({
      method: "POST",
      url: `/api/v3/things?${new URLSearchParams({ filter: '{"where":{}}' }).toString()}`,
      body: '{"a":1}',
      type: "application/json",
      auth: "Bearer t",
    });
  });

  it("takes an absolute URL as it is, form bodies from axios's own serializer, and gzip answers", async () => {
    const { instance, close } = client();
    const form = await instance.post(`${base}/form`, new URLSearchParams({ json: "{}" }));
    const packed = await instance.get(`${base}/gzip`);
    close();
    expect(JSON.parse(form.data as string)).toMatchObject({ url: "/form", body: "json=%7B%7D", type: "application/x-www-form-urlencoded;charset=utf-8" });
    expect(packed.data).toBe('{"packed":true}');
  });

  it("applies validateStatus and follows no redirect", async () => {
    const { instance, close } = client();
    const failed = await instance.get(`${base}/missing`).catch((err: unknown) => err);
    const moved = await instance.get(`${base}/moved`, { validateStatus: () => true });
    close();
    expect(isAxiosError(failed) && failed.response?.status).toBe(404);
    expect(moved.status).toBe(302);
    expect(moved.headers.location).toBe("/elsewhere");
  });

  it("treats timeout as a deadline for the whole exchange, even for an answer that trickles", async () => {
    const { instance, close } = client({ timeout: 150 });
    const err = await instance.get(`${base}/trickle`).catch((e: unknown) => e);
    close();
    expect(isAxiosError(err) && err.code).toBe("ECONNABORTED");
  });

  it("ends an exchange when its signal aborts (CanceledError), and names a refused connection", async () => {
    const { instance, close } = client();
    const controller = new AbortController();
    const pending = instance.get(`${base}/trickle`, { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 50);
    expect(isCancel(await pending)).toBe(true);
    const refused = await instance.get("http://127.0.0.1:9/").catch((e: unknown) => e);
    close();
    expect(isAxiosError(refused) && refused.code).toBe("ECONNREFUSED");
    // The error carries no request object: it would hold the Authorization header.
    expect(isAxiosError(refused) && refused.request).toBeUndefined();
  });
});
