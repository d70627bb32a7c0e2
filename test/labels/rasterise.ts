import { DOMMatrix, ImageData, Path2D, createCanvas } from "@napi-rs/canvas";
import jsQRModule from "jsqr";

// pdf.js draws with the browser's Path2D, DOMMatrix and ImageData: give it the canvas package's own, so the paths
// it builds are ones that canvas can fill.
Object.assign(globalThis, { Path2D, DOMMatrix, ImageData });
const { getDocument } = await import("pdfjs-dist/legacy/build/pdf.mjs");
// jsqr is CommonJS: its function is the module, or its `default` as TypeScript sees it.
type JsQr = typeof jsQRModule.default;
const jsQR: JsQr = (jsQRModule as unknown as { default?: JsQr }).default ?? (jsQRModule as unknown as JsQr);

/** A PDF's pages as RGBA pixels (pdf.js drawing on a canvas, as a viewer or a print driver would). */
export async function rasterisePdf(pdf: Buffer, scale: number): Promise<{ width: number; height: number; data: Uint8ClampedArray }[]> {
  const doc = await getDocument({ data: new Uint8Array(pdf), isEvalSupported: false, disableFontFace: true, verbosity: 0 }).promise;
  const pages = [];
  for (let n = 1; n <= doc.numPages; n++) {
    const page = await doc.getPage(n);
    const viewport = page.getViewport({ scale });
    const canvas = createCanvas(Math.ceil(viewport.width), Math.ceil(viewport.height));
    const context = canvas.getContext("2d");
    context.fillStyle = "#fff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    // pdf.js asks for the canvas it draws on; @napi-rs/canvas has the 2D API it uses.
    type Render = Parameters<typeof page.render>[0];
    await page.render({ canvas: canvas as unknown as Render["canvas"], canvasContext: context as unknown as Render["canvasContext"], viewport }).promise;
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    pages.push({ width: canvas.width, height: canvas.height, data: new Uint8ClampedArray(image.data) });
  }
  await doc.destroy();
  return pages;
}

/** The pixels of one rectangle of a page (points × scale), for a reader that expects one code per image. */
export function crop(page: { width: number; height: number; data: Uint8ClampedArray }, x: number, y: number, w: number, h: number): { width: number; height: number; data: Uint8ClampedArray } {
  const [x0, y0] = [Math.max(0, Math.floor(x)), Math.max(0, Math.floor(y))];
  const [width, height] = [Math.min(page.width - x0, Math.ceil(w)), Math.min(page.height - y0, Math.ceil(h))];
  const data = new Uint8ClampedArray(width * height * 4);
  for (let row = 0; row < height; row++) data.set(page.data.subarray(((row + y0) * page.width + x0) * 4, ((row + y0) * page.width + x0 + width) * 4), row * width * 4);
  return { width, height, data };
}

/** The QR code in an image, if there is one. */
export function decode(image: { width: number; height: number; data: Uint8ClampedArray }): string | undefined {
  return jsQR(image.data, image.width, image.height)?.data;
}
