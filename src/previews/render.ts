import type * as Vega from "vega";
import type * as VegaLite from "vega-lite";
import type * as ResvgModule from "@resvg/resvg-js";
import type { PreviewPlot } from "../mapping/preview.js";
import { frameCells, type FrameCells } from "./frame-cells.js";
import type { Frame } from "./zarr-frame.js";

/**
 * Previews as PNG data URIs: a Vega-Lite chart, rendered to SVG by Vega (no browser, no canvas) and rasterised by
 * resvg — a line plot of a run's signal, or a grayscale picture of an image series' first frame. The libraries
 * load on first use, so a daemon without previews never pays for them.
 */

type Libraries = { vega: typeof Vega; compile: typeof VegaLite.compile; Resvg: typeof ResvgModule.Resvg };
let libraries: Promise<Libraries> | undefined;

function load(): Promise<Libraries> {
  libraries ??= Promise.all([import("vega"), import("vega-lite"), import("@resvg/resvg-js")]).then(([vega, vegaLite, resvg]) => ({ vega, compile: vegaLite.compile, Resvg: resvg.Resvg }));
  return libraries;
}

async function toPng(spec: VegaLite.TopLevelSpec, width: number): Promise<string> {
  const { vega, compile, Resvg } = await load();
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { fitTo: { mode: "width", value: width }, background: "white" }).render().asPng();
  return `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
}

export async function renderPreview(plot: PreviewPlot, width: number, height: number): Promise<string> {
  return toPng(
    {
      width,
      height,
      autosize: { type: "fit", contains: "padding" },
      background: "white",
      title: { text: plot.title, fontSize: 11 },
      data: { values: plot.points.map(([x, y]) => ({ x, y })) },
      mark: { type: "line", point: plot.points.length <= 30 },
      encoding: {
        x: { field: "x", type: "quantitative", title: plot.xLabel, scale: { zero: false } },
        y: { field: "y", type: "quantitative", title: plot.yLabel, scale: { zero: false } },
      },
    },
    width,
  );
}

/** Room the title and the intensity legend take (pixels), so the picture keeps the frame's proportions. */
const TITLE_HEIGHT = 24;
const LEGEND_WIDTH = 64;

/**
 * A frame as a grayscale picture (black = low, white = high) with an intensity legend, drawn at the preview's
 * size with the frame's proportions: block averages on a grid of at most `frame-cells.ts` cells, the gray scale
 * spanning the 1st to the 99th percentile so that a few hot pixels do not turn the rest black.
 */
export async function renderFramePreview(frame: Frame, title: string, width: number, height: number): Promise<string> {
  const cells = frameCells(frame);
  return toPng(
    {
      width,
      height,
      autosize: { type: "fit", contains: "padding" },
      padding: framePadding(cells, width, height),
      background: "white",
      title: { text: title, fontSize: 11 },
      data: { values: cells.values },
      mark: { type: "rect", clip: true },
      encoding: {
        x: { field: "x", type: "quantitative", axis: null, scale: { domain: [0, cells.columns], nice: false, zero: false } },
        x2: { field: "x2" },
        y: { field: "y", type: "quantitative", axis: null, scale: { domain: [cells.rows, 0], nice: false, zero: false } },
        y2: { field: "y2" },
        color: { field: "v", type: "quantitative", title: null, scale: { domain: cells.range, range: ["black", "white"], clamp: true } },
      },
    },
    width,
  );
}

/** Padding that centres a picture of the frame's proportions in what the title and legend leave free. */
function framePadding(cells: FrameCells, width: number, height: number): { left: number; right: number; top: number; bottom: number } {
  const freeWidth = Math.max(1, width - LEGEND_WIDTH - 8);
  const freeHeight = Math.max(1, height - TITLE_HEIGHT - 8);
  const scale = Math.min(freeWidth / cells.columns, freeHeight / cells.rows);
  const spareX = Math.max(0, freeWidth - cells.columns * scale) / 2;
  const spareY = Math.max(0, freeHeight - cells.rows * scale) / 2;
  return { left: 4 + spareX, right: 4 + spareX, top: 4 + spareY, bottom: 4 + spareY };
}
