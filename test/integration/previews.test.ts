import fs from "node:fs";
import path from "node:path";
import { Database } from "../../src/sqlite.js";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { worldPerTest } from "../support/scicat-setup.js";

/**
 * Issue 17 item 4: each run's preview as a SciCat Attachment, after its dataset and files, updated with the run;
 * for a run with an image series, its first frame, read from zstd-compressed Zarr chunks.
 */

const worlds = worldPerTest();

function decode(thumbnail: unknown): PNG {
  const text = String(thumbnail);
  expect(text.startsWith("data:image/png;base64,")).toBe(true);
  return PNG.sync.read(Buffer.from(text.slice("data:image/png;base64,".length), "base64"));
}

/** Gray levels (r = g = b) other than white and black: the picture of a frame, not a blank or a line plot. */
function grayLevels(png: PNG): Set<number> {
  const levels = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
    if (r === g && g === b && r > 0 && r < 255) levels.add(r);
  }
  return levels;
}

/** Pixels that are not white: the axes, labels and the line. */
function inked(png: PNG): number {
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) if (png.data[i]! < 200 || png.data[i + 1]! < 200 || png.data[i + 2]! < 200) n++;
  return n;
}

describe("previews", () => {
  it("attaches a PNG plot to every dataset with events, and updates it when the run changes", async () => {
    const w = await worlds.open(
      { beamtimes: [{ label: "2026-11-03", researcher: "jdoe", samples: [{ name: "HOPG" }], runs: [{ events: 12 }, { events: 8 }, { state: "aborted", events: 5 }] }] },
      { config: { previews: { enabled: true, width: 320, height: 200 } } },
    );
    const first = await runCli(["sync", "--config", w.configFile]);
    expect(first.code, first.stderr).toBe(0);
    const runs = w.written.beamtimes[0]!.runs;
    const attachments = w.scicat.attachments();
    expect(attachments).toHaveLength(runs.length);
    for (const run of runs) {
      const attachment = attachments.find((a) => JSON.stringify(a.relationships).includes(`test/${run.uid}`));
      expect(attachment, run.uid).toBeDefined();
      expect(attachment!.caption).toBe("Preview: photodiode (V) against sample_x_position (mm)");
      const png = decode(attachment!.thumbnail);
      expect([png.width, png.height]).toEqual([320, 200]);
      expect(inked(png)).toBeGreaterThan(500);
    }
    // After the dataset and its files: every attachment was posted after its dataset's block.
    const order = w.scicat.requests.filter((r) => r.method === "POST").map((r) => r.path);
    expect(order.lastIndexOf("/api/v4/origdatablocks")).toBeLessThan(order.indexOf("/api/v4/attachments"));

    // A correction of one run's events (the DB changes): its preview is drawn again and patched, the others stay.
    const changed = runs[1]!;
    const before = decode(attachments.find((a) => JSON.stringify(a.relationships).includes(changed.uid))!.thumbnail);
    const db = new Database(w.written.beamtimes[0]!.absDbPath);
    db.prepare("UPDATE events SET data = json_set(data, '$.photodiode', seq_num * seq_num) WHERE stream_uid IN (SELECT uid FROM streams WHERE run_uid = ?)").run(changed.uid);
    db.close();
    w.scicat.resetRequests();
    const second = await runCli(["sync", "--config", w.configFile]);
    expect(second.code, second.stderr).toBe(0);
    const patches = w.scicat.requests.filter((r) => r.method === "PATCH" && /attachments/.test(r.path));
    expect(patches).toHaveLength(1);
    expect(w.scicat.attachments()).toHaveLength(runs.length);
    const after = decode(w.scicat.attachments().find((a) => JSON.stringify(a.relationships).includes(changed.uid))!.thumbnail);
    expect(Buffer.compare(after.data, before.data)).not.toBe(0);
  });

  it("a preview that cannot be drawn fails alone: its dataset and files are in the catalog", async () => {
    const w = await worlds.open({ beamtimes: [{ label: "2026-11-04", researcher: "jdoe", runs: [{ events: 6 }] }] }, { config: { previews: { enabled: true } } });
    w.scicat.failNext(50, 400, { match: { method: "POST", path: /attachments/ } });
    const result = await runCli(["sync", "--config", w.configFile]);
    expect(result.code).toBe(1);
    expect(w.scicat.datasets()).toHaveLength(1);
    expect(w.scicat.attachments()).toHaveLength(0);
    const failed = w.uploadLog().filter((r) => r.success === 0);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((r) => /preview/.test(r.error_message ?? ""))).toBe(true);
  });
});

describe("previews of image series", () => {
  it("shows the first frame of a run's detector images as a grayscale picture of the preview's size", async () => {
    const w = await worlds.open(
      { beamtimes: [{ label: "2026-11-05", researcher: "jdoe", samples: [{ name: "P3HT" }], runs: [{ frames: 3, frameShape: [48, 64], events: 3 }, { events: 6 }] }] },
      { config: { previews: { enabled: true, width: 320, height: 200 } } },
    );
    const result = await runCli(["sync", "--config", w.configFile]);
    expect(result.code, result.stderr).toBe(0);
    const [imaged, scalars] = w.written.beamtimes[0]!.runs;
    const attachmentOf = (uid: string) => w.scicat.attachments().find((a) => JSON.stringify(a.relationships).includes(`test/${uid}`));
    const frame = attachmentOf(imaged!.uid);
    expect(frame?.caption).toBe("Preview: first frame of detector_image (48 × 64 uint16, 3 frames)");
    const png = decode(frame!.thumbnail);
    expect([png.width, png.height]).toEqual([320, 200]);
    // The fixture's frame is a ramp: drawn, it is many grays, not one colour.
    expect(grayLevels(png).size).toBeGreaterThan(20);
    // A run of scalars alone keeps its plot.
    expect(attachmentOf(scalars!.uid)?.caption).toBe("Preview: photodiode (V) against sample_x_position (mm)");
  });

  it("a corrupt chunk is reported and leaves the run without a preview; its dataset and files land", async () => {
    const w = await worlds.open(
      { beamtimes: [{ label: "2026-11-06", researcher: "jdoe", runs: [{ frames: 2, frameShape: [16, 16], events: 2 }] }] },
      { config: { previews: { enabled: true } } },
    );
    const run = w.written.beamtimes[0]!.runs[0]!;
    const chunk = run.chunkFiles.find((f) => f.split(path.sep).slice(-4).join("/") === "c/0/0/0")!;
    // A zstd frame header followed by bytes that are not a zstd block: what a torn write or a bad disk leaves.
    fs.writeFileSync(chunk, Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x60, 0x00, 0x02]), Buffer.alloc(64, 0xa5)]));
    const result = await runCli(["sync", "--config", w.configFile]);
    expect(result.code).toBe(1);
    expect(w.scicat.datasets()).toHaveLength(1);
    expect(w.scicat.origdatablocks().length).toBeGreaterThan(0);
    expect(w.scicat.attachments()).toHaveLength(0);
    const failed = w.uploadLog().filter((r) => r.success === 0);
    expect(failed.length).toBeGreaterThan(0);
    for (const row of failed) {
      expect(row.error_message).toMatch(/no preview for dataset .*: the first frame of detector_image could not be read \(corrupt\): .*c\/0\/0\/0: the zstd chunk could not be decoded/);
    }
    expect(result.stdout + result.stderr).toMatch(/zstd chunk could not be decoded/);
  });
});
