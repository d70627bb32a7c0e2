import fs from "node:fs";
import http from "node:http";
import { createScicatHttp, type ScicatHttp, type ScicatRequest } from "../src/destinations/scicat/index.js";
import type { TransportName } from "../src/destinations/transport.js";

/** One request as the fake SciCat received it (`--record`): the floor sends exactly these again. */
export interface RecordedRequest {
  method: string;
  /** Path and query as sent, e.g. `/api/v4/datasets` or `/explorer-json`. */
  url: string;
  body: string;
}

export function readRecording(file: string): RecordedRequest[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as RecordedRequest);
}

/** Counts the requests beamsync's SciCat transport sends (the no-change rescan must send none). */
export function countingHttp(inner: ScicatHttp): ScicatHttp & { count(): number; reset(): void } {
  let count = 0;
  return {
    count: () => count,
    reset: () => void (count = 0),
    send(request) {
      count++;
      return inner.send(request);
    },
    close: () => inner.close(),
  };
}

/**
 * The floor: a bare keep-alive client sending the recorded requests, in order, `concurrency` at a time, with a
 * fresh token. No mapping, no state, no retries: what the same HTTP work costs on its own.
 * With `client` a transport's name, the same requests go through beamsync's own SciCat client (axios over that
 * transport) instead, which splits beamsync's overhead into what the HTTP client costs and what the rest does.
 */
export async function replay(
  apiUrl: string,
  recorded: RecordedRequest[],
  concurrency: number,
  credentials: { username: string; password: string },
  client: "bare" | TransportName = "bare",
): Promise<{ elapsedMs: number; cpuMs: number }> {
  // noDelay and a content-length body sent with end(): a request leaves in one write. (Until issue 18 the floor
  // sent a chunked body, whose last chunk waited on Nagle's algorithm and the server's delayed ACK: about 40 ms a
  // request against a slow catalog, a floor any client could beat.)
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, noDelay: true });
  const base = new URL(apiUrl.replace(/\/+$/, ""));
  const origin = `${base.protocol}//${base.host}`;
  const send = (method: string, path: string, body?: string, token?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const headers: Record<string, string> = { accept: "application/json" };
      if (body !== undefined) {
        headers["content-type"] = "application/json";
        headers["content-length"] = String(Buffer.byteLength(body));
      }
      if (token) headers.authorization = `Bearer ${token}`;
      const req = http.request(`${origin}${path}`, { method, agent, headers }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      req.end(body);
    });
  const transport = client === "bare" ? undefined : createScicatHttp(apiUrl, 30_000, client);
  const work = recorded
    .filter((r) => !r.url.includes("/auth/login"))
    .map((r) => {
      const underApi = r.url.startsWith(`${base.pathname}/`);
      return {
        ...r,
        body: r.body === "" ? undefined : r.body,
        // What beamsync's transport takes: a path below the API root and a body it serializes itself.
        request: {
          method: r.method as ScicatRequest["method"],
          path: underApi ? r.url.slice(base.pathname.length) : r.url,
          fromOrigin: !underApi,
          body: r.body === "" ? undefined : (JSON.parse(r.body) as unknown),
        },
      };
    });
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const login = await send("POST", `${base.pathname}/v3/auth/login`, JSON.stringify(credentials));
  const token = (JSON.parse(login.text) as { access_token: string }).access_token;
  let next = 0;
  const lane = async () => {
    while (next < work.length) {
      const r = work[next++]!;
      if (transport) await transport.send({ ...r.request, headers: { authorization: `Bearer ${token}` } });
      else await send(r.method, r.url, r.body, token);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  agent.destroy();
  transport?.close();
  return { elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}
