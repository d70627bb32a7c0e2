import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";

/** Helpers for tests that drive the real executable (bin/beamsync.js → dist/) as a subprocess. */

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
export const BIN = path.join(REPO_ROOT, "bin", "beamsync.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for subprocesses: no inherited BEAMSYNC_* variables leaking in from the developer's shell. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("BEAMSYNC_")) env[k] = v;
  return { ...env, ...extra };
}

export function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; prefix?: string[] } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // `prefix`: a command that runs the CLI (e.g. setpriv with fewer privileges).
    const [command, ...rest] = [...(options.prefix ?? []), process.execPath, BIN, ...args];
    const child = spawn(command!, rest, { cwd: options.cwd ?? REPO_ROOT, env: cleanEnv(options.env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Start a long-running CLI process (the daemon); lines of stdout are collected as they arrive. */
export function spawnCli(args: string[], options: { env?: Record<string, string> } = {}): { child: ChildProcess; lines: string[]; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: cleanEnv(options.env), stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let buffer = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    buffer += d.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    lines.push(...parts.filter(Boolean));
  });
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, lines, stderr: () => stderr, exited };
}

/**
 * `beamsync sync` started in the background and seen pushing (its first request reached the catalog, which should
 * be slow enough to keep it busy while the caller looks); `ended()` says whether it has exited since.
 */
export async function startPushingSync(configFile: string, catalog: { requests: readonly unknown[] }): Promise<ReturnType<typeof spawnCli> & { ended(): boolean }> {
  const sync = spawnCli(["sync", "--json", "--config", configFile]);
  let ended = false;
  void sync.exited.then(() => (ended = true));
  await waitFor(() => catalog.requests.length > 0 || ended, { what: "the sync's first request", timeoutMs: 30_000, intervalMs: 50 });
  if (ended) throw new Error(`the sync ended before the catalog saw a request: ${sync.stderr()}`);
  return { ...sync, ended: () => ended };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `beamsync-${prefix}-`));
}

/** Write a beamsync.yaml into `dir` and return its path. */
export function writeConfig(dir: string, document: Record<string, unknown>): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "beamsync.yaml");
  fs.writeFileSync(file, YAML.stringify(document));
  return file;
}

export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? "condition"}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}
