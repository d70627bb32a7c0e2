import http from "node:http";
import { parseBody, type ScicatHttp, type ScicatRequest, type ScicatResponse } from "../src/destinations/scicat/index.js";

/**
 * A what-if for the benchmark only (`--transport node-http`): beamsync's SciCat transport contract served by a
 * bare keep-alive `node:http` client instead of axios, to show how much of the gap to the floor the HTTP client
 * accounts for. beamsync itself ships the axios transport; this one has no proxy support, no redirects policy,
 * and only the error handling the benchmark needs.
 */
export function bareScicatHttp(apiUrl: string, timeoutMs: number): ScicatHttp {
  const apiRoot = apiUrl.replace(/\/+$/, "");
  const origin = new URL(apiRoot).origin;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  return {
    send(request: ScicatRequest) {
      const query = request.query ? `?${new URLSearchParams(request.query).toString()}` : "";
      const url = `${request.fromOrigin ? origin : apiRoot}${request.path}${query}`;
      const body = request.body === undefined ? undefined : JSON.stringify(request.body);
      const headers: Record<string, string> = { accept: "application/json", ...request.headers };
      if (body !== undefined) headers["content-type"] ??= "application/json";
      return new Promise<ScicatResponse>((resolve, reject) => {
        const req = http.request(url, { method: request.method, agent, headers, timeout: timeoutMs }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => {
            const flat: Record<string, string | undefined> = {};
            for (const [k, v] of Object.entries(res.headers)) flat[k] = Array.isArray(v) ? v.join(", ") : v;
            resolve({ status: res.statusCode ?? 0, ...parseBody(text), headers: flat, url, method: request.method });
          });
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}
