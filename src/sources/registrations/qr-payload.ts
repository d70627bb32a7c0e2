import { REGISTERED_ID } from "./types.js";

/**
 * What a label's QR code holds: `bsr:<facility>/<proposal id>/s/<specimen id>` for a specimen and
 * `bsr:<facility>/<proposal id>/t/<tray id>` for a tray. Only registered ids go in (no date, no counter, no
 * hash), so a reprinted label holds the same text and a scanned one names its specimen without a look-up.
 * Ids hold no `/` (types.ts), so the text splits back without escapes.
 */

export type LabelKind = "specimen" | "tray";

export interface QrPayload {
  facility: string;
  proposalId: string;
  kind: LabelKind;
  id: string;
}

const PREFIX = "bsr:";
const KIND_CODE: Record<LabelKind, string> = { specimen: "s", tray: "t" };

export function qrPayload(p: QrPayload): string {
  return `${PREFIX}${p.facility}/${p.proposalId}/${KIND_CODE[p.kind]}/${p.id}`;
}

/** The parts of a scanned payload, or undefined when the text is not one of ours. */
export function parseQrPayload(text: string): QrPayload | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith(PREFIX)) return undefined;
  const parts = trimmed.slice(PREFIX.length).split("/");
  if (parts.length !== 4) return undefined;
  const [facility, proposalId, code, id] = parts as [string, string, string, string];
  const kind = code === "s" ? "specimen" : code === "t" ? "tray" : undefined;
  if (!kind || ![facility, proposalId, id].every((part) => REGISTERED_ID.test(part))) return undefined;
  return { facility, proposalId, kind, id };
}
