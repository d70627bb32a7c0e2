import http from "node:http";
import https from "node:https";
import axios, { type AxiosInstance, type CreateAxiosDefaults } from "axios";

/**
 * An axios instance as both catalogs want it: keep-alive connections, every status handed back (the status is
 * data: SciCat's 403 for an expired token, ICAT's error codes), bodies as raw text for the caller to parse,
 * no redirects followed. `close` releases the sockets.
 */
export function createCatalogClient(options: CreateAxiosDefaults & { timeout: number; maxSockets?: number }): { client: AxiosInstance; close(): void } {
  const { maxSockets, ...rest } = options;
  const httpAgent = new http.Agent({ keepAlive: true, ...(maxSockets ? { maxSockets } : {}) });
  const httpsAgent = new https.Agent({ keepAlive: true, ...(maxSockets ? { maxSockets } : {}) });
  const client = axios.create({
    httpAgent,
    httpsAgent,
    maxRedirects: 0,
    responseType: "text",
    transformResponse: [(data: unknown) => data],
    validateStatus: () => true,
    headers: { accept: "application/json" },
    ...rest,
  });
  return {
    client,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
