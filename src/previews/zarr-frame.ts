import fs from "node:fs/promises";
import path from "node:path";
import zlib from "node:zlib";

/**
 * The first frame of a detector image series stored as a Zarr array (resonance-data.md §6): zarr-python 3 writes
 * format 3 (`zarr.json`, chunks at `c/<frame>/0/0`, zstd); format 2 (`.zarray`, often blosc) is read too. The
 * array's own metadata says how its chunks are encoded — never the `image_refs.compression_codec` label, which
 * says "blosc" whatever the array holds. Decompression is numcodecs' (libzstd and c-blosc compiled to
 * WebAssembly: no system library), loaded on first use so a daemon without previews never pays for it.
 */

export type FrameProblem = "unsupported" | "corrupt" | "unreadable";

/** Why a frame could not be read; the preview is left out with this message, the dataset is never held back. */
export class FrameReadError extends Error {
  constructor(
    message: string,
    readonly problem: FrameProblem,
  ) {
    super(message);
    this.name = "FrameReadError";
  }
}

export interface Frame {
  rows: number;
  columns: number;
  /** Row-major; NaN where the array holds no finite value. */
  values: Float64Array;
}

/** Larger frames are refused rather than decoded into memory (64 Mpixel, 512 MB as doubles). */
const MAX_PIXELS = 64 * 1024 * 1024;

interface NumericType {
  kind: "int" | "uint" | "float";
  bytes: 1 | 2 | 4 | 8;
}

type BytesCodec = { name: "zstd" | "blosc" | "gzip" | "zlib" | "crc32c" };

interface ArrayMeta {
  shape: number[];
  chunkShape: number[];
  type: NumericType;
  littleEndian: boolean;
  fillValue: number;
  /** Bytes → bytes codecs in the order they were applied when writing. */
  compressors: BytesCodec[];
  chunkKey: (coords: number[]) => string;
}

export async function readFirstFrame(arrayPath: string): Promise<Frame> {
  const meta = await readArrayMeta(arrayPath);
  const ndim = meta.shape.length;
  if (ndim !== 2 && ndim !== 3) throw new FrameReadError(`${arrayPath}: an image series has 2 or 3 dimensions, this array has ${ndim}`, "unsupported");
  const [rows, columns] = meta.shape.slice(-2) as [number, number];
  if (ndim === 3 && meta.shape[0] === 0) throw new FrameReadError(`${arrayPath}: the array holds no frame`, "unreadable");
  if (rows * columns > MAX_PIXELS) throw new FrameReadError(`${arrayPath}: a frame of ${rows} × ${columns} is too large to preview`, "unsupported");
  const [chunkRows, chunkColumns] = meta.chunkShape.slice(-2) as [number, number];
  const values = new Float64Array(rows * columns);
  // Frame 0 spans the chunks (0, i, j) of a 3-d array, (i, j) of a 2-d one; inside a chunk it is the first plane.
  for (let i = 0; i * chunkRows < rows; i++) {
    for (let j = 0; j * chunkColumns < columns; j++) {
      const coords = ndim === 3 ? [0, i, j] : [i, j];
      const chunk = await readChunk(arrayPath, meta, coords);
      for (let r = 0; r < chunkRows && i * chunkRows + r < rows; r++) {
        for (let c = 0; c < chunkColumns && j * chunkColumns + c < columns; c++) {
          values[(i * chunkRows + r) * columns + j * chunkColumns + c] = chunk ? (chunk[r * chunkColumns + c] ?? Number.NaN) : meta.fillValue;
        }
      }
    }
  }
  return { rows, columns, values };
}

async function readArrayMeta(arrayPath: string): Promise<ArrayMeta> {
  const v3 = await readJson(path.join(arrayPath, "zarr.json"));
  if (v3 !== undefined) return parseV3(arrayPath, v3);
  const v2 = await readJson(path.join(arrayPath, ".zarray"));
  if (v2 !== undefined) return parseV2(arrayPath, v2);
  throw new FrameReadError(`${arrayPath}: no zarr.json or .zarray (not a Zarr array)`, "unreadable");
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new FrameReadError(`${file}: ${(err as Error).message}`, "unreadable");
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new FrameReadError(`${file}: not a JSON object`, "corrupt");
}

const asDims = (value: unknown): number[] | undefined =>
  Array.isArray(value) && value.every((n) => Number.isSafeInteger(n) && (n as number) >= 0) ? (value as number[]) : undefined;

