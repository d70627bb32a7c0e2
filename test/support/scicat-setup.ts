import fs from "node:fs";
import path from "node:path";
import { Database } from "../../src/sqlite.js";
import { afterEach } from "vitest";
import { configSchema, type Config } from "../../src/config/schema.js";
import { startScicatFake, type ScicatFake, type ScicatFakeOptions } from "../fakes/scicat/index.js";
import { createDataRoot, type BeamtimeSpec, type DataRootSpec, type WrittenDataRoot } from "../fixtures/resonance/index.js";
import { tempDir, writeConfig } from "./cli.js";

/** A DATA root, a fake SciCat and a config file that points beamsync at both: the setting of most end-to-end tests. */
export interface ScicatWorld {
  dir: string;
  dataRoot: string;
  stateDir: string;
  configFile: string;
  config: Config;
  written: WrittenDataRoot;
  scicat: ScicatFake;
  password: string;
  /** Rows of upload_log, read straight from the state file. */
  uploadLog(): { session_identifier: string; destination_name: string; success: number; error_message: string | null; metadata_json: string }[];
  close(): Promise<void>;
}

export const TEST_PASSWORD = "s3cret-ingest-pass";

export async function scicatWorld(
  spec: DataRootSpec,
  options: { fake?: ScicatFakeOptions; config?: Record<string, unknown>; scicat?: Record<string, unknown> } = {},
): Promise<ScicatWorld> {
  const dir = tempDir("world");
  const dataRoot = path.join(dir, "DATA");
  const stateDir = path.join(dir, "state");
  fs.mkdirSync(dataRoot);
  const written = createDataRoot(dataRoot, spec);
  const scicat = await startScicatFake({ users: { ingestor: { password: TEST_PASSWORD, groups: ["ingestor"], admin: true } }, ...options.fake });
  const document: Record<string, unknown> = {
    dataRoot,
    stateDir,
    sources: { bluesky: { enabled: false } },
    destinations: { scicat: { url: scicat.url, username: "ingestor", password: TEST_PASSWORD, pidPrefix: "test/", ...options.scicat } },
    mapping: { ownerGroup: "group-a", accessGroups: ["staff"], instrument: "bl-1" },
    sync: { backoffBaseMs: 20, backoffMaxMs: 200, concurrency: 4, shutdownTimeoutMs: 3000 },
    http: { enabled: false },
    log: { level: "warn" },
    ...options.config,
  };
  const configFile = writeConfig(dir, document);
  const config = configSchema.parse(document);
  return {
    dir,
    dataRoot,
    stateDir,
    configFile,
    config,
    written,
    scicat,
    password: TEST_PASSWORD,
    uploadLog() {
      const db = new Database(path.join(stateDir, "beamsync.sqlite"), { readonly: true });
      try {
        return db.prepare("SELECT * FROM upload_log ORDER BY id").all() as ReturnType<ScicatWorld["uploadLog"]>;
      } finally {
        db.close();
      }
    },
    async close() {
      await scicat.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One world per test, closed after it (call at the top of a test file):
 * `const worlds = worldPerTest();` then, in a test, `const w = await worlds.open(spec, options);`.
 */
export function worldPerTest(): { open: typeof scicatWorld } {
  let world: ScicatWorld | undefined;
  afterEach(async () => {
    await world?.close();
    world = undefined;
  });
  return { open: async (...args) => (world = await scicatWorld(...args)) };
}

/** A beamtime with one sample and two closed runs (one with a frame file). */
export function closedBeamtime(label: string, extra: Partial<BeamtimeSpec> = {}): BeamtimeSpec {
  return { label, researcher: "Marie Curie", samples: [{ name: `s-${label}` }], runs: [{ state: "closed", frames: 1 }, { state: "closed" }], ...extra };
}
