import QRCode from "qrcode";
import { qrPayload } from "../sources/registrations/qr-payload.js";
import type { Registration } from "../sources/registrations/types.js";

/**
 * What goes on a label sheet, and where (pure; the PDF and image writers draw it). One label per tray, each
 * followed by its specimens, then the specimens on no tray. Sizes are in PDF points (1/72 inch).
 */

const MM = 72 / 25.4;

export interface LabelStock {
  /** What to buy: the common stock whose layout this is. */
  name: string;
  paper: "A4" | "LETTER";
  pageWidth: number;
  pageHeight: number;
  columns: number;
  rows: number;
  labelWidth: number;
  labelHeight: number;
  left: number;
  top: number;
  pitchX: number;
  pitchY: number;
}

/** The two most common address-label stocks: 21 per A4 sheet (63.5 × 38.1 mm) and 30 per Letter sheet (2⅝ × 1 in). */
export const LABEL_STOCKS = {
  a4: {
    name: "A4, 3 × 7 labels of 63.5 × 38.1 mm (Avery L7160 and equivalents)",
    paper: "A4",
    pageWidth: 210 * MM,
    pageHeight: 297 * MM,
    columns: 3,
    rows: 7,
    labelWidth: 63.5 * MM,
    labelHeight: 38.1 * MM,
    left: 7.2 * MM,
    top: 15.15 * MM,
    pitchX: 66.04 * MM,
    pitchY: 38.1 * MM,
  },
  letter: {
    name: "US Letter, 3 × 10 labels of 2⅝ × 1 in (Avery 5160 and equivalents)",
    paper: "LETTER",
    pageWidth: 8.5 * 72,
    pageHeight: 11 * 72,
    columns: 3,
    rows: 10,
    labelWidth: 2.625 * 72,
    labelHeight: 72,
    left: 0.1875 * 72,
    top: 0.5 * 72,
    pitchX: 2.75 * 72,
    pitchY: 72,
  },
} as const satisfies Record<string, LabelStock>;

export type PaperName = keyof typeof LABEL_STOCKS;

export interface Label {
  kind: "tray" | "specimen";
  id: string;
  /** Human text: the tray's label or the specimen's name. */
  name: string;
  /** Where it belongs: the proposal, and a specimen's tray and slot. */
  detail: string;
  /** The QR code's text (sources/registrations/qr-payload.ts). */
  payload: string;
}

export function labelsOf(registration: Registration, facility: string): Label[] {
  const proposalId = registration.proposal.id;
  const specimen = (s: Registration["specimens"][number]): Label => ({
    kind: "specimen",
    id: s.id,
    name: s.name,
    detail: [proposalId, s.tray !== undefined ? `tray ${s.tray}` : undefined, s.slot !== undefined ? `slot ${s.slot}` : undefined].filter(Boolean).join(" · "),
    payload: qrPayload({ facility, proposalId, kind: "specimen", id: s.id }),
  });
  const out: Label[] = [];
  for (const tray of registration.trays) {
    const on = registration.specimens.filter((s) => s.tray === tray.id);
    out.push({
      kind: "tray",
      id: tray.id,
      name: tray.label ?? `Tray ${tray.id}`,
      detail: `${proposalId} · tray of ${on.length} specimen(s)`,
      payload: qrPayload({ facility, proposalId, kind: "tray", id: tray.id }),
    });
    out.push(...on.map(specimen));
  }
  out.push(...registration.specimens.filter((s) => s.tray === undefined).map(specimen));
  return out;
}

export interface PlacedLabel {
  label: Label;
  page: number;
  x: number;
  y: number;
  /** The QR code's square inside the label (its quiet zone included). */
  qr: { x: number; y: number; size: number };
  /** The text block beside it. */
  text: { x: number; y: number; width: number; height: number };
}

/** Labels in reading order, page after page. */
export function placeLabels(labels: Label[], stock: LabelStock): PlacedLabel[] {
  const perPage = stock.columns * stock.rows;
  const pad = Math.min(stock.labelHeight * 0.08, 4 * MM);
  return labels.map((label, i) => {
    const onPage = i % perPage;
    const x = stock.left + (onPage % stock.columns) * stock.pitchX;
    const y = stock.top + Math.floor(onPage / stock.columns) * stock.pitchY;
    const size = stock.labelHeight - 2 * pad;
    return {
      label,
      page: Math.floor(i / perPage),
      x,
      y,
      qr: { x: x + pad, y: y + pad, size },
      text: { x: x + pad + size + pad, y: y + pad, width: stock.labelWidth - size - 3 * pad, height: size },
    };
  });
}

/** The QR code as dark modules (row, column), with the quiet zone in modules around it that readers need. */
export interface QrMatrix {
  size: number;
  quiet: number;
  dark(row: number, column: number): boolean;
}

export function qrMatrix(payload: string): QrMatrix {
  // Level M: a label survives a scratch, and short payloads stay at version 2–3 (large modules on small labels).
  const code = QRCode.create(payload, { errorCorrectionLevel: "M" });
  return { size: code.modules.size, quiet: 2, dark: (r, c) => code.modules.get(r, c) === 1 };
}
