import fs from "node:fs";
import path from "node:path";
import QRCode from "qrcode";
import { qrMatrix, type Label } from "./layout.js";

/**
 * One image per label, for label printers and documents: SVG with the QR code and the id, name and place as
 * text; PNG with the QR code alone (a raster of text would need fonts beamsync does not ship), named by the id.
 */

export function labelFileName(label: Label, format: "png" | "svg"): string {
  return `${label.kind}-${label.id.replace(/[^A-Za-z0-9._-]/g, "_")}.${format}`;
}

export async function writeLabelImages(labels: Label[], dir: string, format: "png" | "svg"): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const label of labels) {
    const file = path.join(dir, labelFileName(label, format));
    if (format === "png") await QRCode.toFile(file, label.payload, { type: "png", errorCorrectionLevel: "M", margin: 4, scale: 10 });
    else fs.writeFileSync(file, labelSvg(label));
    written.push(file);
  }
  return written;
}

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function labelSvg(label: Label): string {
  const m = qrMatrix(label.payload);
  const unit = 4;
  const qr = (m.size + 2 * m.quiet) * unit;
  const width = qr + 260;
  const squares: string[] = [];
  for (let r = 0; r < m.size; r++) {
    for (let c = 0; c < m.size; c++) if (m.dark(r, c)) squares.push(`M${(c + m.quiet) * unit} ${(r + m.quiet) * unit}h${unit}v${unit}h-${unit}z`);
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${qr}" viewBox="0 0 ${width} ${qr}">`,
    `<rect width="${width}" height="${qr}" fill="#fff"/>`,
    `<path fill="#000" shape-rendering="crispEdges" d="${squares.join("")}"/>`,
    `<text x="${qr + 4}" y="${unit * 6}" font-family="Helvetica, Arial, sans-serif" font-size="18" font-weight="bold">${escapeXml(label.id)}</text>`,
    `<text x="${qr + 4}" y="${unit * 12}" font-family="Helvetica, Arial, sans-serif" font-size="14">${escapeXml(label.name)}</text>`,
    `<text x="${qr + 4}" y="${qr - unit * 3}" font-family="Helvetica, Arial, sans-serif" font-size="11" fill="#333">${escapeXml(label.detail)}</text>`,
    `</svg>`,
    "",
  ].join("\n");
}
