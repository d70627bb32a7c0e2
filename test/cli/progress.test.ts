import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, cleanEnv, runCli } from "../support/cli.js";
import { scicatWorld, type ScicatWorld } from "../support/scicat-setup.js";

/** Issue 6: a progress bar on a terminal, none when the output is not a terminal or with --json. */

const hasScript = spawnSync("script", ["--version"]).status === 0;
let world: ScicatWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe("sync progress", () => {
  it.skipIf(!hasScript)("draws a bar on a terminal (util-linux `script` gives the process a pty)", async () => {
    world = await scicatWorld({ beamtimes: [{ label: "2026-11-01", researcher: "Ada", runs: 20 }] });
    const command = `${process.execPath} ${BIN} sync --config ${world.configFile}`;
    // Asynchronously: the fake catalog answers from this very process.
    const { stdout: output } = await promisify(execFile)("script", ["-qec", command, "/dev/null"], { env: cleanEnv({ TERM: "xterm" }), encoding: "utf8", timeout: 60_000 });
    expect(output).toMatch(/pushing \[/);
    expect(output).toMatch(/\d+\/\d+ records/);
  });

  it("draws none when the output is not a terminal, or with --json", async () => {
    world = await scicatWorld({ beamtimes: [{ label: "2026-11-02", researcher: "Ada", runs: 5 }] });
    const plain = await runCli(["sync", "--config", world.configFile]);
    expect(plain.stderr + plain.stdout).not.toMatch(/pushing \[/);
    const json = await runCli(["sync", "--json", "--config", world.configFile]);
    expect(() => JSON.parse(json.stdout) as unknown).not.toThrow();
  });
});
