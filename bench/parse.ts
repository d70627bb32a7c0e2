import fs from "node:fs";
import path from "node:path";
import { configSchema } from "../src/config/schema.js";
import { silentLogger } from "../src/ops/logger.js";
import { readFile } from "../src/sources/bluesky/index.js";
import { runDocuments } from "../test/fixtures/bluesky/writer.js";
import { benchDir } from "./data.js";
import { round } from "./memory.js";

/** Parse throughput of the bluesky source: read, validate and assemble a JSONL document file of `megabytes`. */
export interface ParseResult {
  encoding: string;
  megabytes: number;
  documents: number;
  seconds: number;
  mbPerSecond: number;
  documentsPerSecond: number;
}

export async function blueskyParse(megabytes: number): Promise<ParseResult> {
  const dir = benchDir("parse");
  try {
    const file = path.join(dir, "big.jsonl");
    const docs = runDocuments({ events: 2000 });
    const [start, descriptor] = docs;
    const events = docs.filter(([name]) => name === "event").map((d) => `${JSON.stringify(d)}\n`);
    const stop = docs[docs.length - 1]!;
    const out = fs.openSync(file, "w");
    let written = 0;
    let count = 0;
    const write = (line: string) => {
      fs.writeSync(out, line);
      written += Buffer.byteLength(line);
      count++;
    };
    write(`${JSON.stringify(start)}\n`);
    write(`${JSON.stringify(descriptor)}\n`);
    const target = megabytes * 1024 * 1024;
    let seq = 0;
    while (written < target) {
      const line = events[seq % events.length]!;
      seq++;
      write(line.replace(/"seq_num":\d+/, `"seq_num":${seq}`));
    }
    write(`${JSON.stringify(stop)}\n`);
    fs.closeSync(out);

    const options = { dataRoot: dir, config: configSchema.parse({ dataRoot: dir }).sources.bluesky, logger: silentLogger };
    const started = performance.now();
    const result = await readFile(file, options, false);
    const seconds = (performance.now() - started) / 1000;
    if (result.runs.length !== 1 || result.summary.documents !== count) throw new Error(`parse bench read ${result.summary.documents} of ${count} documents`);
    const mb = written / 1024 / 1024;
    return { encoding: "jsonl [name, doc] pairs", megabytes: round(mb, 1), documents: count, seconds: round(seconds, 2), mbPerSecond: round(mb / seconds, 1), documentsPerSecond: Math.round(count / seconds) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
