import { SERIES_MAX_EVENTS, type StreamSeries } from "../../model/types.js";
import type { DocumentName } from "./schemas.js";

/**
 * Gathers the documents of each run found in one file, keyed by the start uid from the content (never the
 * file name). Documents of several runs may be interleaved; descriptors, resources and datums are linked back
 * to their run through the uids they name.
 */

export interface FileReference {
  kind: "resource" | "stream_resource";
  uid: string;
  spec?: string | undefined;
  root?: string | undefined;
  resourcePath?: string | undefined;
  pathSemantics?: "posix" | "windows" | undefined;
  uri?: string | undefined;
  /** Datum indexes seen for sequence specs (NPY_SEQ…), to expand per-frame files. */
  datumIndexes: number[];
}

export interface AssembledStream {
  dataKeys: Record<string, Record<string, unknown>>;
  events: number;
  /** Smallest and largest finite number seen per scalar field. */
  ranges: Record<string, { min: number; max: number }>;
  /** The first events' values, when the assembler keeps series (previews). */
  series?: StreamSeries;
}

export interface AssembledRun {
  start: Record<string, unknown>;
  stop?: Record<string, unknown> | undefined;
  /** Stream name → its descriptors' data keys (several descriptors per stream allowed), events seen, value ranges. */
  streams: Map<string, AssembledStream>;
  references: FileReference[];
  /** Where the start document was (for messages). */
  location: string;
}

export class RunAssembler {
  /** `series`: keep the first events' values of each stream, for preview plots. */
  constructor(private readonly options: { series?: boolean } = {}) {}

  readonly runs = new Map<string, AssembledRun>();
  private readonly descriptorRun = new Map<string, { run: string; stream: string }>();
  private readonly resourceRun = new Map<string, FileReference>();
  private lastStart: string | undefined;
  /** Documents naming a run this file does not start (the start may be in another file, or the doc is stray). */
  readonly orphans: { location: string; reason: string }[] = [];

  add(name: DocumentName, doc: Record<string, unknown>, location: string): void {
    switch (name) {
      case "start": {
        const uid = String(doc.uid);
        if (this.runs.has(uid)) {
          this.orphans.push({ location, reason: `a second start document for run ${uid}; the first is kept` });
          return;
        }
        this.runs.set(uid, { start: doc, streams: new Map(), references: [], location });
        this.lastStart = uid;
        return;
      }
      case "descriptor": {
        const run = this.runFor(String(doc.run_start), location, "descriptor");
        if (!run) return;
        const stream = typeof doc.name === "string" && doc.name ? doc.name : "primary";
        const entry = run.streams.get(stream) ?? { dataKeys: {}, events: 0, ranges: {} };
        Object.assign(entry.dataKeys, doc.data_keys as Record<string, Record<string, unknown>>);
        run.streams.set(stream, entry);
        this.descriptorRun.set(String(doc.uid), { run: String(doc.run_start), stream });
        return;
      }
      case "event":
      case "event_page": {
        const link = this.descriptorRun.get(String(doc.descriptor));
        if (!link) {
          this.orphans.push({ location, reason: `${name} names descriptor ${String(doc.descriptor)}, which this file has not defined` });
          return;
        }
        const entry = this.runs.get(link.run)?.streams.get(link.stream);
        if (!entry) return;
        entry.events += name === "event" ? 1 : (doc.uid as unknown[]).length;
        widenRanges(entry.ranges, doc.data, name === "event_page");
        if (this.options.series) extendSeries((entry.series ??= { time: [], fields: {} }), doc, name === "event_page");
        return;
      }
      case "resource":
      case "stream_resource": {
        // run_start is optional on resources: fall back to the run whose start came last.
        const runUid = typeof doc.run_start === "string" && doc.run_start ? doc.run_start : this.lastStart;
        const run = runUid ? this.runFor(runUid, location, name) : undefined;
        if (!run) {
          if (!runUid) this.orphans.push({ location, reason: `${name} before any start document` });
          return;
        }
        const reference: FileReference = {
          kind: name,
          uid: String(doc.uid),
          spec: typeof doc.spec === "string" ? doc.spec : undefined,
          root: typeof doc.root === "string" ? doc.root : undefined,
          resourcePath: typeof doc.resource_path === "string" ? doc.resource_path : undefined,
          pathSemantics: doc.path_semantics === "windows" ? "windows" : "posix",
          uri: typeof doc.uri === "string" ? doc.uri : undefined,
          datumIndexes: [],
        };
        run.references.push(reference);
        this.resourceRun.set(reference.uid, reference);
        return;
      }
      case "datum":
      case "datum_page": {
        const reference = this.resourceRun.get(String(doc.resource));
        if (!reference) return;
        const kwargs = doc.datum_kwargs as Record<string, unknown>;
        const indexes = name === "datum" ? [kwargs.index] : Array.isArray(kwargs.index) ? kwargs.index : [];
        for (const i of indexes) if (typeof i === "number" && Number.isInteger(i) && reference.datumIndexes.length < 100_000) reference.datumIndexes.push(i);
        return;
      }
      case "stop": {
        const run = this.runFor(String(doc.run_start), location, "stop");
        if (run) {
          if (run.stop) this.orphans.push({ location, reason: `a second stop document for run ${String(doc.run_start)}; the first is kept` });
          else run.stop = doc;
        }
        return;
      }
      case "stream_datum":
        return;
    }
  }

  private runFor(uid: string, location: string, what: string): AssembledRun | undefined {
    const run = this.runs.get(uid);
    if (!run) this.orphans.push({ location, reason: `${what} for run ${uid}, whose start document is not in this file` });
    return run;
  }
}

/** Widen each numeric field's range by an event's values (an event page holds a list per field). */
function widenRanges(ranges: AssembledStream["ranges"], data: unknown, paged: boolean): void {
  if (data === null || typeof data !== "object") return;
  for (const [field, raw] of Object.entries(data as Record<string, unknown>)) {
    const values = paged ? (Array.isArray(raw) ? raw : []) : [raw];
    for (const value of values) {
      if (typeof value !== "number" || !Number.isFinite(value)) continue;
      const range = ranges[field];
      if (!range) ranges[field] = { min: value, max: value };
      else if (value < range.min) range.min = value;
      else if (value > range.max) range.max = value;
    }
  }
}

/** Append an event's (or a page's) time and numeric values, up to SERIES_MAX_EVENTS; NaN where a field is missing. */
function extendSeries(series: StreamSeries, doc: Record<string, unknown>, paged: boolean): void {
  const times = paged ? (Array.isArray(doc.time) ? (doc.time as unknown[]) : []) : [doc.time];
  const data = (doc.data ?? {}) as Record<string, unknown>;
  times.forEach((time, i) => {
    if (series.time.length >= SERIES_MAX_EVENTS) return;
    const index = series.time.length;
    series.time.push(typeof time === "number" ? time : Number.NaN);
    for (const [field, raw] of Object.entries(data)) {
      const value = paged ? (Array.isArray(raw) ? raw[i] : undefined) : raw;
      if (typeof value !== "number") continue;
      const values = (series.fields[field] ??= []);
      while (values.length < index) values.push(Number.NaN);
      values.push(value);
    }
  });
  for (const values of Object.values(series.fields)) while (values.length < series.time.length) values.push(Number.NaN);
}
