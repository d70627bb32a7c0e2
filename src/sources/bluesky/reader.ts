import fs from "node:fs";
import { createGunzip } from "node:zlib";
import { decodeMultiStream } from "@msgpack/msgpack";
import { parsePythonJson } from "../python-json.js";
import { OPEN_READ_NONBLOCK } from "../access.js";

/**
 * Streams the documents out of one bluesky file, whatever its encoding (bluesky-documents.md §4.1): JSONL of
 * `[name, doc]` or `{"name","doc"}`, one JSON array of either, msgpack pairs, and gzip of any of them. Memory
 * stays bounded by the longest document, not the file. A partial last line, an unterminated array or a
 * truncated msgpack/gzip tail means "still being written": what is complete is returned, `complete` is false.
 */

export type Encoding = "jsonl" | "json-array" | "msgpack" | "empty";

export type ReadItem =
  | { type: "document"; name: string; doc: Record<string, unknown>; location: string }
  | { type: "problem"; location: string; reason: string };

export interface ReadSummary {
  encoding: Encoding;
  gzip: boolean;
  /** False when the file ends in the middle of a document (being written, or cut short). */
  complete: boolean;
  documents: number;
  bytes: number;
}

export interface ReadOptions {
  /** Longest line or array element accepted; longer ones are reported and skipped. */
  maxDocumentBytes?: number;
}

const DEFAULT_MAX = 16 * 1024 * 1024;

/** Read the file; `onItem` gets each document or problem in order. */
export async function readDocumentFile(file: string, onItem: (item: ReadItem) => void, options: ReadOptions = {}): Promise<ReadSummary> {
  const max = options.maxDocumentBytes ?? DEFAULT_MAX;
  const head = await firstBytes(file, 2);
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  const summary: ReadSummary = { encoding: "empty", gzip, complete: true, documents: 0, bytes: 0 };
  const raw = (await fs.promises.open(file, OPEN_READ_NONBLOCK)).createReadStream({ highWaterMark: 256 * 1024 });
  try {
    const stream: NodeJS.ReadableStream = gzip ? raw.pipe(createGunzip()) : raw;
    let gzipError: Error | undefined;
    if (gzip) {
      // A gzip cut short is a file still being written (or truncated); either way: keep what inflated.
      stream.on("error", (e: Error) => {
        gzipError = e;
      });
      raw.on("error", (e) => stream.emit("error", e));
    }
    const emit = (item: ReadItem) => {
      if (item.type === "document") summary.documents++;
      onItem(item);
    };

    const iterator = chunks(stream, () => gzipError);
    const first = await iterator.next();
    if (first.done) {
      if (gzipError) markTruncated(summary, gzipError, emit);
      return summary;
    }
    const firstChunk = first.value;
    const kind = sniff(firstChunk);
    summary.encoding = kind;
    const rest = prepend(firstChunk, iterator);
    try {
      if (kind === "msgpack") await readMsgpack(rest, emit, summary);
      else if (kind === "json-array") await readJsonArray(rest, emit, summary, max);
      else if (kind === "jsonl") await readJsonLines(rest, emit, summary, max);
    } catch (error) {
      if (gzipError) markTruncated(summary, gzipError, emit);
      else emit({ type: "problem", location: `byte ${summary.bytes}`, reason: `cannot read further: ${(error as Error).message}` });
      return summary;
    }
    if (gzipError) markTruncated(summary, gzipError, emit);
    return summary;
  } finally {
    // Closes the file also when reading stopped early (a problem, a truncated gzip).
    raw.destroy();
  }
}

function markTruncated(summary: ReadSummary, error: Error, emit: (item: ReadItem) => void): void {
  summary.complete = false;
  emit({ type: "problem", location: `byte ${summary.bytes} (decompressed)`, reason: `gzip stream ends early (${error.message}); complete documents before it were read` });
}

