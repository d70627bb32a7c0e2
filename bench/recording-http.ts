import http from "node:http";
import type { ScicatHttp, ScicatRequest } from "../src/destinations/scicat/index.js";

/** Wraps beamsync's SciCat transport: counts requests and keeps them, so the floor can send the very same ones. */
export function recordingHttp(inner: ScicatHttp): ScicatHttp & { requests: ScicatRequest[]; count(): number; reset(): void } {
  const requests: ScicatRequest[] = [];
  return {
    requests,
    count: () => requests.length,
    reset: () => void requests.splice(0),
    send(request) {
      requests.push(request);
      return inner.send(request);
    },
    close: () => inner.close(),
  };
}

/**
 * The floor: a bare keep-alive client sending the recorded requests, in order, `concurrency` at a time, with a
 * fresh token. No mapping, no state, no retries: what the same HTTP work costs on its own.
 */
export async function replay(apiUrl: string, requests: ScicatRequest[], concurrency: number, credentials: { username: string; password: string }): Promise<{ elapsedMs: number; cpuMs: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const base = new URL(apiUrl.replace(/\/+$/, ""));
  const origin = `${base.protocol}//${base.host}`;
  const send = (method: string, path: string, body?: string, token?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const headers: Record<string, string> = { accept: "application/json" };
      if (body !== undefined) headers["content-type"] = "application/json";
      if (token) headers.authorization = `Bearer ${token}`;
      const req = http.request(`${origin}${path}`, { method, agent, headers }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const login = await send("POST", `${base.pathname}/v3/auth/login`, JSON.stringify(credentials));
  const token = (JSON.parse(login.text) as { access_token: string }).access_token;
  const work = requests.filter((r) => !r.path.includes("/auth/login"));
  let next = 0;
  const lane = async () => {
    while (next < work.length) {
      const r = work[next++]!;
      const query = r.query ? `?${new URLSearchParams(r.query).toString()}` : "";
      const path = r.fromOrigin ? r.path : `${base.pathname}${r.path}`;
      await send(r.method, `${path}${query}`, r.body === undefined ? undefined : JSON.stringify(r.body), token);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  agent.destroy();
  return { elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}
