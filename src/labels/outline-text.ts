import fs from "node:fs";
import { createRequire } from "node:module";
import * as fontkit from "fontkit";

/**
 * Label text as SVG outlines, for the PNG labels: resvg draws outlines the same everywhere, whereas `<text>`
 * depends on the fonts the host has installed (a minimal container has none). The font is Roboto from the
 * @fontsource/roboto npm package (OFL-1.1), Latin subset: a character outside it is drawn as the font's
 * missing-glyph box.
 */

export type FontWeight = "regular" | "bold";

const FONT_FILES: Record<FontWeight, string> = {
  regular: "@fontsource/roboto/files/roboto-latin-400-normal.woff",
  bold: "@fontsource/roboto/files/roboto-latin-700-normal.woff",
};

const fonts = new Map<FontWeight, fontkit.Font>();

function font(weight: FontWeight): fontkit.Font {
  let loaded = fonts.get(weight);
  if (!loaded) {
    const file = createRequire(import.meta.url).resolve(FONT_FILES[weight]);
    loaded = fontkit.create(fs.readFileSync(file));
    fonts.set(weight, loaded);
  }
  return loaded;
}

export interface TextLine {
  text: string;
  weight: FontWeight;
  /** Font size in pixels. */
  size: number;
  /** Left end of the baseline. */
  x: number;
  y: number;
  /** Widest the line may be: longer text is cut and ends in "…". */
  maxWidth: number;
}

/** Width of `text` in pixels at `size`. */
export function textWidth(text: string, weight: FontWeight, size: number): number {
  const f = font(weight);
  return (f.layout(text).advanceWidth * size) / f.unitsPerEm;
}

/** The longest start of `text` that fits `maxWidth` (with "…" when cut). */
export function fitLine(text: string, weight: FontWeight, size: number, maxWidth: number): string {
  if (textWidth(text, weight, size) <= maxWidth) return text;
  const chars = [...text];
  let low = 0;
  let high = chars.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (textWidth(`${chars.slice(0, mid).join("").trimEnd()}…`, weight, size) <= maxWidth) low = mid;
    else high = mid - 1;
  }
  return low === 0 ? "" : `${chars.slice(0, low).join("").trimEnd()}…`;
}

/** One `<path>` per glyph of the line, placed and scaled (font units have y up; SVG has y down). */
export function outlineLine(line: TextLine, fill: string): string {
  const f = font(line.weight);
  const scale = line.size / f.unitsPerEm;
  const run = f.layout(fitLine(line.text, line.weight, line.size, line.maxWidth));
  const paths: string[] = [];
  let pen = 0;
  run.glyphs.forEach((glyph, i) => {
    const position = run.positions[i];
    const d = glyph.path.toSVG();
    const x = line.x + (pen + (position?.xOffset ?? 0)) * scale;
    const y = line.y - (position?.yOffset ?? 0) * scale;
    if (d !== "") paths.push(`<path transform="translate(${round(x)} ${round(y)}) scale(${round(scale)} ${round(-scale)})" d="${d}"/>`);
    pen += position?.xAdvance ?? 0;
  });
  return `<g fill="${fill}">${paths.join("")}</g>`;
}

function round(n: number): string {
  return String(Math.round(n * 10000) / 10000);
}
