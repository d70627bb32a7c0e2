import type { Frame } from "./zarr-frame.js";

/**
 * A frame reduced to what a preview can show: block averages on a grid of at most MAX_CELLS cells along its
 * longer side (a 2048 × 2048 detector is 4 million pixels; a 320-pixel preview shows a few thousand), and the
 * intensity range to map to gray — the 1st to the 99th percentile of the cells, so hot pixels do not flatten it.
 */

export const MAX_CELLS = 80;
const SEAM_OVERLAP = 0.3;

export interface FrameCells {
  rows: number;
  columns: number;
  /** One per cell: its rectangle in frame pixels (a little wider, see SEAM_OVERLAP) and its mean over finite pixels (cells without one are left out). */
  values: { x: number; x2: number; y: number; y2: number; v: number }[];
  /** [low, high] of the gray scale; low < high. */
  range: [number, number];
}

export function frameCells(frame: Frame): FrameCells {
  const { rows, columns } = frame;
  const step = Math.max(1, Math.ceil(Math.max(rows, columns) / MAX_CELLS));
  const values: FrameCells["values"] = [];
  for (let y = 0; y < rows; y += step) {
    for (let x = 0; x < columns; x += step) {
      let sum = 0;
      let n = 0;
      for (let r = y; r < Math.min(rows, y + step); r++) {
        for (let c = x; c < Math.min(columns, x + step); c++) {
          const v = frame.values[r * columns + c] ?? Number.NaN;
          if (Number.isFinite(v)) {
            sum += v;
            n++;
          }
        }
      }
      // Each cell reaches a little into the next (drawn after it): antialiased edges would otherwise leave light seams.
      if (n > 0) values.push({ x, x2: Math.min(columns, x + step) + step * SEAM_OVERLAP, y, y2: Math.min(rows, y + step) + step * SEAM_OVERLAP, v: sum / n });
    }
  }
  return { rows, columns, values, range: grayRange(values.map((c) => c.v)) };
}

function grayRange(values: number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))] as number;
  let low = at(0.01);
  let high = at(0.99);
  if (!(high > low)) [low, high] = [sorted[0] as number, sorted[sorted.length - 1] as number];
  // A uniform frame (all equal, e.g. an all-zero frame zarr-python wrote no chunk for) draws as one mid gray.
  return high > low ? [low, high] : [low - 1, low + 1];
}
