import PDFDocument from "pdfkit";
import { placeLabels, qrMatrix, type Label, type LabelStock, type PlacedLabel } from "./layout.js";

/**
 * The printable sheet: labels placed on the stock's grid, each with its QR code drawn as vector squares (sharp at
 * any printer resolution) and its id, name and place in text. No label outlines: the stock is pre-cut.
 */
export function labelSheetPdf(labels: Label[], stock: LabelStock, title: string): Promise<Buffer> {
  const doc = new PDFDocument({ size: [stock.pageWidth, stock.pageHeight], margin: 0, autoFirstPage: false, info: { Title: title, Creator: "beamsync labels" } });
  const chunks: Buffer[] = [];
  doc.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });
  let page = -1;
  for (const placed of placeLabels(labels, stock)) {
    while (page < placed.page) {
      doc.addPage({ size: [stock.pageWidth, stock.pageHeight], margin: 0 });
      page++;
    }
    drawLabel(doc, placed);
  }
  if (page < 0) doc.addPage({ size: [stock.pageWidth, stock.pageHeight], margin: 0 });
  doc.end();
  return done;
}

function drawLabel(doc: PDFKit.PDFDocument, placed: PlacedLabel): void {
  const m = qrMatrix(placed.label.payload);
  const module = placed.qr.size / (m.size + 2 * m.quiet);
  for (let r = 0; r < m.size; r++) {
    for (let c = 0; c < m.size; c++) {
      // A hair over one module wide, so neighbouring squares leave no white seam when rasterised.
      if (m.dark(r, c)) doc.rect(placed.qr.x + (c + m.quiet) * module, placed.qr.y + (r + m.quiet) * module, module + 0.05, module + 0.05);
    }
  }
  doc.fill("black");
  const { x, y, width, height } = placed.text;
  const scale = Math.min(1, height / 90);
  const options = { width, lineBreak: false, ellipsis: true };
  doc.font("Helvetica-Bold").fontSize(11 * scale).text(placed.label.id, x, y + 2 * scale, options);
  doc.font("Helvetica").fontSize(8.5 * scale).text(placed.label.name, x, y + 18 * scale, { ...options, height: 22 * scale, lineBreak: true });
  doc.fontSize(7 * scale).fillColor("#333333").text(placed.label.detail, x, y + height - 16 * scale, { ...options, height: 16 * scale, lineBreak: true }).fillColor("black");
}
