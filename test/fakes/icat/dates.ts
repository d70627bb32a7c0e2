/**
 * ICAT's date handling: input through a lenient Java SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
 * (icat-api.md §4), output in the same pattern in the server's zone.
 */

// SimpleDateFormat.parse(String) reads a prefix: trailing text is ignored. Numeric fields take any number of
// digits; the millisecond field is a count of milliseconds (".5" = 5 ms, ".123456" = 123456 ms).
const INPUT = /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)(Z|[+-]\d{2}:\d{2})/;

/** Milliseconds since the epoch, or undefined when the server would answer "Badly formatted date". */
export function parseIcatDate(text: string): number | undefined {
  const m = INPUT.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second, millis] = m.slice(1, 8).map(Number) as number[];
  const zone = m[8] ?? "Z";
  const date = new Date(0);
  // Date setters roll over out-of-range fields exactly like a lenient Calendar.
  date.setUTCFullYear(year ?? 0, (month ?? 1) - 1, day ?? 1);
  date.setUTCHours(hour ?? 0, minute ?? 0, second ?? 0, millis ?? 0);
  const ms = date.getTime() - zoneOffsetMinutes(zone) * 60_000;
  return Number.isFinite(ms) ? ms : undefined;
}

function zoneOffsetMinutes(zone: string): number {
  if (zone === "Z") return 0;
  const sign = zone.startsWith("-") ? -1 : 1;
  const [h, m] = zone.slice(1).split(":").map(Number) as [number, number];
  return sign * (h * 60 + m);
}

/** `yyyy-MM-dd'T'HH:mm:ss.SSSXXX` in a fixed-offset zone ("Z" for offset 0, as XXX prints it). */
export function formatIcatDate(ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 23);
  if (offsetMinutes === 0) return `${local}Z`;
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** JPQL timestamp literal body `yyyy-MM-dd HH:mm:ss`, read in the server's zone. */
export function parseTimestampLiteral(body: string, offsetMinutes: number): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(body.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as number[];
  return Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0) - offsetMinutes * 60_000;
}
