/**
 * Text that every database under ICAT can store (issue 20): ICAT checks string lengths in characters, but
 * Oracle's VARCHAR2 counts bytes and MySQL's utf8 charset refuses characters outside the Basic Multilingual
 * Plane (emoji, rare CJK). A value that does not fit fails only at the database, where the server reports it
 * as a misleading OBJECT_ALREADY_EXISTS or an INTERNAL error, so the mapping makes free text fit first.
 */

const ASTRAL = /[\u{10000}-\u{10FFFF}]/gu;

/** Does `text` fit a column of `length` on every database (bytes, no 4-byte characters)? */
export function fitsColumn(text: string, length: number): boolean {
  return !/[\u{10000}-\u{10FFFF}]/u.test(text) && Buffer.byteLength(text, "utf8") <= length;
}

/** 4-byte characters become U+FFFD, then the text is cut at a character boundary to at most `length` bytes. */
export function fitText(text: string, length: number): string {
  const plain = text.replace(ASTRAL, "\uFFFD");
  if (Buffer.byteLength(plain, "utf8") <= length) return plain;
  let bytes = 0;
  let out = "";
  for (const ch of plain) {
    bytes += Buffer.byteLength(ch, "utf8");
    if (bytes > length) break;
    out += ch;
  }
  return out;
}

/** The end of `text` that fits `length` bytes on every database (for keys whose end is the distinctive part). */
export function fitTail(text: string, length: number): string {
  const chars = [...text.replace(ASTRAL, "\uFFFD")];
  let bytes = 0;
  let start = chars.length;
  while (start > 0) {
    const next = Buffer.byteLength(chars[start - 1] ?? "", "utf8");
    if (bytes + next > length) break;
    bytes += next;
    start--;
  }
  return chars.slice(start).join("");
}