async function firstBytes(file: string, n: number): Promise<Buffer> {
  const handle = await fs.promises.open(file, OPEN_READ_NONBLOCK);
  try {
    const buffer = Buffer.alloc(n);
    const { bytesRead } = await handle.read(buffer, 0, n, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function* chunks(stream: NodeJS.ReadableStream, failed: () => Error | undefined): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
  } catch (error) {
    if (!failed()) throw error;
  }
}

async function* prepend(first: Buffer, rest: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  yield first;
  yield* rest;
}

/** By content, not by name: `[` + `"` is a JSONL pair line, `[` otherwise an array, `{` JSONL objects, a msgpack array header msgpack. */
export function sniff(chunk: Buffer): Encoding {
  let i = 0;
  // A UTF-8 byte order mark is not content.
  if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
  while (i < chunk.length && (chunk[i] === 0x20 || chunk[i] === 0x0a || chunk[i] === 0x0d || chunk[i] === 0x09)) i++;
  const c = chunk[i];
  if (c === undefined) return "empty";
  if (c === 0x7b) return "jsonl";
  if (c === 0x5b) {
    let j = i + 1;
    while (j < chunk.length && (chunk[j] === 0x20 || chunk[j] === 0x09)) j++;
    return chunk[j] === 0x22 ? "jsonl" : "json-array";
  }
  // msgpack pairs start with an array header (fixarray, array16, array32); anything else is text, read by line.
  if ((c >= 0x90 && c <= 0x9f) || c === 0xdc || c === 0xdd) return "msgpack";
  return "jsonl";
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeText(bytes: Buffer): string {
  return utf8.decode(bytes);
}

/** `[name, doc]` or `{name, doc}` → a document, or why not. */
export function asDocument(value: unknown): { name: string; doc: Record<string, unknown> } | string {
  let name: unknown;
  let doc: unknown;
  if (Array.isArray(value)) [name, doc] = value;
  else if (value !== null && typeof value === "object") ({ name, doc } = value as { name?: unknown; doc?: unknown });
  else return "expected a [name, doc] pair or a {name, doc} object";
  if (typeof name !== "string") return "document name is not a string";
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return `document '${name}' is not an object`;
  return { name, doc: doc as Record<string, unknown> };
}

function emitParsed(text: string, location: string, emit: (item: ReadItem) => void): void {
  let value: unknown;
  try {
    value = parsePythonJson(text);
  } catch (error) {
    emit({ type: "problem", location, reason: `not valid JSON: ${(error as Error).message.slice(0, 120)}` });
    return;
  }
  const doc = asDocument(value);
  if (typeof doc === "string") emit({ type: "problem", location, reason: doc });
  else emit({ type: "document", name: doc.name, doc: doc.doc, location });
}

async function readJsonLines(source: AsyncGenerator<Buffer>, emit: (item: ReadItem) => void, summary: ReadSummary, max: number): Promise<void> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let skipping = false;
  let line = 0;
  const finishLine = (tail: Buffer) => {
    line++;
    if (skipping) {
      emit({ type: "problem", location: `line ${line}`, reason: `line longer than ${max} bytes, skipped` });
      skipping = false;
      return;
    }
    const bytes = pending.length ? Buffer.concat([...pending, tail]) : tail;
    pending = [];
    pendingBytes = 0;
    let text: string;
    try {
      text = decodeText(bytes);
    } catch {
      emit({ type: "problem", location: `line ${line}`, reason: "not valid UTF-8 text" });
      return;
    }
    if (text.trim() === "") return;
    emitParsed(text, `line ${line}`, emit);
  };
  for await (const chunk of source) {
    summary.bytes += chunk.length;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      finishLine(chunk.subarray(start, nl));
      start = nl + 1;
    }
    const tail = chunk.subarray(start);
    if (tail.length === 0) continue;
    if (skipping) continue;
    pendingBytes += tail.length;
    if (pendingBytes > max) {
      skipping = true;
      pending = [];
      pendingBytes = 0;
    } else pending.push(Buffer.from(tail));
  }
  // No newline at the end: the writer may be in the middle of this line.
  if (pendingBytes > 0 || skipping) {
    const text = Buffer.concat(pending).toString("utf8");
    if (skipping || text.trim() !== "") summary.complete = false;
  }
}

