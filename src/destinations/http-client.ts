import http from "node:http";
import https from "node:https";
import axios, { type AxiosInstance, type AxiosProxyConfig, type CreateAxiosDefaults } from "axios";
import { getProxyForUrl } from "proxy-from-env";
import { checkLeaseFence, isWrite } from "../sync/lease-fence.js";
import { createTransport, type TransportName } from "./transport.js";

/** What axios's http adapter passes to socket.setKeepAlive for each request. */
const AXIOS_TCP_KEEPALIVE_MS = 60_000;

/**
 * An axios instance as both catalogs want it: keep-alive connections, every status handed back (the status is
 * data: SciCat's 403 for an expired token, ICAT's error codes), bodies as raw text for the caller to parse,
 * no redirects followed. `close` releases the sockets.
 *
 * The proxy (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) is chosen once, for the catalog's URL, when the client is
 * made: axios would otherwise read the environment again for every request, a tenth of its cost per push.
 *
 * Bytes move through `transport` (see transport.ts; undici unless the configuration says otherwise). Through a
 * proxy, axios's own http adapter moves them, as it always has: it knows proxies, ours do not.
 */
export function createCatalogClient(
  catalogUrl: string,
  options: CreateAxiosDefaults & { timeout: number; maxSockets?: number; transport?: TransportName },
): { client: AxiosInstance; close(): void } {
  const { maxSockets, transport: transportName = "undici", ...rest } = options;
  const proxy = proxyFor(catalogUrl);
  if (!proxy) {
    const transport = createTransport(transportName, { maxSockets, keepAliveMsecs: AXIOS_TCP_KEEPALIVE_MS });
    // Our transports check a push's lease themselves, as each write leaves for the wire (transport.ts).
    const client = slimmed(axios.create({ ...sharedDefaults, adapter: transport.adapter, ...rest }));
    return { client, close: transport.close };
  }
  // axios sets TCP keep-alive to 60 s on every request's socket and the agent resets it to its own
  // keepAliveMsecs when the socket is freed: with the two equal, Node skips both system calls.
  const agentOptions = { keepAlive: true, keepAliveMsecs: AXIOS_TCP_KEEPALIVE_MS, ...(maxSockets ? { maxSockets } : {}) };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const client = slimmed(axios.create({ ...sharedDefaults, httpAgent, httpsAgent, proxy, maxRedirects: 0, ...rest }));
  // axios's adapter reads `timeout` as an idle timer, which an answer trickling in never trips; our transports read
  // it as a deadline for the whole exchange. One meaning for every transport: a caller's own signal still wins.
  client.interceptors.request.use((config) => {
    if (config.timeout && !config.signal) config.signal = AbortSignal.timeout(config.timeout);
    return config;
  });
  fenceWrites(client);
  return {
    client,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/**
 * Behind a proxy axios's own adapter moves the bytes, so the lease check goes in front of it: a write made for a
 * record whose lease this worker no longer holds is not sent (see sync/lease-fence.ts; our transports check it
 * later still, where the request leaves for the wire).
 */
function fenceWrites(client: AxiosInstance): void {
  client.interceptors.request.use(
    (config) => {
      checkLeaseFence(`${(config.method ?? "get").toUpperCase()} ${config.url ?? ""}`);
      return config;
    },
    undefined,
    { synchronous: true, runWhen: (config) => isWrite(config.method) },
  );
}

/** What both catalogs want of every exchange, whichever transport carries it. */
const sharedDefaults: CreateAxiosDefaults = {
  responseType: "text",
  transformResponse: [(data: unknown) => data],
  validateStatus: () => true,
  headers: { accept: "application/json" },
};

/**
 * axios merges an instance's defaults into every request. Two of them cost about 7 µs of CPU per request and do
 * nothing for the catalogs: the per-method header buckets (common, get, post...; merged, flattened and deleted
 * again each time) and `transitional` (validated each time; every reader falls back to axios's own defaults).
 * The headers become one flat set; what is sent is unchanged.
 */
function slimmed(client: AxiosInstance): AxiosInstance {
  const defaults = client.defaults as { headers: unknown; transitional?: unknown };
  // The instance's own headers are the top-level strings; the buckets hold axios's, which ours override (Accept).
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(defaults.headers as Record<string, unknown>)) if (typeof value === "string") flat[name] = value;
  defaults.headers = flat;
  delete defaults.transitional;
  return client;
}

/** The proxy the environment names for this URL (NO_PROXY honoured), or false for a direct connection. */
export function proxyFor(url: string): AxiosProxyConfig | false {
  const proxy = getProxyForUrl(url);
  if (!proxy) return false;
  const parsed = new URL(proxy);
  const protocol = parsed.protocol.replace(/:$/, "");
  return {
    protocol,
    host: parsed.hostname,
    port: Number(parsed.port || (protocol === "https" ? 443 : 80)),
    ...(parsed.username ? { auth: { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) } } : {}),
  };
}
