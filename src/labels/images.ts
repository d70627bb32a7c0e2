import fs from "node:fs";
import path from "node:path";
import { Resvg } from "@resvg/resvg-js";
import { qrMatrix, type Label } from "./layout.js";
import { outlineLine, type FontWeight } from "./outline-text.js";

/**
 * One image per label, for label printers and documents, named by the id: the QR code with the id, name and
 * place beside it. The SVG keeps its text as `<text>` (searchable, editable); the PNG is that drawing
 * rasterised by resvg, with the text as outlines of a font shipped in an npm package (outline-text.ts), so it
 * looks the same on a host without fonts.
 */

export function labelFileName(label: Label, format: "png" | "svg"): string {
  return `${label.kind}-${label.id.replace(/[^A-Za-z0-9._-]/g, "_")}.${format}`;
}

export async function writeLabelImages(labels: Label[], dir: string, format: "png" | "svg"): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const label of labels) {
    const file = path.join(dir, labelFileName(label, format));
    await fs.promises.writeFile(file, format === "png" ? labelPng(label) : labelSvg(label));
    written.push(file);
  }
  return written;
}

/** Pixels per SVG unit of the PNG: QR modules of 12 px, which a phone or a decoder reads at once. */
const PNG_ZOOM = 3;

export function labelPng(label: Label): Buffer {
  const png = new Resvg(labelSvg(label, "outlines"), { fitTo: { mode: "zoom", value: PNG_ZOOM }, background: "white", font: { loadSystemFonts: false } }).render().asPng();
  return Buffer.from(png);
}

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Size of one QR module, and the width of the text block beside the code, in SVG units. */
const UNIT = 4;
const TEXT_WIDTH = 260;

interface LabelText {
  text: string;
  weight: FontWeight;
  size: number;
  y: number;
  fill: string;
}

/** The id (bold), the name, and where it belongs (small, grey at the foot), beside a QR code `qr` units high. */
export function labelTextLines(label: Label, qr: number): LabelText[] {
  return [
    { text: label.id, weight: "bold", size: 18, y: UNIT * 6, fill: "#000" },
    { text: label.name, weight: "regular", size: 14, y: UNIT * 12, fill: "#000" },
    { text: label.detail, weight: "regular", size: 11, y: qr - UNIT * 3, fill: "#333" },
  ];
}

/** The label as SVG; `outlines` draws the text as glyph outlines instead of `<text>` (for rasterising). */
export function labelSvg(label: Label, text: "text" | "outlines" = "text"): string {
  const m = qrMatrix(label.payload);
  const qr = (m.size + 2 * m.quiet) * UNIT;
  const width = qr + TEXT_WIDTH;
  const squares: string[] = [];
  for (let r = 0; r < m.size; r++) {
    for (let c = 0; c < m.size; c++) if (m.dark(r, c)) squares.push(`M${(c + m.quiet) * UNIT} ${(r + m.quiet) * UNIT}h${UNIT}v${UNIT}h-${UNIT}z`);
  }
  const x = qr + 4;
  const lines = labelTextLines(label, qr).map((line) =>
    text === "outlines"
      ? outlineLine({ ...line, x, maxWidth: TEXT_WIDTH - 8 }, line.fill)
      : `<text x="${x}" y="${line.y}" font-family="Roboto, Helvetica, Arial, sans-serif" font-size="${line.size}"${line.weight === "bold" ? ` font-weight="bold"` : ""}${line.fill !== "#000" ? ` fill="${line.fill}"` : ""}>${escapeXml(line.text)}</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${qr}" viewBox="0 0 ${width} ${qr}">`,
    `<rect width="${width}" height="${qr}" fill="#fff"/>`,
    `<path fill="#000" shape-rendering="crispEdges" d="${squares.join("")}"/>`,
    ...lines,
    `</svg>`,
    "",
  ].join("\n");
}
