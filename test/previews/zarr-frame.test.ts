import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Blosc from "numcodecs/blosc";
import { afterEach, describe, expect, it } from "vitest";
import { frameCells } from "../../src/previews/frame-cells.js";
import { FrameReadError, readFirstFrame } from "../../src/previews/zarr-frame.js";
import { arrayJson, frameBytes, zstdChunk, ZarrStore } from "../fixtures/resonance/zarr.js";

/** Reading the first frame of a Zarr image series as resonance (zarr-python 3) writes it, and refusing what cannot be read. */

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "beamsync-zarr-"));
  dirs.push(dir);
  return dir;
}

/** The fixture's ramp for a frame, as numbers. */
function expected(shape: [number, number], dtype: string, seed: string): number[] {
  const bytes = frameBytes({ shape, dtype }, seed);
  return [...new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2)];
}

async function problemOf(arrayPath: string): Promise<FrameReadError> {
  const err: unknown = await readFirstFrame(arrayPath).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FrameReadError);
  return err as FrameReadError;
}

describe("readFirstFrame", () => {
  it("decodes the zstd chunk of frame 0 of a Zarr 3 array written one chunk per frame", async () => {
    const store = new ZarrStore(tempDir());
    store.open();
    for (let i = 0; i < 3; i++) store.appendFrame("run1", "detector_image", { shape: [6, 5], dtype: "uint16" });
    const frame = await readFirstFrame(path.join(store.root, "runs", "run1", "detector_image"));
    expect([frame.rows, frame.columns]).toEqual([6, 5]);
    expect([...frame.values]).toEqual(expected([6, 5], "uint16", "run1/detector_image/0"));
  });

  it("an all-zero first frame (no chunk file, write_empty_chunks = false) is the fill value", async () => {
    const store = new ZarrStore(tempDir());
    store.open();
    store.appendFrame("run1", "image", { shape: [2, 3], dtype: "uint16", zero: true });
    store.appendFrame("run1", "image", { shape: [2, 3], dtype: "uint16" });
    const frame = await readFirstFrame(path.join(store.root, "runs", "run1", "image"));
    expect([...frame.values]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(frameCells(frame).range[0]).toBeLessThan(frameCells(frame).range[1]);
  });

  it("reads blosc chunks, in Zarr 3 and in Zarr 2, big-endian too, and a frame split over several chunks", async () => {
    const dir = tempDir();
    const blosc = Blosc.fromConfig({ id: "blosc", cname: "zstd", clevel: 5, shuffle: 1 });
    const values = Array.from({ length: 4 * 6 }, (_, i) => i * 10);
    // Zarr 3, frames chunked as (1, 2, 3): frame 0 is four chunks.
    const v3 = path.join(dir, "v3");
    const meta = JSON.parse(arrayJson(2, { shape: [4, 6], dtype: "uint16" })) as Record<string, unknown>;
    meta.chunk_grid = { name: "regular", configuration: { chunk_shape: [1, 2, 3] } };
    meta.codecs = [{ name: "bytes", configuration: { endian: "big" } }, { name: "blosc", configuration: { cname: "zstd", clevel: 5, shuffle: "shuffle", typesize: 2, blocksize: 0 } }];
    fs.mkdirSync(v3, { recursive: true });
    fs.writeFileSync(path.join(v3, "zarr.json"), JSON.stringify(meta));
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) {
        const chunk = Buffer.alloc(2 * 3 * 2);
        for (let r = 0; r < 2; r++) for (let c = 0; c < 3; c++) chunk.writeUInt16BE(values[(i * 2 + r) * 6 + j * 3 + c]!, (r * 3 + c) * 2);
        const file = path.join(v3, "c", "0", String(i), String(j));
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, await blosc.encode(new Uint8Array(chunk)));
      }
    }
    expect([...(await readFirstFrame(v3)).values]).toEqual(values);

    // Zarr 2 (`.zarray`, dotted chunk keys), little-endian int32 with blosc.
    const v2 = path.join(dir, "v2");
    fs.mkdirSync(v2);
    fs.writeFileSync(path.join(v2, ".zarray"), JSON.stringify({ zarr_format: 2, shape: [1, 4, 6], chunks: [1, 4, 6], dtype: "<i4", compressor: { id: "blosc", cname: "lz4", clevel: 5, shuffle: 1 }, fill_value: 0, order: "C", filters: null }));
    fs.writeFileSync(path.join(v2, "0.0.0"), await blosc.encode(new Uint8Array(new Int32Array(values.map((v) => -v)).buffer)));
    expect([...(await readFirstFrame(v2)).values]).toEqual(values.map((v) => -v || 0));
  });

  it("a chunk that is not the codec's says so: corrupt, naming the file", async () => {
    const store = new ZarrStore(tempDir());
    store.open();
    const { chunkFile } = store.appendFrame("run1", "image", { shape: [4, 4], dtype: "uint16" });
    fs.writeFileSync(chunkFile!, Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x60, 0x00, 0x02]), Buffer.alloc(32, 0xa5)]));
    const err = await problemOf(path.join(store.root, "runs", "run1", "image"));
    expect(err.problem).toBe("corrupt");
    expect(err.message).toContain(path.join("c", "0", "0", "0"));
    expect(err.message).toMatch(/zstd chunk could not be decoded/);

    // Valid zstd of the wrong length: the frame is not what the array says it is.
    fs.writeFileSync(chunkFile!, zstdChunk(new Uint8Array(10)));
    const short = await problemOf(path.join(store.root, "runs", "run1", "image"));
    expect(short.problem).toBe("corrupt");
    expect(short.message).toMatch(/holds 10 bytes once decoded, not the 32 its shape needs/);
  });

  it("codecs and layouts it does not read are unsupported, not guessed", async () => {
    const dir = tempDir();
    const write = (name: string, change: (meta: Record<string, unknown>) => void) => {
      const meta = JSON.parse(arrayJson(1, { shape: [2, 2], dtype: "uint16" })) as Record<string, unknown>;
      change(meta);
      fs.mkdirSync(path.join(dir, name));
      fs.writeFileSync(path.join(dir, name, "zarr.json"), JSON.stringify(meta));
      return path.join(dir, name);
    };
    const sharded = write("sharded", (m) => (m.codecs = [{ name: "sharding_indexed", configuration: {} }]));
    expect((await problemOf(sharded)).message).toMatch(/codec "sharding_indexed" before "bytes"/);
    const lz4 = write("lz4", (m) => (m.codecs = [{ name: "bytes", configuration: { endian: "little" } }, { name: "lz4" }]));
    expect((await problemOf(lz4)).problem).toBe("unsupported");
    const strings = write("strings", (m) => (m.data_type = "string"));
    expect((await problemOf(strings)).message).toMatch(/data type "string"/);
    expect((await problemOf(path.join(dir, "nothing"))).problem).toBe("unreadable");
  });
});