function parseV3(arrayPath: string, doc: Record<string, unknown>): ArrayMeta {
  const fail = (why: string): never => {
    throw new FrameReadError(`${arrayPath}/zarr.json: ${why}`, "unsupported");
  };
  if (doc.zarr_format !== 3 || doc.node_type !== "array") fail("not a Zarr format 3 array");
  const shape = asDims(doc.shape) ?? fail("no shape");
  const grid = doc.chunk_grid as { name?: unknown; configuration?: { chunk_shape?: unknown } } | undefined;
  if (grid?.name !== "regular") fail(`chunk grid ${JSON.stringify(grid?.name)} (only "regular" is read)`);
  const chunkShape = asDims(grid?.configuration?.chunk_shape) ?? fail("no chunk shape");
  if (chunkShape.length !== shape.length || chunkShape.some((n) => n === 0)) fail("chunk shape does not fit the shape");
  const type = V3_TYPES[String(doc.data_type)] ?? fail(`data type ${JSON.stringify(doc.data_type)} (numeric types only)`);
  const encoding = doc.chunk_key_encoding as { name?: unknown; configuration?: { separator?: unknown } } | undefined;
  const name = encoding?.name ?? "default";
  const separator = encoding?.configuration?.separator ?? (name === "v2" ? "." : "/");
  if ((name !== "default" && name !== "v2") || (separator !== "/" && separator !== ".")) fail(`chunk key encoding ${JSON.stringify(encoding)}`);
  const chunkKey = (coords: number[]) => (name === "default" ? ["c", ...coords] : coords).join(separator as string);

  let littleEndian = true;
  let sawBytes = false;
  const compressors: BytesCodec[] = [];
  const codecs = Array.isArray(doc.codecs) ? (doc.codecs as { name?: unknown; configuration?: { endian?: unknown } }[]) : fail("no codecs");
  for (const codec of codecs) {
    const codecName = String(codec?.name);
    if (codecName === "bytes") {
      sawBytes = true;
      littleEndian = codec.configuration?.endian !== "big";
    } else if (!sawBytes) fail(`codec "${codecName}" before "bytes" (array-to-array codecs such as transpose are not read)`);
    else if (codecName === "zstd" || codecName === "blosc" || codecName === "gzip" || codecName === "crc32c") compressors.push({ name: codecName });
    else fail(`codec "${codecName}" (zstd, blosc, gzip and crc32c are read; sharding is not)`);
  }
  if (!sawBytes) fail('no "bytes" codec');
  return { shape, chunkShape, type, littleEndian, fillValue: fillValueOf(doc.fill_value), compressors, chunkKey };
}

function parseV2(arrayPath: string, doc: Record<string, unknown>): ArrayMeta {
  const fail = (why: string): never => {
    throw new FrameReadError(`${arrayPath}/.zarray: ${why}`, "unsupported");
  };
  if (doc.zarr_format !== 2) fail("not a Zarr format 2 array");
  const shape = asDims(doc.shape) ?? fail("no shape");
  const chunkShape = asDims(doc.chunks) ?? fail("no chunks");
  if (chunkShape.length !== shape.length || chunkShape.some((n) => n === 0)) fail("chunks do not fit the shape");
  if (doc.order !== undefined && doc.order !== "C") fail(`order ${JSON.stringify(doc.order)} (only C order is read)`);
  if (doc.filters !== undefined && doc.filters !== null) fail("filters are not read");
  const dtype = typeof doc.dtype === "string" ? /^([<>|])([iuf])(\d)$/.exec(doc.dtype) : null;
  const bytes = Number(dtype?.[3]);
  if (!dtype || ![1, 2, 4, 8].includes(bytes) || (dtype[2] === "f" && bytes < 4)) fail(`dtype ${JSON.stringify(doc.dtype)} (numeric types only)`);
  const kind = ({ i: "int", u: "uint", f: "float" } as const)[dtype![2] as "i" | "u" | "f"];
  const compressor = doc.compressor as { id?: unknown } | null | undefined;
  const compressors: BytesCodec[] = [];
  if (compressor) {
    const id = String(compressor.id);
    if (id === "zstd" || id === "blosc" || id === "gzip" || id === "zlib") compressors.push({ name: id });
    else fail(`compressor "${id}" (zstd, blosc, gzip and zlib are read)`);
  }
  const separator = doc.dimension_separator === "/" ? "/" : ".";
  return {
    shape,
    chunkShape,
    type: { kind, bytes: bytes as NumericType["bytes"] },
    littleEndian: dtype![1] !== ">",
    fillValue: fillValueOf(doc.fill_value),
    compressors,
    chunkKey: (coords) => coords.join(separator),
  };
}

