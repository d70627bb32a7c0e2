import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { startScicatFake, type ScicatFake } from "./index.js";

/** The fault injections that stand for what sits in front of a real catalog (proxies, maintenance pages). */
describe("fake SciCat fault injection", () => {
  let fake: ScicatFake | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it("answers a maintenance page or an empty body verbatim, with the status asked for, and stores nothing", async () => {
    fake = await startScicatFake();
    const login = await fetch(`${fake.url}/v3/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "ingestor", password: "ingestor-secret" }) });
    const token = ((await login.json()) as { access_token: string }).access_token;
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    fake.failNext(1, 200, { match: { method: "POST", path: /\/instruments$/i }, text: "<html>down for maintenance</html>", contentType: "text/html" });
    fake.failNext(1, 200, { match: { method: "GET", path: /\/instruments$/i }, text: "" });

    const page = await fetch(`${fake.url}/v3/instruments`, { method: "POST", headers: auth, body: JSON.stringify({ uniqueName: "bl-1", name: "bl-1" }) });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html");
    expect(await page.text()).toContain("maintenance");
    expect(fake.instruments()).toHaveLength(0);

    const empty = await fetch(`${fake.url}/v3/instruments`, { headers: auth });
    expect(empty.status).toBe(200);
    expect(empty.headers.get("content-type")).toBeNull();
    expect(await empty.text()).toBe("");
  });

  it("trickles an answer a byte at a time until the client gives up", async () => {
    fake = await startScicatFake();
    fake.trickleNext(1, { path: /health$/ }, { intervalMs: 10 });
    const received = await new Promise<{ status: number; bytes: number }>((resolve, reject) => {
      const req = http.get(`${fake!.url}/v3/health`, (res) => {
        let bytes = 0;
        res.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes >= 3) {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, bytes });
          }
        });
      });
      req.on("error", (error) => (req.destroyed ? undefined : reject(error)));
    });
    expect(received.status).toBe(200);
    expect(received.bytes).toBeGreaterThanOrEqual(3);
    // The next request is served normally.
    expect((await fetch(`${fake.url}/v3/health`)).status).toBe(200);
  });
});
