import { pathToFileURL } from "node:url";
import { loadConfig, type LoadOptions } from "../config/loader.js";

/**
 * The container's HEALTHCHECK: GET /healthz on the host and port the configuration names (file < environment,
 * as `beamsync run` reads them), so moving http.port needs no second edit in the image. Exit 0 healthy, 1 not.
 */
export async function checkHealth(options: LoadOptions = {}, timeoutMs = 4000): Promise<{ ok: boolean; message: string }> {
  let http;
  try {
    http = loadConfig(options).config.http;
  } catch (err) {
    return { ok: false, message: `configuration: ${(err as Error).message}` };
  }
  if (!http.enabled) return { ok: true, message: "http.enabled is false: no health endpoint to ask" };
  // A wildcard listen address is reached through loopback.
  const host = http.host === "0.0.0.0" || http.host === "" ? "127.0.0.1" : http.host === "::" ? "::1" : http.host;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${http.port}/healthz`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return { ok: response.ok, message: `${url}: HTTP ${response.status}` };
  } catch (err) {
    return { ok: false, message: `${url}: ${(err as Error).message}` };
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await checkHealth();
  console.log(result.message);
  process.exitCode = result.ok ? 0 : 1;
}
