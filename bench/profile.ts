import fs from "node:fs";
import { Session } from "node:inspector/promises";
import path from "node:path";

/**
 * A CPU profile of one stretch of the benchmark (not of data generation or clean-up), written where
 * `--profile DIR` says; open it in Chrome DevTools or any `.cpuprofile` viewer.
 */
export async function startProfile(dir: string | undefined, name: string): Promise<() => Promise<void>> {
  if (dir === undefined) return async () => {};
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    session.disconnect();
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${name}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    process.stderr.write(`wrote ${file}\n`);
  };
}
