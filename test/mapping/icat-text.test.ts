import { describe, expect, it } from "vitest";
import { fitKey } from "../../src/mapping/icat/index.js";
import { fitsColumn, fitTail, fitText } from "../../src/mapping/icat/text.js";

/** Text that every database under ICAT stores (issue 20, point 3): bytes, not characters; no 4-byte characters. */
describe("ICAT text limits", () => {
  it("measures in UTF-8 bytes and refuses characters outside the Basic Multilingual Plane", () => {
    expect(fitsColumn("a".repeat(255), 255)).toBe(true);
    expect(fitsColumn("é".repeat(128), 255)).toBe(false);
    expect(fitsColumn("probe 🔬", 255)).toBe(false);
  });

  it("cuts free text at a character boundary within the byte limit and replaces 4-byte characters", () => {
    const cut = fitText("é".repeat(200), 255);
    expect(cut).toBe("é".repeat(127));
    expect(fitText("probe 🔬", 255)).toBe("probe \uFFFD");
    expect(fitText("plain", 255)).toBe("plain");
    expect(fitsColumn(fitText(`${"ö".repeat(3000)} 🧪`, 4000), 4000)).toBe(true);
  });

  it("keeps the end of a key, and distinct long keys stay distinct", () => {
    expect(fitTail("abcdé", 3)).toBe("dé");
    const a = fitKey(`${"ü".repeat(200)}/a.tif`, 255);
    const b = fitKey(`${"ü".repeat(200)}/b.tif`, 255);
    expect(fitsColumn(a, 255) && fitsColumn(b, 255)).toBe(true);
    expect(a).not.toBe(b);
    expect(a.endsWith("/a.tif")).toBe(true);
    expect(fitKey("short/name.tif", 255)).toBe("short/name.tif");
  });
});
