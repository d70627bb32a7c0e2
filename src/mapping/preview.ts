import path from "node:path";
import type { ImageSeries, Run, StreamInfo } from "../model/types.js";

/**
 * What a run's preview shows (issue 17 item 4): for a run whose main data is an image series, its first frame;
 * otherwise its main signal against its scan axis — for NEXAFS the signal normalised by I0 against energy, for a
 * count the signal against time. Pure: chosen from the run's image series, stream series and data keys, so the
 * same run always gives the same preview (and record hash); the frame itself is read when the preview is drawn.
 */

export interface PreviewFrame {
  title: string;
  field: string;
  /** Absolute directory of the Zarr array. */
  arrayPath: string;
  frames: number;
  /** `[rows, columns]`. */
  shape: [number, number];
  dtype: string;
  /** Size and time of the first frame's chunk files: a frame written again is drawn again. */
  chunks: { path: string; size: number; mtimeMs: number }[];
}

/** The image series a preview shows: the one the run's data keys mark as a detector, else the first by name. */
export function previewFrame(run: Run, title: string): PreviewFrame | undefined {
  const images = run.images ?? [];
  const isDetector = (s: ImageSeries) => run.streams.some((stream) => stream.dataKeys[s.field]?.source === "detector");
  const series = images.find(isDetector) ?? images[0];
  if (!series) return undefined;
  // Chunks of frame 0: `c/0/…` (Zarr 3) or `0.…` / `0/…` (Zarr 2).
  const chunks = run.files
    .filter((f) => /^(c[/.])?0([/.]|$)/.test(path.relative(series.arrayPath, f.path).split(path.sep).join("/")) && f.path.startsWith(series.arrayPath + path.sep))
    .map((f) => ({ path: path.relative(series.arrayPath, f.path), size: f.size, mtimeMs: f.mtimeMs }));
  return { title, field: series.field, arrayPath: series.arrayPath, frames: series.frames, shape: series.shape, dtype: series.dtype, chunks };
}

export interface PreviewPlot {
  title: string;
  xLabel: string;
  yLabel: string;
  /** At most MAX_POINTS, in event order. */
  points: [number, number][];
}

const MAX_POINTS = 200;
/** Fields that are a motor's setpoint or a clock, never the signal. */
const NOT_A_SIGNAL = /(_setpoint|_user_setpoint|^clock$|^time$|^seq_num$|_time$|^exposure$)/i;
const I0 = /^i0$/i;

export function previewPlot(run: Run, title: string): PreviewPlot | undefined {
  const stream = run.streams.find((s) => s.name === "primary" && s.series) ?? run.streams.find((s) => s.series);
  const series = stream?.series;
  if (!stream || !series || series.time.length < 2) return undefined;
  const usable = Object.keys(series.fields).filter((f) => (series.fields[f] ?? []).filter(Number.isFinite).length >= 2);
  const axis = axisOf(run, stream, usable);
  const signal = signalOf(run, stream, usable, axis);
  if (!signal) return undefined;
  const i0 = usable.find((f) => I0.test(f) && f !== signal && f !== axis);
  const t0 = series.time.find(Number.isFinite) ?? 0;
  const xs = axis ? (series.fields[axis] as number[]) : series.time.map((t) => t - t0);
  const raw = series.fields[signal] as number[];
  const norm = i0 ? (series.fields[i0] as number[]) : undefined;
  const points: [number, number][] = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as number;
    const y = norm ? (raw[i] as number) / (norm[i] as number) : (raw[i] as number);
    if (Number.isFinite(x) && Number.isFinite(y)) points.push([x, y]);
  }
  if (points.length < 2) return undefined;
  const stride = Math.ceil(points.length / MAX_POINTS);
  return {
    title,
    xLabel: axis ? labelOf(stream, axis) : "time (s)",
    yLabel: i0 ? `${signal} / ${i0}` : labelOf(stream, signal),
    points: stride > 1 ? points.filter((_, i) => i % stride === 0) : points,
  };
}

/** The scan axis: the plan's hinted dimension or first motor (bluesky), an energy field, a motor (resonance); none: time. */
function axisOf(run: Run, stream: StreamInfo, usable: string[]): string | undefined {
  const hinted = (run.metadata.hints as { dimensions?: [string[], string][] } | undefined)?.dimensions?.[0]?.[0]?.[0];
  const motors = Array.isArray(run.metadata.motors) ? (run.metadata.motors as unknown[]).filter((m): m is string => typeof m === "string") : [];
  const candidates = [hinted, ...motors, usable.find((f) => /energy/i.test(f)), usable.find((f) => stream.dataKeys[f]?.source === "motor")];
  return candidates.find((f): f is string => typeof f === "string" && usable.includes(f) && varies(stream, f));
}

/** The main signal: a named detector, else a field the source marks as measured, else the first that varies. */
function signalOf(run: Run, stream: StreamInfo, usable: string[], axis: string | undefined): string | undefined {
  const candidates = usable.filter((f) => f !== axis && !NOT_A_SIGNAL.test(f) && stream.dataKeys[f]?.source !== "motor" && varies(stream, f));
  const detectors = Array.isArray(run.metadata.detectors) ? (run.metadata.detectors as unknown[]).filter((d): d is string => typeof d === "string") : [];
  const notI0 = candidates.filter((f) => !I0.test(f));
  return (
    notI0.find((f) => detectors.includes(f)) ??
    notI0.find((f) => ["ai", "detector"].includes(String(stream.dataKeys[f]?.source))) ??
    notI0[0] ??
    candidates[0]
  );
}

function varies(stream: StreamInfo, field: string): boolean {
  const values = (stream.series?.fields[field] ?? []).filter(Number.isFinite);
  return values.some((v) => v !== values[0]);
}

function labelOf(stream: StreamInfo, field: string): string {
  const units = stream.dataKeys[field]?.units;
  return typeof units === "string" && units.trim() !== "" ? `${field} (${units})` : field;
}
