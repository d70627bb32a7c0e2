// fontkit ships no types; these are the parts beamsync uses to turn label text into outlines.
declare module "fontkit" {
  export interface Path {
    /** The outline as SVG path data, in font units with y pointing up. */
    toSVG(): string;
  }
  export interface Glyph {
    id: number;
    path: Path;
  }
  export interface GlyphPosition {
    xAdvance: number;
    yAdvance: number;
    xOffset: number;
    yOffset: number;
  }
  export interface GlyphRun {
    glyphs: Glyph[];
    positions: GlyphPosition[];
    advanceWidth: number;
  }
  export interface Font {
    unitsPerEm: number;
    familyName: string;
    layout(text: string): GlyphRun;
  }
  export function create(buffer: Buffer | Uint8Array): Font;
}