/**
 * One JSON array, element by element: track depth and strings; an element ends at a `,` or `]` at depth 1.
 * An array that never closes (JSONWriter before the stop, or after a crash) keeps every complete element.
 */
async function readJsonArray(source: AsyncGenerator<Buffer>, emit: (item: ReadItem) => void, summary: ReadSummary, max: number): Promise<void> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let element: Buffer[] = [];
  let elementBytes = 0;
  let elementStartByte = 0;
  let closed = false;
  let index = 0;
  let tooLong = false;
  let offset = 0;
  const finish = () => {
    const bytes = Buffer.concat(element);
    element = [];
    elementBytes = 0;
    index++;
    const location = `element ${index} (byte ${elementStartByte})`;
    if (tooLong) {
      tooLong = false;
      emit({ type: "problem", location, reason: `element longer than ${max} bytes, skipped` });
      return;
    }
    let text: string;
    try {
      text = decodeText(bytes);
    } catch {
      emit({ type: "problem", location, reason: "not valid UTF-8 text" });
      return;
    }
    if (text.trim() === "") return;
    emitParsed(text, location, emit);
  };
  for await (const chunk of source) {
    summary.bytes += chunk.length;
    let segmentStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (closed) continue;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true;
        else if (c === 0x22) inString = false;
        continue;
      }
      if (c === 0x22) inString = true;
      else if (c === 0x5b || c === 0x7b) {
        depth++;
        if (depth === 1) {
          segmentStart = i + 1;
          elementStartByte = offset + i + 1;
        }
      } else if (c === 0x5d || c === 0x7d) {
        if (depth === 1) {
          append(chunk.subarray(segmentStart, i));
          finish();
          closed = true;
        }
        depth--;
      } else if (c === 0x2c && depth === 1) {
        append(chunk.subarray(segmentStart, i));
        finish();
        segmentStart = i + 1;
        elementStartByte = offset + i + 1;
      }
    }
    if (!closed && depth >= 1) append(chunk.subarray(segmentStart));
    offset += chunk.length;
  }
  if (!closed) {
    summary.complete = false;
  }

  function append(part: Buffer) {
    if (part.length === 0 || tooLong) return;
    elementBytes += part.length;
    if (elementBytes > max) {
      tooLong = true;
      element = [];
      return;
    }
    element.push(Buffer.from(part));
  }
}

async function readMsgpack(source: AsyncGenerator<Buffer>, emit: (item: ReadItem) => void, summary: ReadSummary): Promise<void> {
  let index = 0;
  const counted = (async function* () {
    for await (const chunk of source) {
      summary.bytes += chunk.length;
      yield chunk;
    }
  })();
  try {
    for await (const value of decodeMultiStream(counted)) {
      index++;
      const doc = asDocument(normalizeMsgpack(value));
      if (typeof doc === "string") emit({ type: "problem", location: `item ${index}`, reason: doc });
      else emit({ type: "document", name: doc.name, doc: doc.doc, location: `item ${index}` });
    }
  } catch (error) {
    const message = (error as Error).message;
    // Running out of bytes mid-item: the writer has not finished it yet.
    if (/insufficient data|unexpected end|out of range|outside the bounds/i.test(message)) {
      summary.complete = false;
      return;
    }
    throw new Error(`msgpack item ${index + 1}: ${message}`);
  }
}

/** Old writers send map keys as bytes; msgpack_numpy arrays (`nd: true`) are not catalog data. */
function normalizeMsgpack(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8");
  if (Array.isArray(value)) return value.map(normalizeMsgpack);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[k instanceof Uint8Array ? Buffer.from(k).toString("utf8") : String(k)] = normalizeMsgpack(v);
    return out;
  }
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (record.nd === true && "data" in record) return { ndarray: { type: record.type, shape: record.shape } };
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) out[k] = normalizeMsgpack(v);
    return out;
  }
  return value;
}
