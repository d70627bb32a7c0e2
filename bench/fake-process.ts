import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import readline from "node:readline";

/**
 * The fake SciCat in a process of its own, so that its CPU time is not charged to beamsync (both would
 * otherwise share one event loop). Also a small admin client to ask it what it holds.
 */
export interface FakeProcess {
  url: string;
  stop(): Promise<void>;
}

const MAIN = path.resolve(import.meta.dirname, "../test/fakes/scicat/main.js");

/**
 * `recordTo`: the fake appends every request it serves to this file (see replay.ts); complete once stopped.
 * `latencyMs`: every request waits this long before it is served (a slow catalog).
 */
export async function startFakeProcess(user: string, password: string, options: { recordTo?: string; latencyMs?: number } = {}): Promise<FakeProcess> {
  const args = [
    MAIN,
    ...["--port", "0", "--user", `${user}:${password}`],
    ...(options.recordTo ? ["--record", options.recordTo] : []),
    ...(options.latencyMs ? ["--latency", String(options.latencyMs)] : []),
  ];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const lines = readline.createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("fake SciCat did not start")), 20_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) => reject(new Error(`fake SciCat exited with ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** Logs in once and asks whether a dataset exists (for the commit-to-catalog measurement). */
export async function catalogProbe(url: string, user: string, password: string): Promise<{ hasDataset(pid: string): Promise<boolean> }> {
  const login = await fetch(`${url}/v3/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: user, password }) });
  const { access_token: token } = (await login.json()) as { access_token: string };
  return {
    async hasDataset(pid) {
      const response = await fetch(`${url}/v4/datasets/${encodeURIComponent(pid)}`, { headers: { authorization: `Bearer ${token}` } });
      await response.arrayBuffer();
      return response.status === 200;
    },
  };
}
