import { Database } from "../../src/sqlite.js";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { worldPerTest } from "../support/scicat-setup.js";

/** Issue 17 item 4: each run's preview as a SciCat Attachment, after its dataset and files, updated with the run. */

const worlds = worldPerTest();

function decode(thumbnail: unknown): PNG {
  const text = String(thumbnail);
  expect(text.startsWith("data:image/png;base64,")).toBe(true);
  return PNG.sync.read(Buffer.from(text.slice("data:image/png;base64,".length), "base64"));
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
      { beamtimes: [{ label: "2026-11-03", researcher: "jdoe", samples: [{ name: "HOPG" }], runs: [{ frames: 1, events: 12 }, { events: 8 }, { state: "aborted", events: 5 }] }] },
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
