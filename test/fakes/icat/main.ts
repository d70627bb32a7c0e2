/**
 * Standalone fake ICAT: `node dist/test/fakes/icat/main.js [--port N] [--version V] [--database mysql|oracle] [--fixtures] [--lifetime-seconds S]`.
 * Prints one JSON line `{"url":...}` when listening; stops on SIGTERM/SIGINT.
 */
import { startFakeIcat, type FakeIcatOptions } from "./server.js";

function parseArgs(argv: string[]): FakeIcatOptions {
  const options: FakeIcatOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--port") options.port = Number(value());
    else if (arg === "--host") options.host = value();
    else if (arg === "--version") options.version = value();
    else if (arg === "--fixtures") options.fixtures = true;
    else if (arg === "--database") {
      const flavour = value();
      if (flavour !== "mysql" && flavour !== "oracle") throw new Error("--database takes mysql or oracle");
      options.database = flavour;
    }
    else if (arg === "--lifetime-seconds") options.lifetimeSeconds = Number(value());
    else throw new Error(`unknown argument ${arg}`);
  }
  return options;
}

async function main(): Promise<void> {
  const fake = await startFakeIcat(parseArgs(process.argv.slice(2)));
  process.stdout.write(`${JSON.stringify({ url: fake.url, version: fake.version, fixtures: fake.fixtures ?? null })}\n`);
  const stop = () => {
    fake.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`fake-icat: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
