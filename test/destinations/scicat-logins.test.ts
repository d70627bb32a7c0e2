import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import type { Destination } from "../../src/destinations/contract.js";
import { createScicatDestination } from "../../src/destinations/scicat/index.js";
import { mapToScicat } from "../../src/mapping/scicat/index.js";
import { createMemoryLogger, silentLogger } from "../../src/ops/logger.js";
import { UnavailableError } from "../../src/sync/errors.js";
import { startScicatFake, type ScicatFake } from "../fakes/scicat/index.js";
import { tempDir } from "../support/cli.js";
import { smallSnapshot } from "../support/snapshot.js";

/** Issue 16.7: the logins facilities use — LDAP accounts, static tokens from a file that is rotated, expiry. */

const PASSWORD = "directory-password";
let fake: ScicatFake | undefined;
let destination: Destination | undefined;
let dir: string | undefined;

afterEach(async () => {
  await destination?.close();
  await fake?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  fake = destination = dir = undefined;
});

function scicatConfig(url: string, scicat: Record<string, unknown>) {
  return configSchema.parse({ dataRoot: "/data", destinations: { scicat: { url, username: "ingestor", pidPrefix: "t/", ...scicat } }, mapping: { instrument: "bl-1" } });
}

async function loginToken(f: ScicatFake, username = "ingestor", password = PASSWORD): Promise<string> {
  const response = await fetch(`${f.url}/v3/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });
  return ((await response.json()) as { access_token: string }).access_token;
}

const ctx = { dependencyRemoteId: () => undefined };

describe("SciCat logins", () => {
  it("auth: ldap logs in through /auth/ldap, which a local login cannot stand in for", async () => {
    fake = await startScicatFake({ users: { ingestor: { password: PASSWORD, groups: ["ingestor"], admin: true, ldap: true } } });
    const config = scicatConfig(fake.url, { auth: "ldap", password: PASSWORD });
    destination = createScicatDestination(config.destinations.scicat, { logger: silentLogger });
    const proposal = mapToScicat(smallSnapshot(), config).find((r) => r.kind === "proposal")!;
    expect((await destination.push({ kind: proposal.kind, key: proposal.key, payload: proposal.payload, hash: proposal.hash }, ctx)).operation).toBe("create");
    expect(fake.requests.filter((r) => /\/auth\/ldap$/.test(r.path)).map((r) => r.status)).toEqual([201]);

    const local = createScicatDestination(scicatConfig(fake.url, { password: PASSWORD }).destinations.scicat, { logger: silentLogger });
    const refused = await local.authenticate().catch((e: unknown) => e);
    await local.close();
    expect(refused).toBeInstanceOf(UnavailableError);
  });

  it("a token file rotated while beamsync runs is read again: the next push after the old token expired goes through", async () => {
    fake = await startScicatFake({ users: { ingestor: { password: PASSWORD, groups: ["ingestor"], admin: true } } });
    dir = tempDir("token");
    const tokenFile = path.join(dir, "scicat-token");
    fs.writeFileSync(tokenFile, `${await loginToken(fake)}\n`);
    const config = scicatConfig(fake.url, { token: fs.readFileSync(tokenFile, "utf8").trim(), tokenFile });
    destination = createScicatDestination(config.destinations.scicat, { logger: silentLogger });
    const [proposal, sample] = mapToScicat(smallSnapshot(), config).filter((r) => r.kind === "proposal" || r.kind === "sample");
    await destination.push({ kind: proposal!.kind, key: proposal!.key, payload: proposal!.payload, hash: proposal!.hash }, ctx);

    fake.expireTokens();
    const fresh = await loginToken(fake);
    fs.writeFileSync(`${tokenFile}.new`, fresh);
    fs.renameSync(`${tokenFile}.new`, tokenFile);
    expect((await destination.push({ kind: sample!.kind, key: sample!.key, payload: sample!.payload, hash: sample!.hash }, ctx)).operation).toBe("create");
    expect(fake.samples()).toHaveLength(1);
  });

  it("a static token warns a week before it expires and, once expired, stops pushes with what to do (the record waits)", async () => {
    fake = await startScicatFake({ users: { ingestor: { password: PASSWORD, groups: ["ingestor"], admin: true } } });
    const token = await loginToken(fake);
    const config = scicatConfig(fake.url, { token });
    const logger = createMemoryLogger();
    let clock = Date.now();
    destination = createScicatDestination(config.destinations.scicat, { logger, now: () => clock });
    const proposal = mapToScicat(smallSnapshot(), config).find((r) => r.kind === "proposal")!;
    const push = () => destination!.push({ kind: proposal.kind, key: proposal.key, payload: proposal.payload, hash: proposal.hash }, ctx);
    await push();
    expect(logger.lines.filter((l) => /expires soon/.test(l.message))).toHaveLength(1);
    clock += 2 * 3600_000;
    fake.resetRequests();
    const error = await push().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toMatch(/SciCat token expired at .*mint a new one/);
    expect((error as Error).message).not.toContain(token);
    expect(fake.requests).toEqual([]);
  });
});