const V3_TYPES: Record<string, NumericType> = {
  int8: { kind: "int", bytes: 1 },
  uint8: { kind: "uint", bytes: 1 },
  int16: { kind: "int", bytes: 2 },
  uint16: { kind: "uint", bytes: 2 },
  int32: { kind: "int", bytes: 4 },
  uint32: { kind: "uint", bytes: 4 },
  int64: { kind: "int", bytes: 8 },
  uint64: { kind: "uint", bytes: 8 },
  float32: { kind: "float", bytes: 4 },
  float64: { kind: "float", bytes: 8 },
};

function fillValueOf(value: unknown): number {
  if (typeof value === "number") return value;
  if (value === "NaN" || value === null || value === undefined) return Number.NaN;
  if (value === "Infinity") return Number.POSITIVE_INFINITY;
  if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
  return Number.NaN;
}

/** One chunk's values (row-major, the chunk's full shape), or undefined when no chunk file exists (all fill value). */
async function readChunk(arrayPath: string, meta: ArrayMeta, coords: number[]): Promise<Float64Array | undefined> {
  const key = meta.chunkKey(coords);
  const file = path.join(arrayPath, ...key.split("/"));
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    // zarr-python writes no chunk for a frame equal to the fill value (write_empty_chunks = false).
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new FrameReadError(`${file}: ${(err as Error).message}`, "unreadable");
  }
  for (const codec of [...meta.compressors].reverse()) bytes = await decompress(codec, bytes, file);
  const count = meta.chunkShape.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== count * meta.type.bytes) {
    throw new FrameReadError(`${file}: chunk ${key} holds ${bytes.byteLength} bytes once decoded, not the ${count * meta.type.bytes} its shape needs`, "corrupt");
  }
  // Only the first plane of a chunk that spans several frames.
  const plane = meta.chunkShape.slice(-2).reduce((a, b) => a * b, 1);
  return toNumbers(bytes, meta, plane);
}

type Decoder = { decode(data: Uint8Array): Uint8Array | Promise<Uint8Array> };
let codecs: Promise<{ zstd: Decoder; blosc: Decoder }> | undefined;

function loadCodecs(): Promise<{ zstd: Decoder; blosc: Decoder }> {
  codecs ??= Promise.all([import("numcodecs/zstd"), import("numcodecs/blosc")]).then(([zstd, blosc]) => ({
    zstd: zstd.default.fromConfig({ id: "zstd", level: 0 }),
    blosc: blosc.default.fromConfig({ id: "blosc" }),
  }));
  return codecs;
}

async function decompress(codec: BytesCodec, bytes: Uint8Array, file: string): Promise<Uint8Array> {
  try {
    switch (codec.name) {
      case "crc32c":
        // A 4-byte checksum after the data; the length check after decoding catches what it would.
        return bytes.subarray(0, Math.max(0, bytes.byteLength - 4));
      case "gzip":
        return zlib.gunzipSync(bytes);
      case "zlib":
        return zlib.inflateSync(bytes);
      case "zstd":
      case "blosc": {
        const decoder = (await loadCodecs())[codec.name];
        return await decoder.decode(bytes);
      }
    }
  } catch (err) {
    throw new FrameReadError(`${file}: the ${codec.name} chunk could not be decoded: ${err instanceof Error ? err.message : String(err)}`, "corrupt");
  }
}

function toNumbers(bytes: Uint8Array, meta: ArrayMeta, count: number): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { kind, bytes: size } = meta.type;
  const le = meta.littleEndian;
  const out = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    const at = k * size;
    let v: number;
    if (kind === "float") v = size === 4 ? view.getFloat32(at, le) : view.getFloat64(at, le);
    else if (size === 1) v = kind === "int" ? view.getInt8(at) : view.getUint8(at);
    else if (size === 2) v = kind === "int" ? view.getInt16(at, le) : view.getUint16(at, le);
    else if (size === 4) v = kind === "int" ? view.getInt32(at, le) : view.getUint32(at, le);
    else v = Number(kind === "int" ? view.getBigInt64(at, le) : view.getBigUint64(at, le));
    out[k] = v;
  }
  return out;
}
