#!/usr/bin/env node
/**
 * The fake SciCat as a process of its own (benchmarks, manual runs):
 *   node dist/test/fakes/scicat/main.js [--port N] [--user name:password] [--ttl S] [--v3-only] [--record FILE] [--latency MS]
 * Prints `{"url": "http://127.0.0.1:N/api"}` and serves until SIGTERM/SIGINT. With --record, every request
 * (method, URL, raw body) is appended to FILE as a JSON line. With --latency, every request waits MS milliseconds before it is served.
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { startScicatFake, type ScicatFakeUser } from "./server.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    user: { type: "string", multiple: true },
    ttl: { type: "string" },
    "v3-only": { type: "boolean", default: false },
    record: { type: "string" },
    latency: { type: "string" },
  },
});
const recording = values.record ? fs.createWriteStream(values.record) : undefined;
const users: Record<string, ScicatFakeUser> = {};
for (const spec of values.user ?? []) {
  const [name, ...password] = spec.split(":");
  if (name) users[name] = { password: password.join(":"), groups: [name], admin: true };
}
const fake = await startScicatFake({
  port: Number(values.port),
  ...(Object.keys(users).length ? { users } : {}),
  ...(values.ttl ? { tokenTtlSeconds: Number(values.ttl) } : {}),
  v4: !values["v3-only"],
  ...(values.latency ? { latencyMs: Number(values.latency) } : {}),
  ...(recording ? { onRequest: (request: { method: string; url: string; body: string }) => void recording.write(`${JSON.stringify(request)}\n`) } : {}),
});
process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);
const stop = () =>
  void fake
    .close()
    .then(() => new Promise<void>((resolve) => (recording ? recording.end(resolve) : resolve())))
    .then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
