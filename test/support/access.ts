import type { Doc } from "../fakes/scicat/store.js";
import type { ScicatFake, ScicatFakeUser } from "../fakes/scicat/index.js";
import { TEST_PASSWORD } from "./scicat-setup.js";

/** Helpers for access tests: non-admin users of the fake SciCat, and what each of them can read over HTTP. */

export const USER_PASSWORD = "reader-pass";

/** The ingestor (admin) plus one non-admin user per entry, each in the groups given. */
export function usersWith(groups: Record<string, string[]>): Record<string, ScicatFakeUser> {
  const users: Record<string, ScicatFakeUser> = { ingestor: { password: TEST_PASSWORD, groups: ["ingestor"], admin: true } };
  for (const [name, list] of Object.entries(groups)) users[name] = { password: USER_PASSWORD, groups: list };
  return users;
}

async function login(fake: ScicatFake, username: string): Promise<string> {
  const response = await fetch(`${fake.url}/v3/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password: USER_PASSWORD }) });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`login of ${username} failed: HTTP ${response.status}`);
  return body.access_token;
}

export interface Visible {
  proposals: Doc[];
  samples: Doc[];
  datasets: Doc[];
  origdatablocks: Doc[];
  /** HTTP status of a GET of one record by id. */
  status(path: string): Promise<number>;
}

/** Everything a user can list, through the fake's own access rules. */
export async function visibleTo(fake: ScicatFake, username: string): Promise<Visible> {
  const token = await login(fake, username);
  const headers = { authorization: `Bearer ${token}` };
  const get = async (path: string) => {
    const response = await fetch(`${fake.url}${path}`, { headers });
    return (await response.json()) as Doc[];
  };
  const many = encodeURIComponent(JSON.stringify({ limits: { limit: 10_000 } }));
  return {
    proposals: await get(`/v3/proposals?filters=${many}`),
    samples: await get(`/v3/samples?filter=${many}`),
    datasets: await get(`/v4/datasets?filter=${many}`),
    origdatablocks: await get(`/v4/origdatablocks?filter=${many}`),
    status: async (path) => (await fetch(`${fake.url}${path}`, { headers })).status,
  };
}
