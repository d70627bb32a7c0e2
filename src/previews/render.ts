import type * as Vega from "vega";
import type * as VegaLite from "vega-lite";
import type * as ResvgModule from "@resvg/resvg-js";
import type { PreviewPlot } from "../mapping/preview.js";

/**
 * A preview plot as a PNG data URI: a Vega-Lite line chart, rendered to SVG by Vega (no browser, no canvas) and
 * rasterised by resvg. The libraries load on first use, so a daemon without previews never pays for them.
 */

type Libraries = { vega: typeof Vega; compile: typeof VegaLite.compile; Resvg: typeof ResvgModule.Resvg };
let libraries: Promise<Libraries> | undefined;

function load(): Promise<Libraries> {
  libraries ??= Promise.all([import("vega"), import("vega-lite"), import("@resvg/resvg-js")]).then(([vega, vegaLite, resvg]) => ({ vega, compile: vegaLite.compile, Resvg: resvg.Resvg }));
  return libraries;
}

export async function renderPreview(plot: PreviewPlot, width: number, height: number): Promise<string> {
  const { vega, compile, Resvg } = await load();
  const spec = compile({
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
  }).spec;
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { fitTo: { mode: "width", value: width }, background: "white" }).render().asPng();
  return `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
}
