import fs from "node:fs";
import path from "node:path";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { LABEL_STOCKS } from "../../src/labels/layout.js";
import { runCli, tempDir, writeConfig } from "../support/cli.js";
import { crop, decode, rasterisePdf } from "./rasterise.js";

/**
 * Issue 14: the label sheet, printed as a PDF, rasterised the way a viewer draws it, and read back with a QR
 * decoder label by label: exactly the registered trays and specimens, each once, on the stock's labels.
 */

const dir = tempDir("labels");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const specimens = Array.from({ length: 26 }, (_, i) => `S-${String(i + 1).padStart(4, "0")}`);
const registration = [
  "proposal:",
  "  id: P-LBL-7",
  "  pi: { name: Ada Lovelace, email: ada@example.org }",
  "trays:",
  "  - { id: T1, label: Front tray }",
  "  - { id: T2 }",
  "samples:",
  ...specimens.map((id, i) => `  - { id: ${id}, name: "film ${i + 1} with a name long enough to be cut", ${i < 24 ? `tray: T${1 + Math.floor(i / 12)}, slot: ${(i % 12) + 1}` : ""} }`),
  "",
].join("\n");
const expected = [...["T1", "T2"].map((t) => `bsr:LAB-X/P-LBL-7/t/${t}`), ...specimens.map((s) => `bsr:LAB-X/P-LBL-7/s/${s}`)].sort();

fs.mkdirSync(path.join(dir, "DATA", "registrations"), { recursive: true });
fs.writeFileSync(path.join(dir, "DATA", "registrations", "p-lbl-7.yaml"), registration);
const configFile = writeConfig(dir, { dataRoot: path.join(dir, "DATA"), stateDir: path.join(dir, "state"), sources: { registrations: { enabled: true, facility: "LAB-X" } } });

describe("beamsync labels", () => {
  for (const paper of ["a4", "letter"] as const) {
    it(`writes a ${paper} sheet whose QR codes are exactly the registered trays and specimens`, async () => {
      const out = path.join(dir, `${paper}.pdf`);
      const r = await runCli(["labels", "--config", configFile, "--proposal", "P-LBL-7", "--out", out, "--paper", paper]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(out);
      const stock = LABEL_STOCKS[paper];
      const scale = 3;
      const pages = await rasterisePdf(fs.readFileSync(out), scale);
      expect(pages).toHaveLength(Math.ceil(28 / (stock.columns * stock.rows)));
      const found: string[] = [];
      for (const page of pages) {
        for (let row = 0; row < stock.rows; row++) {
          for (let column = 0; column < stock.columns; column++) {
            const cell = crop(page, (stock.left + column * stock.pitchX) * scale, (stock.top + row * stock.pitchY) * scale, stock.labelWidth * scale, stock.labelHeight * scale);
            const text = decode(cell);
            if (text !== undefined) found.push(text);
          }
        }
      }
      expect(found.sort()).toEqual(expected);
    });
  }

  it("writes one image per label: PNG QR codes that decode to their payload with text beside them, SVG with the id and name", async () => {
    const pngDir = path.join(dir, "png");
    expect((await runCli(["labels", "--config", configFile, "--proposal", "P-LBL-7", "--out", pngDir, "--format", "png"])).code).toBe(0);
    const decoded = fs.readdirSync(pngDir).map((name) => {
      const png = PNG.sync.read(fs.readFileSync(path.join(pngDir, name)));
      const image = { width: png.width, height: png.height, data: new Uint8ClampedArray(png.data) };
      // The QR code is the square on the left; the id and the name are drawn in the bands beside it.
      const qr = png.height;
      expect(png.width, name).toBeGreaterThan(2 * qr);
      expect(darkPixels(image, qr, 0, png.width - qr, qr / 4), `${name}: the id beside the QR code`).toBeGreaterThan(100);
      expect(darkPixels(image, qr, qr / 4, png.width - qr, qr / 4), `${name}: the name beside the QR code`).toBeGreaterThan(100);
      // Only the QR code decodes: the text does not disturb it.
      expect(decode(crop(image, 0, 0, qr, qr)), name).toBe(decode(image));
      return decode(image);
    });
    expect(decoded.sort()).toEqual(expected);
    // Text, not a smudge: two labels' id bands differ where their ids do.
    const band = (file: string) => {
      const png = PNG.sync.read(fs.readFileSync(path.join(pngDir, file)));
      return crop({ width: png.width, height: png.height, data: new Uint8ClampedArray(png.data) }, png.height, 0, png.width - png.height, png.height / 4).data;
    };
    expect(Buffer.from(band("specimen-S-0003.png")).equals(Buffer.from(band("specimen-S-0004.png")))).toBe(false);
    const svgDir = path.join(dir, "svg");
    expect((await runCli(["labels", "--config", configFile, "--proposal", "P-LBL-7", "--out", svgDir, "--format", "svg"])).code).toBe(0);
    expect(fs.readdirSync(svgDir)).toHaveLength(28);
    expect(fs.readFileSync(path.join(svgDir, "specimen-S-0003.svg"), "utf8")).toMatch(/S-0003<\/text>[\s\S]*film 3 with a name/);
  });

  it("names an unregistered proposal and exits 2", async () => {
    const r = await runCli(["labels", "--config", configFile, "--proposal", "P-NOPE", "--out", path.join(dir, "x.pdf")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("proposal P-NOPE is not registered");
  });
});

/** Pixels darker than mid-grey in a rectangle of an RGBA image. */
function darkPixels(image: { width: number; height: number; data: Uint8ClampedArray }, x: number, y: number, width: number, height: number): number {
  const cell = crop(image, x, y, width, height);
  let dark = 0;
  for (let i = 0; i < cell.data.length; i += 4) if ((cell.data[i] ?? 255) < 128) dark++;
  return dark;
}
